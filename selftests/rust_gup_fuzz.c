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
 * With -c SITES (a kernel with KCOV, the module built for it; SITES from
 * scripts/kcov-sites), each thread records the module's edges its calls
 * reach, the fuzzer prints the share of edges and functions reached, and
 * an input that reached an edge no call had before is kept: later calls
 * mutate kept inputs as often as they make new ones (-G: never). With -f,
 * one call in 8 has one of its first allocations fail (fail-nth). With -r,
 * a third test: every command succeeded at least once and every errno the
 * documentation lists (but EINTR, which only a killed task gets) came back
 * from some call.
 *
 *   rust_gup_fuzz [-s SEED] [-n CALLS] [-j THREADS] [-T SECONDS] [-c SITES [-G]] [-f] [-r]
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

#include <linux/kcov.h>
#include <linux/rust_gup.h>

#include "kselftest.h"
#include "rust_gup_util.h"

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
static char *p2p_buf;		/* BUF_PAGES of p2pmem, if the VM has some; never remapped */
static int fds[NR_FDS];
/* Files for RUST_GUP_OP_PIN_MEMFD: shmem, hugetlbfs (if the VM has huge
 * pages; else another shmem one), a read-only one of the first (EACCES for
 * WRITE); the chaos thread truncates and regrows them. */
#define NR_MEMFDS 3
#define MEMFD_PAGES 1024
static int memfds[NR_MEMFDS];
static atomic_long calls, errors, remaps;
#define NR_CMDS 0x50		/* command numbers counted; 0: anything else */
#define MAX_ERRNO 134
static atomic_long tried[NR_CMDS], succeeded[NR_CMDS];
static atomic_long failed_with[NR_CMDS][MAX_ERRNO];
/*
 * Errnos of calls without an injected failure (and ENOMEM of any call):
 * what -r asks of the module.
 */
static atomic_long returned[MAX_ERRNO];
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
	return (uintptr_t)(p2p_buf && pick(r, 8) == 0 ? p2p_buf : bufs[pick(r, NR_BUFS)]) +
	       pick(r, BUF_PAGES + 8) * page + (pick(r, 16) == 0 ? pick(r, page) : 0);
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

/*
 * A file for RUST_GUP_OP_PIN_MEMFD: mostly one of the memfds, else a file
 * that is not one (a rust_gup file), no file, or anything.
 */
static __s32 fuzz_fd(struct rng *r)
{
	switch (pick(r, 16)) {
	case 0: return fds[pick(r, NR_FDS)];
	case 1: return -1;
	case 2: return (__s32)next(r);
	default: return memfds[pick(r, NR_MEMFDS)];
	}
}

/* A range of the memfds (which may have shrunk): offset and size. */
static void fuzz_memfd_range(struct rng *r, __u64 *offset, __u64 *size)
{
	__u64 first = pick(r, MEMFD_PAGES);

	*offset = first * page;
	*size = (1 + pick(r, MEMFD_PAGES - first)) * page;
}

/* A client PCI function: the test VM's NVMe controllers (00:04.0,
 * 00:05.0), other functions of its root bus, or anything. */
static __u32 fuzz_client(struct rng *r)
{
	if (pick(r, 4))
		return RUST_GUP_PCI_ID(0, 0, pick(r, 2) ? 0x20 : 0x28);
	return pick(r, 2) ? RUST_GUP_PCI_ID(0, 0, pick(r, 0x40)) : (__u32)next(r);
}

union args {
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
	__u64 words[32];
};

/* One call: the command, which file, the argument (ARG_STRUCT: the union). */
enum { ARG_STRUCT, ARG_NULL, ARG_BAD, ARG_BUF };	/* ARG_BUF + i: bufs[i] */
struct input {
	unsigned long cmd;
	int fd, arg;
	union args u;
};

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

/* The arguments of command cmd, random and edge-case. */
static void make_args(struct rng *r, unsigned long cmd, union args *a)
{
	for (size_t i = 0; i < sizeof(a->words) / sizeof(a->words[0]); i++)
		a->words[i] = next(r);
	switch (_IOC_NR(cmd)) {
	case 1 ... 6:
		a->gup = (struct gup_test) {
			.addr = fuzz_addr(r), .size = fuzz_size(r),
			.nr_pages_per_call = pick(r, 4) ? 1 + pick(r, 600) : (__u32)next(r),
			.gup_flags = fuzz_flags(r, 0x50b), .test_flags = fuzz_flags(r, 1),
		};
		for (int i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
			a->gup.which_pages[i] = pick(r, 4) ? 0 : (__u32)pick(r, BUF_PAGES + 4);
		break;
	case 7:
		a->lt = (struct pin_longterm_test) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .flags = fuzz_flags(r, 3),
		};
		break;
	case 9:	/* READ copies whole pages: only ever into a buffer */
		a->u64 = (uintptr_t)bufs[pick(r, NR_BUFS)];
		break;
	case 0x42:
		a->bench = (struct rust_gup_bench) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, RUST_GUP_OP_PIN_MEMFD + 2),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL), .nr_pages_per_call = pick(r, 600),
		};
		if (a->bench.op == RUST_GUP_OP_PIN_MEMFD || pick(r, 16) == 0)
			a->bench.fd = fuzz_fd(r);
		if (a->bench.op == RUST_GUP_OP_PIN_MEMFD && pick(r, 4))
			fuzz_memfd_range(r, &a->bench.addr, &a->bench.size);
		break;
	case 0x43:
		a->pin = (struct rust_gup_pin) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, RUST_GUP_OP_PIN_MEMFD + 2),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL), .pid = fuzz_pid(r),
			.reserved = pick(r, 64) == 0,
		};
		if (a->pin.op == RUST_GUP_OP_PIN_MEMFD || pick(r, 32) == 0)
			a->pin.fd = fuzz_fd(r);
		if (a->pin.op == RUST_GUP_OP_PIN_MEMFD && pick(r, 4)) {
			fuzz_memfd_range(r, &a->pin.addr, &a->pin.size);
			a->pin.pid = 0;
		}
		break;
	case 0x44:
		a->u32 = fuzz_id(r);
		break;
	case 0x45:
		a->query = (struct rust_gup_query) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.pages = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x46 ... 0x47:
		a->mirror = (struct rust_gup_mirror) {
			.addr = fuzz_addr(r), .size = fuzz_size(r),
			.flags = fuzz_flags(r, RUST_GUP_MIRROR_F_ALL),
			.id = _IOC_NR(cmd) == 0x47 || pick(r, 16) == 0 ? fuzz_id(r) : 0,
		};
		/* Mapped for a device: mostly one of the NVMe controllers. */
		if (a->mirror.flags & RUST_GUP_MIRROR_F_DMA || pick(r, 16) == 0)
			a->mirror.client = fuzz_client(r);
		if (_IOC_NR(cmd) == 0x47 && pick(r, 4)) {
			/* Mostly part of a mirror made lately. */
			int m = pick(r, 8);
			unsigned long pages = atomic_load(&recent_mirrors[m].pages), first;

			first = pick(r, pages + 1);
			a->mirror.id = atomic_load(&recent_mirrors[m].id);
			a->mirror.addr = atomic_load(&recent_mirrors[m].addr) + first * page;
			a->mirror.size = (pick(r, pages - first + 1) + !pick(r, 8)) * page;
		}
		break;
	case 0x48:
	case 0x4e:
		a->mirror_read = (struct rust_gup_mirror_read) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.entries = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x49: {
		int m = pick(r, 8);

		a->access = (struct rust_gup_mirror_access) {
			.id = fuzz_id(r), .flags = fuzz_flags(r, RUST_GUP_MIRROR_ACCESS_WRITE),
			.addr = fuzz_addr(r) + (pick(r, 4) ? 0 : pick(r, page)),
			.len = pick(r, 8) ? pick(r, 2 * page) : fuzz_size(r),
			.buf = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		if (pick(r, 2)) {
			/* Mostly inside a mirror made lately. */
			a->access.id = atomic_load(&recent_mirrors[m].id);
			a->access.addr = atomic_load(&recent_mirrors[m].addr) +
					pick(r, atomic_load(&recent_mirrors[m].pages) * page + 1);
		}
		break;
	}
	case 0x4a:
		a->u32 = fuzz_id(r);
		break;
	case 0x4b:
		a->dma = (struct rust_gup_dma_map) {
			.addr = fuzz_addr(r), .size = fuzz_size(r), .op = pick(r, RUST_GUP_OP_PIN_MEMFD + 2),
			.flags = fuzz_flags(r, RUST_GUP_F_ALL),
			.client = fuzz_client(r), .id = pick(r, 16) == 0,
			.reserved = pick(r, 64) == 0,
		};
		if (a->dma.op == RUST_GUP_OP_PIN_MEMFD || pick(r, 32) == 0)
			a->dma.fd = fuzz_fd(r);
		if (a->dma.op == RUST_GUP_OP_PIN_MEMFD && pick(r, 4))
			fuzz_memfd_range(r, &a->dma.addr, &a->dma.size);
		break;
	case 0x4d:
		a->set_access = (struct rust_gup_access) {
			.id = fuzz_id(r), .flags = fuzz_flags(r, RUST_GUP_ACCESS_WRITE),
			.offset = pick(r, 4) ? pick(r, BUF_PAGES * page) : next(r),
			.len = pick(r, 8) ? pick(r, 2 * page) : fuzz_size(r),
			.buf = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	case 0x4c:
		a->segs = (struct rust_gup_dma_segments) {
			.id = fuzz_id(r), .nr = pick(r, 700), .first = pick(r, 8) ? pick(r, 600) : next(r),
			.segments = pick(r, 8) ? (uintptr_t)bufs[pick(r, NR_BUFS)] : fuzz_addr(r),
		};
		break;
	}
}

/* A new input: a command (now and then any number at all), its arguments. */
static void make_input(struct rng *r, struct input *in)
{
	in->cmd = cmds[pick(r, sizeof(cmds) / sizeof(cmds[0]))];
	if (pick(r, 64) == 0)
		in->cmd = (__u32)next(r);
	in->fd = pick(r, NR_FDS);
	/* The argument pointer: usually the struct, sometimes NULL or bad. */
	switch (pick(r, 32)) {
	case 0: in->arg = ARG_NULL; break;
	case 1: in->arg = ARG_BAD; break;
	case 2: in->arg = ARG_BUF + pick(r, NR_BUFS); break;	/* may be PROT_NONE or unmapped */
	default: in->arg = ARG_STRUCT;
	}
	make_args(r, in->cmd, &in->u);
}

/*
 * Coverage (-c): the module's KCOV sites, sorted by address, each with its
 * function, and whether a call has reached it.
 */
struct site {
	__u64 addr;
	unsigned int func;
};

static struct site *sites;
static size_t nr_sites;
static char **funcs;
static size_t nr_funcs;
static atomic_uchar *reached;
static atomic_long reached_by_kept;	/* sites first reached by a mutated kept input */

/* The inputs that reached a site first (not with -G). */
#define MAX_KEPT 4096
static struct input kept[MAX_KEPT];
static atomic_int nr_kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static bool guided = true;
static bool inject;		/* -f */

static int site_cmp(const void *a, const void *b)
{
	__u64 x = ((const struct site *)a)->addr, y = ((const struct site *)b)->addr;

	return x < y ? -1 : x > y;
}

/* Where the module's section sec is loaded. */
static __u64 section_base(const char *sec)
{
	char path[256];
	unsigned long long base;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/rust_gup/sections/%s", sec);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llx", &base) != 1)
		ksft_exit_fail_msg("%s: %s\n", path, f ? "unreadable" : strerror(errno));
	fclose(f);
	return base;
}

/* Read scripts/kcov-sites's list: "SECTION OFFSET FUNCTION" per line. */
static void load_sites(const char *path)
{
	char line[4096], sec[64], last_sec[64] = "";
	size_t cap = 0;
	__u64 base = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off;
		int name;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%63s %llx %n", sec, &off, &name) != 2 || !line[name])
			ksft_exit_fail_msg("%s: bad line: %s\n", path, line);
		if (strcmp(sec, last_sec)) {
			base = section_base(sec);
			strcpy(last_sec, sec);
		}
		if (!nr_funcs || strcmp(funcs[nr_funcs - 1], line + name)) {
			funcs = realloc(funcs, (nr_funcs + 1) * sizeof(*funcs));
			funcs[nr_funcs++] = strdup(line + name);
		}
		if (nr_sites == cap) {
			cap = cap ? 2 * cap : 4096;
			sites = realloc(sites, cap * sizeof(*sites));
		}
		if (!sites || !funcs)
			ksft_exit_fail_msg("out of memory\n");
		sites[nr_sites++] = (struct site) { base + off, nr_funcs - 1 };
	}
	fclose(f);
	if (!nr_sites)
		ksft_exit_fail_msg("%s: no coverage sites\n", path);
	qsort(sites, nr_sites, sizeof(*sites), site_cmp);
	reached = calloc(nr_sites, sizeof(*reached));
}

/* A thread's KCOV buffer: the edges its calls reached, in order. */
#define COVER_WORDS (1 << 18)

struct cover {
	__u64 *area;
};

static void cover_open(struct cover *c)
{
	int fd;

	c->area = NULL;
	if (!nr_sites)
		return;
#ifdef __i386__
	ksft_exit_fail_msg("-c: coverage needs the 64-bit build\n");
#endif
	fd = open("/sys/kernel/debug/kcov", O_RDWR);
	if (fd < 0)
		ksft_exit_fail_msg("/sys/kernel/debug/kcov: %s\n", strerror(errno));
	if (ioctl(fd, KCOV_INIT_TRACE, COVER_WORDS))
		ksft_exit_fail_msg("KCOV_INIT_TRACE: %s\n", strerror(errno));
	c->area = mmap(NULL, COVER_WORDS * sizeof(__u64), PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	if (c->area == MAP_FAILED)
		ksft_exit_fail_msg("kcov mmap: %s\n", strerror(errno));
	if (ioctl(fd, KCOV_ENABLE, KCOV_TRACE_PC))
		ksft_exit_fail_msg("KCOV_ENABLE: %s\n", strerror(errno));
}

static void cover_start(struct cover *c)
{
	if (c->area)
		__atomic_store_n(&c->area[0], 0, __ATOMIC_RELAXED);
}

/* How many of the module's sites the calls since cover_start() reached first. */
static long cover_end(struct cover *c)
{
	__u64 n;
	long fresh = 0;

	if (!c->area)
		return 0;
	n = __atomic_load_n(&c->area[0], __ATOMIC_RELAXED);
	if (n > COVER_WORDS - 1)
		n = COVER_WORDS - 1;
	for (__u64 i = 1; i <= n; i++) {
		struct site key = { .addr = c->area[i] };
		struct site *s = bsearch(&key, sites, nr_sites, sizeof(*sites), site_cmp);

		if (s && !atomic_exchange(&reached[s - sites], 1))
			fresh++;
	}
	return fresh;
}

/* Whether p is an address make_args() could have made. */
static bool made_address(__u64 p)
{
	for (int i = 0; i <= NR_BUFS; i++) {
		__u64 start = (uintptr_t)(i < NR_BUFS ? bufs[i] : p2p_buf);

		if (start && p >= start && p < start + buf_size + 8 * page)
			return true;
	}
	return p < 0x10000 || p >= 0x7ffffffff000ull;
}

/*
 * The fields the kernel takes as addresses in this process, of a mutated
 * input, go back to a buffer if the mutation took them elsewhere: a write
 * through one (a read into .buf, a pin of .addr written through ACCESS)
 * must never land on the fuzzer's own memory.
 */
static void keep_addresses_in_buffers(struct input *in)
{
	union args *a = &in->u;
	__u64 *fields[2] = { NULL, NULL };

	if (_IOC_TYPE(in->cmd) != 'g')
		return;
	switch (_IOC_NR(in->cmd)) {
	case 1 ... 6: fields[0] = &a->gup.addr; break;
	case 7: fields[0] = &a->lt.addr; break;
	case 9: fields[0] = &a->u64; break;
	case 0x42:
		if (a->bench.op != RUST_GUP_OP_PIN_MEMFD)
			fields[0] = &a->bench.addr;
		break;
	case 0x43:
		/* A memfd pin's address is a file offset. */
		if (a->pin.op != RUST_GUP_OP_PIN_MEMFD)
			fields[0] = &a->pin.addr;
		break;
	case 0x45: fields[0] = &a->query.pages; break;
	case 0x46 ... 0x47: fields[0] = &a->mirror.addr; break;
	case 0x48: case 0x4e: fields[0] = &a->mirror_read.entries; break;
	case 0x49: fields[0] = &a->access.addr; fields[1] = &a->access.buf; break;
	case 0x4b:
		if (a->dma.op != RUST_GUP_OP_PIN_MEMFD)
			fields[0] = &a->dma.addr;
		break;
	case 0x4c: fields[0] = &a->segs.segments; break;
	case 0x4d: fields[0] = &a->set_access.buf; break;
	}
	for (int i = 0; i < 2; i++)
		if (fields[i] && !made_address(*fields[i]))
			*fields[i] = (uintptr_t)bufs[0] + (*fields[i] & (buf_size - 1));
}

/*
 * A kept input, changed a little: one word of the arguments made afresh,
 * a bit flipped, another file or argument pointer, or nothing (the state
 * underneath is not what it was).
 */
static void mutate(struct rng *r, struct input *in)
{
	size_t size = _IOC_SIZE(in->cmd), w;
	union args fresh;

	if (!size || size > sizeof(in->u))
		size = sizeof(in->u);
	w = pick(r, (size + 7) / 8);
	switch (pick(r, 4)) {
	case 0:
		make_args(r, in->cmd, &fresh);
		in->u.words[w] = fresh.words[w];
		break;
	case 1:
		in->u.words[w] ^= 1ull << pick(r, 64);
		break;
	case 2:
		in->fd = pick(r, NR_FDS);
		if (pick(r, 8) == 0)
			in->arg = pick(r, ARG_BUF + NR_BUFS);
		break;
	}
	keep_addresses_in_buffers(in);
}

static void keep(const struct input *in)
{
	pthread_mutex_lock(&kept_lock);
	int n = atomic_load(&nr_kept);

	if (n < MAX_KEPT) {
		kept[n] = *in;
		atomic_store_explicit(&nr_kept, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&kept_lock);
}

static void one_call(struct rng *r, struct cover *c, int fail_nth)
{
	int n = atomic_load_explicit(&nr_kept, memory_order_acquire), nr, injected = 0;
	bool mutated = guided && n && pick(r, 2);
	struct input in, before;
	void *arg;
	long fresh;
	int ret;

	if (mutated) {
		in = kept[pick(r, n)];
		mutate(r, &in);
	} else {
		make_input(r, &in);
	}
	before = in;
	switch (in.arg) {
	case ARG_STRUCT: arg = &in.u; break;
	case ARG_NULL: arg = NULL; break;
	case ARG_BAD: arg = (void *)BAD_POINTER; break;
	default: arg = bufs[(in.arg - ARG_BUF) % NR_BUFS];
	}
	nr = _IOC_TYPE(in.cmd) == 'g' && _IOC_NR(in.cmd) < NR_CMDS ? _IOC_NR(in.cmd) : 0;
	if (fail_nth >= 0 && pick(r, 8) == 0)
		injected = !fail_nth_set(fail_nth, 1 + pick(r, 8));
	atomic_fetch_add(&tried[nr], 1);
	atomic_fetch_add(&calls, 1);
	cover_start(c);
	ret = ioctl(fds[in.fd], in.cmd, arg);
	fresh = cover_end(c);
	if (injected)
		fail_nth_set(fail_nth, 0);
	if (fresh) {
		if (guided)
			keep(&before);
		if (mutated)
			atomic_fetch_add(&reached_by_kept, fresh);
	}
	if (ret) {
		int err = errno, e = err > 0 && err < MAX_ERRNO ? err : 0;

		atomic_fetch_add(&errors, 1);
		atomic_fetch_add(&failed_with[nr][e], 1);
		/*
		 * An injected failure makes ENOMEM of anything, so only
		 * uninjected errnos count; but ENOMEM itself, the module's
		 * answer to a failed allocation, counts either way: without
		 * injection it takes an input that exhausts RLIMIT_MEMLOCK or
		 * a limit, which a run may not draw.
		 */
		if (!injected || e == ENOMEM)
			atomic_fetch_add(&returned[e], 1);
		return;
	}
	atomic_fetch_add(&succeeded[nr], 1);
	if (arg != &in.u)
		return;
	if (in.cmd == RUST_GUP_IOC_PIN)
		atomic_store(&recent_ids[pick(r, 16)], in.u.pin.id);
	else if (in.cmd == RUST_GUP_IOC_MIRROR) {
		int m = pick(r, 8);

		atomic_store(&recent_ids[pick(r, 16)], in.u.mirror.id);
		atomic_store(&recent_mirrors[m].id, in.u.mirror.id);
		atomic_store(&recent_mirrors[m].addr, in.u.mirror.addr);
		atomic_store(&recent_mirrors[m].pages, in.u.mirror.size / page);
	}
	else if (in.cmd == RUST_GUP_IOC_DMA_MAP)
		atomic_store(&recent_ids[pick(r, 16)], in.u.dma.id);
}

/*
 * A fuzzing thread. The first one runs without CAP_SYS_RAWIO and
 * CAP_IPC_LOCK (capabilities are per thread): its DMA maps are refused,
 * and its registrations count against RLIMIT_MEMLOCK.
 */
static void *fuzzer(void *arg)
{
	struct rng r = { .s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull | 1 };
	int fail_nth = inject ? open("/proc/thread-self/fail-nth", O_RDWR) : -1;
	struct cover c;

	if (inject && fail_nth < 0)
		ksft_exit_fail_msg("/proc/thread-self/fail-nth: %s\n", strerror(errno));
	if ((uintptr_t)arg % 1000 == 0 && (drop_cap(CAP_SYS_RAWIO) || drop_cap(CAP_IPC_LOCK)))
		ksft_exit_fail_msg("capset: %s\n", strerror(errno));
	cover_open(&c);
	while (!atomic_load(&stop)) {
		if (atomic_load(&calls) >= max_calls || time(NULL) >= deadline)
			atomic_store(&stop, 1);
		else
			one_call(&r, &c, fail_nth);
	}
	return NULL;
}

/* A file of the device whose owner (the process that opened it) has exited. */
static int orphan_file(void)
{
	int sock[2], fd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sock))
		return -1;
	pid = fork();
	if (pid == 0) {
		fd = open(RUST_GUP_DEVICE, O_RDWR);
		_exit(fd < 0 || send_fd(sock[1], fd));
	}
	/* The child's end closed here: a child that sends nothing ends recv_fd(). */
	close(sock[1]);
	if (pid > 0) {
		fd = recv_fd(sock[0]);
		waitpid(pid, NULL, 0);
	}
	close(sock[0]);
	return fd;
}

static void remap(int i, int how)
{
	int flags = MAP_FIXED | MAP_ANONYMOUS | (how & 1 ? MAP_SHARED : MAP_PRIVATE);

	if (mmap(bufs[i], buf_size, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED)
		ksft_exit_fail_msg("remap: %s\n", strerror(errno));
	memset(bufs[i], i, buf_size);
}

/*
 * The module's code that runs in this thread (invalidation callbacks, the
 * release of a file) counts towards coverage, not towards kept inputs.
 */
static void *chaos(void *arg)
{
	struct rng r = { .s = (uintptr_t)arg | 1 };
	struct cover c;

	cover_open(&c);
	while (!atomic_load(&stop)) {
		int i = pick(&r, NR_BUFS);

		cover_start(&c);

		switch (pick(&r, 8)) {
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
			/*
			 * Close a file under the other threads, reopen it at the
			 * same number; now and then, one whose owner has exited.
			 * fds[0] is never closed, so it reaches the file's limits.
			 */
			int n = 1 + pick(&r, NR_FDS - 1);	/* fds[0] stays: it fills up */
			int fd = pick(&r, 8) ? open(RUST_GUP_DEVICE, O_RDWR) : orphan_file();

			if (fd >= 0) {
				dup2(fd, fds[n]);
				close(fd);
			}
			break;
		}
		case 6: {
			/* Truncate a memfd under the pins; regrow it, allocated. */
			int m = pick(&r, NR_MEMFDS - 1);

			ftruncate(memfds[m], pick(&r, MEMFD_PAGES) * page & ~(2ul * 1024 * 1024 - 1));
			usleep(100);
			fallocate(memfds[m], 0, 0, MEMFD_PAGES * page);
			break;
		}
		default:
			madvise(bufs[i], buf_size, pick(&r, 2) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		}
		cover_end(&c);
		atomic_fetch_add(&remaps, 1);
		usleep(200);
	}
	return NULL;
}

/*
 * The errnos of the module's documentation (Documentation/rust_gup.rst),
 * but EINTR, which only a task being killed gets, and so never sees;
 * EIO, which only a gup_test pin command of a module that pinned wrongly
 * returns; and EOVERFLOW, which needs a page mapped at thousands of
 * addresses and held by dozens of sets (faults.folio_refcount_is_bounded
 * returns it).
 */
static const int documented[] = {
	EINVAL, EFAULT, ENOTTY, ENODEV, ENOENT, ENOSPC, EAGAIN, EBUSY, EREMOTEIO, ENOMEM,
	ESRCH, EPERM, EOPNOTSUPP, EBADF, EBADFD, EACCES,
};

/*
 * Per command: calls, successes and each errno; then the commands that
 * never succeeded and the documented errnos no call returned without an
 * injected failure (fail-nth makes ENOMEM of anything; ENOMEM itself may
 * come from one). Returns whether
 * there were none of either.
 */
static bool report_errnos(void)
{
	char line[1024], missing[256] = "", never[256] = "";

	for (int nr = 0; nr < NR_CMDS; nr++) {
		int len;

		if (!atomic_load(&tried[nr]))
			continue;
		len = snprintf(line, sizeof(line), "  %s %#04x: %6ld calls, %6ld succeeded",
			       nr ? "command" : "others ", nr, atomic_load(&tried[nr]),
			       atomic_load(&succeeded[nr]));
		for (int e = 0; e < MAX_ERRNO; e++) {
			long n = atomic_load(&failed_with[nr][e]);

			if (n && len < (int)sizeof(line))
				len += snprintf(line + len, sizeof(line) - len, ", %s %ld",
						e ? errname(e) : "other", n);
		}
		ksft_print_msg("%s\n", line);
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int nr = _IOC_NR(cmds[i]);
		char name[8];

		snprintf(name, sizeof(name), " %#04x", nr);
		if (!atomic_load(&succeeded[nr]) && !strstr(never, name))
			snprintf(never + strlen(never), sizeof(never) - strlen(never), "%s", name);
	}
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (!atomic_load(&returned[documented[i]]))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 " %s", errname(documented[i]));
	ksft_print_msg("commands that never succeeded:%s\n", *never ? never : " none");
	ksft_print_msg("documented errnos no call returned (injected failures aside):%s\n",
		       *missing ? missing : " none");
	return !*never && !*missing;
}

/*
 * The share of the module's edges and functions the calls reached; returns
 * the edges reached.
 */
static size_t report_coverage(void)
{
	size_t edges = 0, functions = 0;
	bool *func_reached = calloc(nr_funcs, sizeof(bool));

	if (!func_reached)
		ksft_exit_fail_msg("out of memory\n");
	for (size_t i = 0; i < nr_sites; i++) {
		if (atomic_load(&reached[i])) {
			edges++;
			func_reached[sites[i].func] = true;
		}
	}
	for (size_t f = 0; f < nr_funcs; f++)
		functions += func_reached[f];
	ksft_print_msg("coverage: %zu of %zu edges (%.1f%%), %zu of %zu functions (%.1f%%)\n",
		       edges, nr_sites, 100.0 * edges / nr_sites, functions, nr_funcs,
		       100.0 * functions / nr_funcs);
	if (guided)
		ksft_print_msg("coverage: %d inputs kept, %ld edges first reached by mutating them\n",
			       atomic_load(&nr_kept), atomic_load(&reached_by_kept));
	ksft_print_msg("functions never reached:\n");
	for (size_t f = 0; f < nr_funcs; f++)
		if (!func_reached[f])
			ksft_print_msg("  %s\n", funcs[f]);
	free(func_reached);
	return edges;
}

int main(int argc, char **argv)
{
	unsigned long seed = 1;
	int nthreads = 4, seconds = 120, opt;
	struct rust_gup_stats stats;
	pthread_t threads[64], chaos_thread;
	char path[64];

	const char *sites_file = NULL;
	bool require = false, reached_all;
	size_t edges = 0;

	while ((opt = getopt(argc, argv, "s:n:j:T:c:Gfr")) != -1) {
		switch (opt) {
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'n': max_calls = strtol(optarg, NULL, 0); break;
		case 'j': nthreads = atoi(optarg); break;
		case 'T': seconds = atoi(optarg); break;
		case 'c': sites_file = optarg; break;
		case 'G': guided = false; break;
		case 'f': inject = true; break;
		case 'r': require = true; break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n CALLS] [-j THREADS] [-T SECONDS] "
				"[-c SITES [-G]] [-f] [-r]\n", argv[0]);
			return KSFT_FAIL;
		}
	}
	if (nthreads < 1 || nthreads > 64)
		return KSFT_FAIL;
	ksft_print_header();
	ksft_set_plan(2 + require + !!sites_file);
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
	memfds[0] = memfd_create("rust_gup_fuzz", 0);
	memfds[1] = memfd_create("rust_gup_fuzz", MFD_HUGETLB);
	if (memfds[1] < 0)
		memfds[1] = memfd_create("rust_gup_fuzz", 0);
	for (int i = 0; i < NR_MEMFDS - 1; i++)
		if (memfds[i] < 0 || fallocate(memfds[i], 0, 0, MEMFD_PAGES * page))
			ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfds[0]);
	memfds[NR_MEMFDS - 1] = open(path, O_RDONLY);
	if (memfds[NR_MEMFDS - 1] < 0)
		ksft_exit_fail_msg("open %s: %s\n", path, strerror(errno));
	p2p_buf = map_p2pmem(NULL, buf_size);
	if (p2p_buf == MAP_FAILED)
		p2p_buf = NULL;
	if (sites_file)
		load_sites(sites_file);
	if (inject && set_fault_knobs())
		ksft_exit_fail_msg("cannot set the failslab/fail_page_alloc knobs\n");

	deadline = time(NULL) + seconds;
	ksft_print_msg("seed %lu, %ld calls at most, %d threads, %d s at most%s%s%s\n", seed,
		       max_calls, nthreads, seconds, p2p_buf ? ", p2pmem" : "",
		       nr_sites ? ", coverage" : "", inject ? ", fail-nth" : "");
	pthread_create(&chaos_thread, NULL, chaos, (void *)(seed * 31 + 7));
	for (int t = 0; t < nthreads; t++)
		pthread_create(&threads[t], NULL, fuzzer, (void *)(seed * 1000 + t));
	for (int t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);
	atomic_store(&stop, 1);
	pthread_join(chaos_thread, NULL);
	if (inject)
		restore_fault_knobs();
	ksft_print_msg("%ld calls (%ld errors), %ld buffer/file operations underneath\n",
		       atomic_load(&calls), atomic_load(&errors), atomic_load(&remaps));
	reached_all = report_errnos();
	if (nr_sites)
		edges = report_coverage();
	ksft_test_result(atomic_load(&calls) >= max_calls, "%ld of %ld calls made in time\n",
			 atomic_load(&calls), max_calls);
	if (require)
		ksft_test_result(reached_all, "every command succeeded, every documented errno "
				 "returned\n");
	/* No edge at all: the module was built without KCOV, or KCOV broke. */
	if (sites_file)
		ksft_test_result(edges, "coverage collected (%zu edges)\n", edges);

	/* Closing the files releases whatever they held. */
	for (int i = 0; i < NR_FDS; i++)
		close(fds[i]);
	fds[0] = open(RUST_GUP_DEVICE, O_RDWR);
	if (fds[0] < 0 || ioctl(fds[0], RUST_GUP_IOC_STATS, &stats))
		ksft_exit_fail_msg("stats: %s\n", strerror(errno));
	ksft_test_result(stats.held_sets == 0 && stats.held_pages == 0 && stats.mirrors == 0 &&
			 stats.held_meta_bytes == 0 && stats.open_files == 1,
			 "nothing held after closing: %llu sets, %llu pages (%llu bytes of "
			 "metadata), %u mirrors, %u open files\n",
			 (unsigned long long)stats.held_sets, (unsigned long long)stats.held_pages,
			 (unsigned long long)stats.held_meta_bytes, stats.mirrors, stats.open_files);
	close(fds[0]);
	ksft_finished();
}
