// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup_fuzz: every /dev/rust_gup ioctl with random and edge-case
 * arguments, from several threads, while another thread munmaps, remaps,
 * mprotects, MADV_DONTNEEDs, forks over the same buffers and closes and
 * reopens the same files. Bounded by a call count and a time limit, with
 * a fixed seed by default, so a failure can be replayed.
 *
 * It passes if every call returns (success or an error), and afterwards,
 * with every file closed, the module holds no set and no mirror. The harness checks that
 * the FOLL_PIN counters are balanced and the kernel logged no splat.
 *
 *   rust_gup_fuzz [-s SEED] [-n CALLS] [-j THREADS] [-T SECONDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "kselftest.h"

#define NR_BUFS 6
#define BUF_PAGES 512		/* 2 MiB each */
#define NR_FDS 4

/* An argument pointer the process cannot use (see rust_gup_pin.c). */
#ifdef __i386__
#define BAD_POINTER	0xffffe000ul
#else
#define BAD_POINTER	0xffff888000001000ul
#endif

static long page;
static size_t buf_size;
static char *bufs[NR_BUFS];	/* fixed addresses; the chaos thread remaps in place */
static int fds[NR_FDS];
static atomic_long calls, errors, remaps;
static atomic_long tried[0x50], succeeded[0x50];	/* per command number */
static atomic_uint recent_ids[16];	/* ids that PIN, MIRROR and DMA_MAP returned */
static struct {				/* mirrors made lately; fields may mismatch */
	atomic_uint id;
	atomic_ulong addr, pages;
} recent_mirrors[8];
static atomic_int stop;
static long max_calls = 100000;
static time_t deadline;

struct rng {
	__u64 s;
};

static __u64 next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static __u64 pick(struct rng *r, __u64 n)
{
	return next(r) % n;
}

/* An address: usually inside a buffer, sometimes anything but. */
static __u64 fuzz_addr(struct rng *r)
{
	static const __u64 odd[] = {
		0, 4096, -4096ull, 0xffff888000000000ull, 0x00fffffffffff000ull, 0x7ffffffff000ull, 1,
		0xffffd000ull, 1ull << 32,	/* past a 32-bit process's TASK_SIZE */
	};

	if (pick(r, 8) == 0)
		return odd[pick(r, sizeof(odd) / sizeof(odd[0]))];
	return (uintptr_t)bufs[pick(r, NR_BUFS)] + pick(r, BUF_PAGES + 8) * page +
	       (pick(r, 16) == 0 ? pick(r, page) : 0);
}

static __u64 fuzz_size(struct rng *r)
{
	static const __u64 odd[] = { 0, 1, 4095, 1ull << 34, 1ull << 40, -4096ull, -1ull };

	if (pick(r, 8) == 0)
		return odd[pick(r, sizeof(odd) / sizeof(odd[0]))];
	return (1 + pick(r, BUF_PAGES)) * page;
}

static __u32 fuzz_flags(struct rng *r, __u32 known)
{
	switch (pick(r, 4)) {
	case 0: return (__u32)next(r);
	case 1: return 0;
	default: return (__u32)next(r) & known;
	}
}

/* A set or mirror id: mostly one handed out lately, on any of the files. */
static __u32 fuzz_id(struct rng *r)
{
	if (pick(r, 4))
		return atomic_load(&recent_ids[pick(r, 16)]);
	return pick(r, 70);
}

/*
 * A pid for RUST_GUP_F_PID: none, the fuzzer itself, one of its threads
 * (which names nothing), kthreadd (a kernel thread), or anything. Never
 * another process: a set of its pages could be written through ACCESS.
 */
static __u32 fuzz_pid(struct rng *r)
{
	switch (pick(r, 8)) {
	case 0: return getpid();
	case 1: return gettid();
	case 2: return 2;
	case 3: return (__u32)next(r) | 1u << 30;	/* above PID_MAX_LIMIT */
	default: return 0;
	}
}

/* A client PCI function: the test VM's NVMe controllers (00:04.0,
 * 00:05.0), other functions of its root bus, or anything. */
static __u32 fuzz_client(struct rng *r)
{
	if (pick(r, 4))
		return RUST_GUP_PCI_ID(0, 0, pick(r, 2) ? 0x20 : 0x28);
	return pick(r, 2) ? RUST_GUP_PCI_ID(0, 0, pick(r, 0x40)) : (__u32)next(r);
}

/* The argument pointer: usually the struct, sometimes NULL or bad. */
static void *fuzz_arg(struct rng *r, void *good)
{
	switch (pick(r, 32)) {
	case 0: return NULL;
	case 1: return (void *)BAD_POINTER;
	case 2: return bufs[pick(r, NR_BUFS)];	/* may be PROT_NONE or unmapped */
	default: return good;
	}
}

static void one_call(struct rng *r)
{
	union {
		struct gup_test gup;
		struct pin_longterm_test lt;
		struct rust_gup_bench bench;
		struct rust_gup_pin pin;
		struct rust_gup_query query;
		struct rust_gup_stats stats;
		struct rust_gup_version version;
		struct rust_gup_mirror mirror;
		struct rust_gup_mirror_read mirror_read;
		struct rust_gup_mirror_access access;
		struct rust_gup_dma_map dma;
		struct rust_gup_dma_segments segs;
		struct rust_gup_access set_access;
		__u64 u64;
		__u32 u32;
		char bytes[256];
	} u;
	static const unsigned long cmds[] = {
		GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK, GUP_BASIC_TEST,
		PIN_BASIC_TEST, DUMP_USER_PAGES_TEST, PIN_LONGTERM_TEST_START,
		PIN_LONGTERM_TEST_STOP, PIN_LONGTERM_TEST_READ, RUST_GUP_IOC_VERSION,
		RUST_GUP_IOC_STATS, RUST_GUP_IOC_BENCH, RUST_GUP_IOC_PIN, RUST_GUP_IOC_UNPIN,
		RUST_GUP_IOC_QUERY, RUST_GUP_IOC_PIN, RUST_GUP_IOC_PIN, RUST_GUP_IOC_UNPIN,
		RUST_GUP_IOC_MIRROR, RUST_GUP_IOC_MIRROR_FAULT, RUST_GUP_IOC_MIRROR_READ,
		RUST_GUP_IOC_MIRROR_ACCESS, RUST_GUP_IOC_MIRROR_DROP, RUST_GUP_IOC_DMA_MAP,
		RUST_GUP_IOC_DMA_SEGMENTS, RUST_GUP_IOC_DMA_MAP, RUST_GUP_IOC_ACCESS,
		RUST_GUP_IOC_MIRROR, RUST_GUP_IOC_MIRROR_DMA,
	};
	unsigned long cmd = cmds[pick(r, sizeof(cmds) / sizeof(cmds[0]))];
	int fd = fds[pick(r, NR_FDS)], nr;
	void *arg;

	for (size_t i = 0; i < sizeof(u) / sizeof(unsigned long); i++)
		((unsigned long *)&u)[i] = next(r);
	if (pick(r, 64) == 0)
		cmd = (__u32)next(r);	/* anything at all */
	nr = _IOC_TYPE(cmd) == 'g' && _IOC_NR(cmd) < 0x50 ? _IOC_NR(cmd) : 0;

	switch (_IOC_NR(cmd)) {
	case 1 ... 6:
		u.gup = (struct gup_test) {
			.addr = fuzz_addr(r), .size = fuzz_size(r),
			.nr_pages_per_call = pick(r, 4) ? 1 + pick(r, 600) : (__u32)next(r),
			.gup_flags = fuzz_flags(r, 0x50b), .test_flags = fuzz_flags(r, 1),
		};
		for (int i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
			u.gup.which_pages[i] = pick(r, 4) ? 0 : (__u32)pick(r, BUF_PAGES + 4);
		break;
	case 7:
		u.lt = (struct pin_longterm_test) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .flags = fuzz_flags(r, 3),
		};
		break;
	case 9:	/* READ copies whole pages: only ever into a buffer */
		u.u64 = (uintptr_t)bufs[pick(r, NR_BUFS)];
		break;
	case 0x42:
		u.bench = (struct rust_gup_bench) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, 10),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL), .nr_pages_per_call = pick(r, 600),
			.reserved = pick(r, 16) == 0,
		};
		break;
	case 0x43:
		u.pin = (struct rust_gup_pin) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, 10),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL), .pid = fuzz_pid(r),
		};
		break;
	case 0x44:
		u.u32 = fuzz_id(r);
		break;
	case 0x45:
		u.query = (struct rust_gup_query) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.pages = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x46 ... 0x47:
		u.mirror = (struct rust_gup_mirror) {
			.addr = fuzz_addr(r), .size = fuzz_size(r),
			.flags = fuzz_flags(r, RUST_GUP_MIRROR_F_ALL),
			.id = _IOC_NR(cmd) == 0x47 || pick(r, 16) == 0 ? fuzz_id(r) : 0,
		};
		/* Mapped for a device: mostly one of the NVMe controllers. */
		if (u.mirror.flags & RUST_GUP_MIRROR_F_DMA || pick(r, 16) == 0)
			u.mirror.client = fuzz_client(r);
		if (_IOC_NR(cmd) == 0x47 && pick(r, 4)) {
			/* Mostly part of a mirror made lately. */
			int m = pick(r, 8);
			unsigned long pages = atomic_load(&recent_mirrors[m].pages), first;

			first = pick(r, pages + 1);
			u.mirror.id = atomic_load(&recent_mirrors[m].id);
			u.mirror.addr = atomic_load(&recent_mirrors[m].addr) + first * page;
			u.mirror.size = (pick(r, pages - first + 1) + !pick(r, 8)) * page;
		}
		break;
	case 0x48:
	case 0x4e:
		u.mirror_read = (struct rust_gup_mirror_read) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.entries = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x49: {
		int m = pick(r, 8);

		u.access = (struct rust_gup_mirror_access) {
			.id = fuzz_id(r), .flags = fuzz_flags(r, RUST_GUP_MIRROR_ACCESS_WRITE),
			.addr = fuzz_addr(r) + (pick(r, 4) ? 0 : pick(r, page)),
			.len = pick(r, 8) ? pick(r, 2 * page) : fuzz_size(r),
			.buf = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		if (pick(r, 2)) {
			/* Mostly inside a mirror made lately. */
			u.access.id = atomic_load(&recent_mirrors[m].id);
			u.access.addr = atomic_load(&recent_mirrors[m].addr) +
					pick(r, atomic_load(&recent_mirrors[m].pages) * page + 1);
		}
		break;
	}
	case 0x4a:
		u.u32 = fuzz_id(r);
		break;
	case 0x4b:
		u.dma = (struct rust_gup_dma_map) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, 10),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL),
			.client = fuzz_client(r), .id = pick(r, 16) == 0,
		};
		break;
	case 0x4d:
		u.set_access = (struct rust_gup_access) {
			.id = fuzz_id(r), .flags = fuzz_flags(r, RUST_GUP_ACCESS_WRITE),
			.offset = pick(r, 4) ? pick(r, BUF_PAGES * page) : next(r),
			.len = pick(r, 8) ? pick(r, 2 * page) : fuzz_size(r),
			.buf = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x4c:
		u.segs = (struct rust_gup_dma_segments) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.segments = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	}
	arg = fuzz_arg(r, &u);
	atomic_fetch_add(&tried[nr], 1);
	atomic_fetch_add(&calls, 1);
	if (ioctl(fd, cmd, arg)) {
		atomic_fetch_add(&errors, 1);
		return;
	}
	atomic_fetch_add(&succeeded[nr], 1);
	if (arg != &u)
		return;
	if (cmd == RUST_GUP_IOC_PIN)
		atomic_store(&recent_ids[pick(r, 16)], u.pin.id);
	else if (cmd == RUST_GUP_IOC_MIRROR) {
		int m = pick(r, 8);

		atomic_store(&recent_ids[pick(r, 16)], u.mirror.id);
		atomic_store(&recent_mirrors[m].id, u.mirror.id);
		atomic_store(&recent_mirrors[m].addr, u.mirror.addr);
		atomic_store(&recent_mirrors[m].pages, u.mirror.size / page);
	}
	else if (cmd == RUST_GUP_IOC_DMA_MAP)
		atomic_store(&recent_ids[pick(r, 16)], u.dma.id);
}

static void *fuzzer(void *arg)
{
	struct rng r = { .s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull | 1 };

	while (!atomic_load(&stop)) {
		if (atomic_load(&calls) >= max_calls || time(NULL) >= deadline)
			atomic_store(&stop, 1);
		else
			one_call(&r);
	}
	return NULL;
}

static void remap(int i, int how)
{
	int flags = MAP_FIXED | MAP_ANONYMOUS | (how & 1 ? MAP_SHARED : MAP_PRIVATE);

	if (mmap(bufs[i], buf_size, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED)
		ksft_exit_fail_msg("remap: %s\n", strerror(errno));
	memset(bufs[i], i, buf_size);
}

static void *chaos(void *arg)
{
	struct rng r = { .s = (uintptr_t)arg | 1 };

	while (!atomic_load(&stop)) {
		int i = pick(&r, NR_BUFS);

		switch (pick(&r, 7)) {
		case 0:
			munmap(bufs[i] + pick(&r, BUF_PAGES) * page, page * (1 + pick(&r, 8)));
			break;
		case 1:
			remap(i, pick(&r, 2));
			break;
		case 2:
			mprotect(bufs[i], buf_size, pick(&r, 2) ? PROT_NONE : PROT_READ);
			usleep(100);
			mprotect(bufs[i], buf_size, PROT_READ | PROT_WRITE);
			break;
		case 3:
			madvise(bufs[i], buf_size, MADV_DONTNEED);
			break;
		case 4: {
			pid_t pid = fork();

			if (pid == 0) {
				bufs[i][0] = 1;		/* COW in the child, then gone */
				_exit(0);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
			break;
		}
		case 5: {
			/* Close a file under the other threads, reopen it at the same number. */
			int n = pick(&r, NR_FDS), fd = open(RUST_GUP_DEVICE, O_RDWR);

			if (fd >= 0) {
				dup2(fd, fds[n]);
				close(fd);
			}
			break;
		}
		default:
			madvise(bufs[i], buf_size, pick(&r, 2) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		}
		atomic_fetch_add(&remaps, 1);
		usleep(200);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long seed = 1;
	int nthreads = 4, seconds = 120, opt;
	struct rust_gup_stats stats;
	pthread_t threads[64], chaos_thread;

	while ((opt = getopt(argc, argv, "s:n:j:T:")) != -1) {
		switch (opt) {
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'n': max_calls = strtol(optarg, NULL, 0); break;
		case 'j': nthreads = atoi(optarg); break;
		case 'T': seconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n CALLS] [-j THREADS] [-T SECONDS]\n", argv[0]);
			return KSFT_FAIL;
		}
	}
	if (nthreads < 1 || nthreads > 64)
		return KSFT_FAIL;
	ksft_print_header();
	ksft_set_plan(2);
	page = sysconf(_SC_PAGESIZE);
	buf_size = BUF_PAGES * page;
	for (int i = 0; i < NR_BUFS; i++) {
		bufs[i] = mmap(NULL, buf_size, PROT_READ | PROT_WRITE,
			       MAP_ANONYMOUS | (i % 2 ? MAP_SHARED : MAP_PRIVATE), -1, 0);
		if (bufs[i] == MAP_FAILED)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
		memset(bufs[i], i, buf_size);
	}
	for (int i = 0; i < NR_FDS; i++) {
		fds[i] = open(RUST_GUP_DEVICE, O_RDWR);
		if (fds[i] < 0)
			ksft_exit_skip("open %s: %s\n", RUST_GUP_DEVICE, strerror(errno));
	}

	deadline = time(NULL) + seconds;
	ksft_print_msg("seed %lu, %ld calls at most, %d threads, %d s at most\n", seed, max_calls,
		       nthreads, seconds);
	pthread_create(&chaos_thread, NULL, chaos, (void *)(seed * 31 + 7));
	for (int t = 0; t < nthreads; t++)
		pthread_create(&threads[t], NULL, fuzzer, (void *)(seed * 1000 + t));
	for (int t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);
	atomic_store(&stop, 1);
	pthread_join(chaos_thread, NULL);
	ksft_print_msg("%ld calls (%ld errors), %ld buffer/file operations underneath\n",
		       atomic_load(&calls), atomic_load(&errors), atomic_load(&remaps));
	for (int nr = 0; nr < 0x50; nr++) {
		if (atomic_load(&tried[nr]))
			ksft_print_msg("  %s %#04x: %6ld calls, %6ld succeeded\n",
				       nr ? "command" : "others ", nr,
				       atomic_load(&tried[nr]), atomic_load(&succeeded[nr]));
	}
	ksft_test_result(atomic_load(&calls) >= max_calls, "%ld of %ld calls made in time\n",
			 atomic_load(&calls), max_calls);

	/* Closing the files releases whatever they held. */
	for (int i = 0; i < NR_FDS; i++)
		close(fds[i]);
	fds[0] = open(RUST_GUP_DEVICE, O_RDWR);
	if (fds[0] < 0 || ioctl(fds[0], RUST_GUP_IOC_STATS, &stats))
		ksft_exit_fail_msg("stats: %s\n", strerror(errno));
	ksft_test_result(stats.held_sets == 0 && stats.held_pages == 0 && stats.mirrors == 0 &&
			 stats.open_files == 1,
			 "nothing held after closing: %llu sets, %llu pages, %u mirrors, %u open files\n",
			 (unsigned long long)stats.held_sets, (unsigned long long)stats.held_pages,
			 stats.mirrors, stats.open_files);
	close(fds[0]);
	ksft_finished();
}
