// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup_bench: rust_gup against the kernel's C gup_test, in one boot,
 * interleaved so that both see the same conditions.
 *
 * For every cell (command x page type x size x pages per call) it runs
 * the gup_test command on /dev/rust_gup and on /sys/kernel/debug/gup_test
 * in turn, alternating which goes first, and writes one CSV row per run:
 *
 *   impl,cmd,pages_type,size_mib,per_call,threads,repeat,pages,calls,get_ns,put_ns,wall_ns
 *
 * impl "rust" and "c" are the same gup_test command on the two devices;
 * their get and put times are what the kernel reports, in whole
 * microseconds (gup_test's resolution), as nanoseconds. impl "rust-ns" is
 * the same work through rust_gup's RUST_GUP_IOC_BENCH, timed in
 * nanoseconds. wall_ns is the whole ioctl as user space sees it. A second
 * phase runs PIN_FAST and GUP_FAST from several threads at once on one
 * buffer (-j), one row per thread.
 *
 * On the same buffers, the HMM mirror (no pins) runs next to them, as impl
 * "rust-ns" rows with per_call 512 (the mirror faults 512 pages per
 * hmm_range_fault() call): cmd "mirror_first" is RUST_GUP_IOC_MIRROR, a
 * new mirror faulting the whole range (get: its kernel time, set-up
 * included; put: RUST_GUP_IOC_MIRROR_DROP as user space times it), and
 * "mirror_faulted" is RUST_GUP_IOC_MIRROR_FAULT on that mirror with every
 * entry already valid (get only). -M leaves them out.
 *
 * Then the same with DMA mapping, for an NVMe controller of the VM (the
 * question of fault-and-map against GUP + DMA map), timed by user space
 * around each call (wall_ns is get + put): "pin_dma" is
 * RUST_GUP_IOC_DMA_MAP of the range (get; per_call "all") and UNPIN, which
 * unmaps and unpins (put); "mirror_dma" is RUST_GUP_IOC_MIRROR with
 * RUST_GUP_MIRROR_F_DMA (get: fault and map) and MADV_DONTNEED of the
 * range (put: the invalidation, which unmaps, and the zap of the pages);
 * "mirror_dma_faulted" is a fault of that mirror while every entry is
 * mapped (get); "zap" is MADV_DONTNEED of the range with no mirror (put),
 * the part of mirror_dma's put that is not the invalidation. The buffer
 * is written again after each MADV_DONTNEED. -D leaves them out.
 *
 * Last, the long-term phase (-L MIB, 1 GiB by default; -L 0 leaves it
 * out): cmd "pin_held" on anonymous memory of each page type and on a
 * memfd, shmem with THP ("memfd_thp") and hugetlbfs ("memfd_hugetlb"),
 * through a MAP_SHARED mapping of it for the gup_test commands. Per
 * repeat, impl "c" and "rust" are PIN_LONGTERM_BENCHMARK at 512 pages per
 * call (FOLL_WRITE), the page array's way; impl "rust-ns" is the set a
 * driver would keep, timed by user space: RUST_GUP_IOC_PIN, long-term and
 * writable (PIN_LOCKED on anonymous memory, RUST_GUP_OP_PIN_MEMFD of the
 * memfd, with no mapping), then RUST_GUP_IOC_UNPIN. The bytes the set
 * takes to record its pages (STATS held_meta_bytes, while it is held)
 * go to the -m FILE, one line per repeat:
 *
 *   impl,pages_type,size_mib,repeat,pages,meta_bytes
 *
 * with impl "array" for the 8 bytes per page of a page array (gup_test's,
 * and rust_gup's for its gup_test commands), and "rust-held" measured.
 *
 * usage: rust_gup_bench [-o FILE] [-r REPEATS] [-s MIB,...] [-n PER_CALL,...]
 *                       [-c CMD,...] [-p TYPE,...] [-j THREADS,...] [-J MIB] [-M] [-D]
 *                       [-L MIB] [-m FILE]
 *   PER_CALL: a number, or "all"; CMD: gup_fast pin_fast pin_longterm
 *   gup_basic pin_basic; TYPE: 4k thp hugetlb
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "rust_gup_util.h"

#define MIB (1ul << 20)
#define HPAGE (2ul << 20)
#define C_DEVICE "/sys/kernel/debug/gup_test"
#define MAX_LIST 16

static const struct {
	const char *name;
	unsigned long cmd;
	__u32 op;	/* the same work through RUST_GUP_IOC_BENCH */
	__u32 flags;
} cmds[] = {
	{ "gup_fast", GUP_FAST_BENCHMARK, RUST_GUP_OP_GET_FAST, 0 },
	{ "pin_fast", PIN_FAST_BENCHMARK, RUST_GUP_OP_PIN_FAST, 0 },
	{ "pin_longterm", PIN_LONGTERM_BENCHMARK, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_F_LONGTERM },
	{ "gup_basic", GUP_BASIC_TEST, RUST_GUP_OP_GET_LOCKED, 0 },
	{ "pin_basic", PIN_BASIC_TEST, RUST_GUP_OP_PIN_LOCKED, 0 },
};
#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The page types of -p, then the long-term phase's memfds. */
static const char *const types[] = { "4k", "thp", "hugetlb", "memfd_thp", "memfd_hugetlb" };
#define MEMFD_THP 3
#define MEMFD_HUGETLB 4

struct list {
	int nr;
	long v[MAX_LIST];
};

static FILE *out;
static int rust_fd, c_fd, repeats = 5;

static void die(const char *what)
{
	fprintf(stderr, "rust_gup_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000l + ts.tv_nsec;
}

/* Comma-separated numbers; "all" is -1; names are looked up in `names`. */
static void parse_list(struct list *l, char *arg, const char *const *names, int nr_names)
{
	l->nr = 0;
	for (char *tok = strtok(arg, ","); tok && l->nr < MAX_LIST; tok = strtok(NULL, ",")) {
		long v = -2;

		if (names) {
			for (int i = 0; i < nr_names; i++)
				if (!strcmp(tok, names[i]))
					v = i;
		} else {
			v = strcmp(tok, "all") ? strtol(tok, NULL, 0) : -1;
		}
		if (v == -2 || (!names && v == 0)) {
			fprintf(stderr, "rust_gup_bench: bad list item '%s'\n", tok);
			exit(2);
		}
		l->v[l->nr++] = v;
	}
}

/* A buffer of a THP type is THPs in every whole 2 MiB block, one of 4 KiB
 * pages none: the label is what the pages are, as /proc/kpageflags says. */
static void check_label(int type, char *p, size_t size)
{
	int total, huge = thp_blocks(p, size, &total);
	bool thp = type == 1 || type == MEMFD_THP;

	if (huge < 0)
		die("/proc/self/pagemap or /proc/kpageflags");
	if (thp ? huge != total : huge != 0) {
		fprintf(stderr, "# %s %zu MiB: %d of %d 2 MiB blocks are THPs\n", types[type],
			size / MIB, huge, total);
		errno = EINVAL;
		die("a buffer not backed as its label says");
	}
}

/* A buffer of `size` bytes of the page type, faulted in; NULL if it cannot
 * be had (not enough hugetlb pages). */
static char *map_buffer(int type, size_t size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (type == 2 ? MAP_HUGETLB : 0);
	char *raw, *p;

	/* THP needs 2 MiB alignment: map more and trim. */
	raw = mmap(NULL, size + HPAGE, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (p != raw)
		munmap(raw, p - raw);
	munmap(p + size, raw + size + HPAGE - (p + size));
	if (type != 2 && madvise(p, size, type == 1 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	for (size_t off = 0; off < size; off += 4096)
		p[off] = 1;
	if (type != 2)
		check_label(type, p, size);
	return p;
}

/* Timings need a fine-grained clocksource: not jiffies. */
static void check_clocksource(const char *when)
{
	char cs[64] = "?";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (!f || !fgets(cs, sizeof(cs), f))
		die("current_clocksource");
	fclose(f);
	cs[strcspn(cs, "\n")] = 0;
	fprintf(stderr, "# clocksource %s: %s\n", when, cs);
	if (strstr(cs, "jiffies")) {
		fprintf(stderr, "rust_gup_bench: the kernel times with %s: results would be "
			"meaningless\n", cs);
		exit(1);
	}
}

/* Huge pages of shmem, and of this process's anonymous memory, in kB. */
static long shmem_huge_kb(void)
{
	return proc_kb("/proc/meminfo", "ShmemHugePages");
}

static long anon_huge_kb(void)
{
	return proc_kb("/proc/self/smaps_rollup", "AnonHugePages");
}

static void row_named(const char *impl, const char *cmd, int type, size_t size, long per_call,
		      int threads, int rep, unsigned long pages, unsigned long calls, long get_ns,
		      long put_ns, long wall_ns)
{
	fprintf(out, "%s,%s,%s,%zu,%ld,%d,%d,%lu,%lu,%ld,%ld,%ld\n", impl, cmd, types[type],
		size / MIB, per_call, threads, rep, pages, calls, get_ns, put_ns, wall_ns);
}

static void row(const char *impl, int c, int type, size_t size, long per_call, int threads,
		int rep, unsigned long pages, unsigned long calls, long get_ns, long put_ns,
		long wall_ns)
{
	row_named(impl, cmds[c].name, type, size, per_call, threads, rep, pages, calls, get_ns,
		  put_ns, wall_ns);
}

/* The HMM mirror on the same buffer: a new mirror, a fault of an already
 * faulted one, and the drop. */
static void mirror_cell(int type, char *buf, size_t size)
{
	unsigned long pages = size / 4096, calls = (pages + 511) / 512;

	for (int rep = 0; rep < repeats; rep++) {
		struct rust_gup_mirror m = {
			.addr = (unsigned long)buf, .size = size, .flags = RUST_GUP_MIRROR_F_WRITE,
		};
		long t = now_ns(), first_wall, drop_ns;

		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR, &m) || m.valid != pages)
			die("RUST_GUP_IOC_MIRROR");
		first_wall = now_ns() - t;
		__u32 id = m.id;
		long first_ns = m.ns;

		m = (struct rust_gup_mirror) {
			.addr = (unsigned long)buf, .size = size, .flags = RUST_GUP_MIRROR_F_WRITE,
			.id = id,
		};
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR_FAULT, &m) || m.valid != pages)
			die("RUST_GUP_IOC_MIRROR_FAULT");
		row_named("rust-ns", "mirror_faulted", type, size, 512, 1, rep, pages, calls, m.ns, 0,
			  now_ns() - t);
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR_DROP, &id))
			die("RUST_GUP_IOC_MIRROR_DROP");
		drop_ns = now_ns() - t;
		row_named("rust-ns", "mirror_first", type, size, 512, 1, rep, pages, calls, first_ns,
			  drop_ns, first_wall + drop_ns);
	}
}

/* Writes every page of the buffer again, after MADV_DONTNEED dropped them. */
static void touch(char *buf, size_t size)
{
	for (size_t off = 0; off < size; off += 4096)
		buf[off] = 1;
}

/* MADV_DONTNEED of the buffer, timed, then the pages faulted in again. */
static long zap(char *buf, size_t size)
{
	long t = now_ns(), ns;

	if (madvise(buf, size, MADV_DONTNEED))
		die("MADV_DONTNEED");
	ns = now_ns() - t;
	touch(buf, size);
	return ns;
}

/* GUP + DMA map against the mirror mapped for a device, on one buffer,
 * for PCI function `client`. */
static void dma_cell(int type, char *buf, size_t size, long client)
{
	unsigned long pages = size / 4096, calls = (pages + 511) / 512;

	for (int rep = 0; rep < repeats; rep++) {
		struct rust_gup_dma_map d = {
			.addr = (unsigned long)buf, .size = size, .op = RUST_GUP_OP_PIN_FAST,
			.flags = DEVICE_WRITES, .client = client,
		};
		struct rust_gup_mirror m = {
			.addr = (unsigned long)buf, .size = size,
			.flags = RUST_GUP_MIRROR_F_WRITE | RUST_GUP_MIRROR_F_DMA, .client = client,
		};
		long t = now_ns(), get, put;

		if (ioctl(rust_fd, RUST_GUP_IOC_DMA_MAP, &d) || d.size != size)
			die("RUST_GUP_IOC_DMA_MAP");
		get = now_ns() - t;
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_UNPIN, &d.id))
			die("RUST_GUP_IOC_UNPIN");
		put = now_ns() - t;
		row_named("rust-ns", "pin_dma", type, size, -1, 1, rep, pages, 1, get, put, get + put);

		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR, &m) || m.valid != pages)
			die("RUST_GUP_IOC_MIRROR (F_DMA)");
		get = now_ns() - t;
		m = (struct rust_gup_mirror) {
			.addr = (unsigned long)buf, .size = size, .flags = RUST_GUP_MIRROR_F_WRITE,
			.id = m.id,
		};
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR_FAULT, &m) || m.valid != pages)
			die("RUST_GUP_IOC_MIRROR_FAULT (F_DMA)");
		t = now_ns() - t;
		row_named("rust-ns", "mirror_dma_faulted", type, size, 512, 1, rep, pages, calls, t, 0,
			  t);
		put = zap(buf, size);
		row_named("rust-ns", "mirror_dma", type, size, 512, 1, rep, pages, calls, get, put,
			  get + put);
		if (ioctl(rust_fd, RUST_GUP_IOC_MIRROR_DROP, &m.id))
			die("RUST_GUP_IOC_MIRROR_DROP");

		put = zap(buf, size);
		row_named("rust-ns", "zap", type, size, 512, 1, rep, pages, calls, 0, put, put);
	}
}

/* One gup_test command on one device; 0 or -errno. */
static int run_gup_test(int fd, int c, char *buf, size_t size, unsigned long per_call,
			struct gup_test *g, long *wall)
{
	long t;

	*g = (struct gup_test) {
		.addr = (unsigned long)buf, .size = size, .nr_pages_per_call = per_call,
		.gup_flags = RUST_GUP_FOLL_WRITE,
	};
	t = now_ns();
	if (ioctl(fd, cmds[c].cmd, g))
		return -errno;
	*wall = now_ns() - t;
	if (g->size != size)
		return -ERANGE;
	return 0;
}

static void cell(int c, int type, char *buf, size_t size, long per_call_arg)
{
	unsigned long pages = size / 4096;
	unsigned long per_call = per_call_arg < 0 ? pages : (unsigned long)per_call_arg;
	unsigned long calls = (pages + per_call - 1) / per_call;

	for (int rep = 0; rep < repeats; rep++) {
		for (int k = 0; k < 2; k++) {
			int rust = (k == 0) == (rep % 2 == 0);
			struct gup_test g;
			long wall;
			int err = run_gup_test(rust ? rust_fd : c_fd, c, buf, size, per_call, &g, &wall);

			if (err) {
				fprintf(stderr, "rust_gup_bench: %s %s on %s, %zu MiB: %s\n", cmds[c].name,
					rust ? "rust_gup" : "gup_test", types[type], size / MIB,
					strerror(-err));
				exit(1);
			}
			row(rust ? "rust" : "c", c, type, size, per_call_arg, 1, rep, pages, calls,
			    g.get_delta_usec * 1000, g.put_delta_usec * 1000, wall);
		}
		struct rust_gup_bench b = {
			.addr = (unsigned long)buf, .size = size, .op = cmds[c].op,
			.flags = cmds[c].flags | RUST_GUP_F_WRITE, .nr_pages_per_call = per_call,
		};
		long t = now_ns();

		if (ioctl(rust_fd, RUST_GUP_IOC_BENCH, &b) || b.size != size)
			die("RUST_GUP_IOC_BENCH");
		row("rust-ns", c, type, size, per_call_arg, 1, rep, pages, b.calls, b.get_ns, b.put_ns,
		    now_ns() - t);
	}
}

/* The long-term phase. */

/* A memfd of size bytes of the type, mapped shared at *map and faulted in
 * by writing; -1 if it cannot be had (no hugetlb pool). For MEMFD_THP the
 * caller has set shmem's THP policy. */
static int map_memfd(int type, size_t size, char **map)
{
	int fd = memfd_create("rust_gup_bench", type == MEMFD_HUGETLB ? MFD_HUGETLB : 0);

	if (fd < 0)
		return -1;
	/* The size first: shmem's within_size THP policy looks at it. Both
	 * shmem (with THP) and hugetlbfs align the mapping to a huge page. */
	*map = ftruncate(fd, size) ? MAP_FAILED :
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED) {
		close(fd);
		return -1;
	}
	for (size_t off = 0; off < size; off += 4096)
		(*map)[off] = 1;
	if (type == MEMFD_THP)
		check_label(type, *map, size);
	return fd;
}

static long meta_bytes(void)
{
	struct rust_gup_stats s;

	if (ioctl(rust_fd, RUST_GUP_IOC_STATS, &s))
		die("RUST_GUP_IOC_STATS");
	return s.held_meta_bytes;
}

/*
 * C's kept long-term pin of the same memory, timed as rust_gup's held set
 * is, by user space around the ioctl that pins and keeps the range and the
 * one that releases it: the C gup_test's PIN_LONGTERM_TEST_START
 * (pin_user_pages(FOLL_LONGTERM) under the mmap lock, 512 pages per call,
 * into a page array) and _STOP.
 */
static void c_kept_cell(int type, char *buf, size_t size, int rep, unsigned long pages,
			unsigned long calls)
{
	struct pin_longterm_test lt = {
		.addr = (unsigned long)buf, .size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	long t, get, put;

	t = now_ns();
	if (ioctl(c_fd, PIN_LONGTERM_TEST_START, &lt))
		die("PIN_LONGTERM_TEST_START on gup_test (long-term phase)");
	get = now_ns() - t;
	t = now_ns();
	if (ioctl(c_fd, PIN_LONGTERM_TEST_STOP))
		die("PIN_LONGTERM_TEST_STOP on gup_test (long-term phase)");
	put = now_ns() - t;
	row_named("c-ns", "pin_held", type, size, 512, 1, rep, pages, calls, get, put, get + put);
}

/* PIN_LONGTERM_BENCHMARK on both devices, then a held long-term set of the
 * same memory (of memfd, if not -1, by file offset), and C's kept pin of it,
 * in turns. */
static void held_cell(int type, char *buf, int memfd, size_t size, FILE *meta)
{
	unsigned long pages = size / 4096, calls = (pages + 511) / 512;
	const int c = 2;	/* pin_longterm */

	for (int rep = 0; rep < repeats; rep++) {
		struct rust_gup_pin pin = {
			.addr = memfd >= 0 ? 0 : (unsigned long)buf, .size = size,
			.op = memfd >= 0 ? RUST_GUP_OP_PIN_MEMFD : RUST_GUP_OP_PIN_LOCKED,
			.flags = RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM, .fd = memfd >= 0 ? memfd : 0,
		};
		long t, get, put, bytes;

		for (int k = 0; k < 2; k++) {
			int rust = (k == 0) == (rep % 2 == 0);
			struct gup_test g;
			long wall;
			int err = run_gup_test(rust ? rust_fd : c_fd, c, buf, size, 512, &g, &wall);

			if (err) {
				errno = -err;
				die(rust ? "PIN_LONGTERM_BENCHMARK on rust_gup (long-term phase)" :
				    "PIN_LONGTERM_BENCHMARK on gup_test (long-term phase)");
			}
			row_named(rust ? "rust" : "c", "pin_held", type, size, 512, 1, rep, pages, calls,
				  g.get_delta_usec * 1000, g.put_delta_usec * 1000, wall);
		}
		if (rep % 2)
			c_kept_cell(type, buf, size, rep, pages, calls);
		bytes = meta_bytes();
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_PIN, &pin) || pin.size != size)
			die("RUST_GUP_IOC_PIN (long-term phase)");
		get = now_ns() - t;
		bytes = meta_bytes() - bytes;
		t = now_ns();
		if (ioctl(rust_fd, RUST_GUP_IOC_UNPIN, &pin.id))
			die("RUST_GUP_IOC_UNPIN (long-term phase)");
		put = now_ns() - t;
		row_named("rust-ns", "pin_held", type, size, 512, 1, rep, pages, calls, get, put,
			  get + put);
		if (!(rep % 2))
			c_kept_cell(type, buf, size, rep, pages, calls);
		if (meta) {
			fprintf(meta, "array,%s,%zu,%d,%lu,%lu\n", types[type], size / MIB, rep, pages,
				pages * sizeof(void *));
			fprintf(meta, "rust-held,%s,%zu,%d,%lu,%ld\n", types[type], size / MIB, rep,
				pages, bytes);
		}
	}
}

static void held_phase(const struct list *type_list, size_t size, FILE *meta)
{
	char thp_mode[64];

	if (shmem_thp(thp_mode, sizeof(thp_mode)))
		die(SHMEM_THP);
	if (meta)
		fprintf(meta, "impl,pages_type,size_mib,repeat,pages,meta_bytes\n");
	for (int i = 0; i < type_list->nr + 2; i++) {
		int type = i < type_list->nr ? type_list->v[i] : MEMFD_THP + i - type_list->nr;
		long t0 = now_ns();
		int memfd = -1;
		char *buf;

		if (type == MEMFD_THP && write_file(SHMEM_THP, "within_size"))
			die(SHMEM_THP);
		if (type < MEMFD_THP) {
			buf = map_buffer(type, size);
		} else {
			memfd = map_memfd(type, size, &buf);
			if (memfd < 0)
				buf = NULL;
		}
		if (!buf) {
			fprintf(stderr, "# long-term phase, %s %zu MiB: cannot map (%s), skipped\n",
				types[type], size / MIB, strerror(errno));
		} else {
			if (type == 1 || type == MEMFD_THP)
				fprintf(stderr, "# long-term phase, %s %zu MiB: %ld MiB in huge pages\n",
					types[type], size / MIB,
					(type == 1 ? anon_huge_kb() : shmem_huge_kb()) / 1024);
			held_cell(type, buf, memfd, size, meta);
			munmap(buf, size);
			fprintf(stderr, "# long-term phase, %s %zu MiB: %d repeats in %.1f s\n",
				types[type], size / MIB, repeats, (now_ns() - t0) / 1e9);
		}
		if (memfd >= 0)
			close(memfd);
		if (type == MEMFD_THP)
			write_file(SHMEM_THP, thp_mode);
	}
}

/* The thread phase. */
struct thread_arg {
	pthread_barrier_t *start;
	int fd, c;
	char *buf;
	size_t size;
	struct gup_test g;
	long wall;
	int err;
};

static void *thread_run(void *p)
{
	struct thread_arg *a = p;

	pthread_barrier_wait(a->start);
	a->err = run_gup_test(a->fd, a->c, a->buf, a->size, 512, &a->g, &a->wall);
	return NULL;
}

static void threads_cell(int c, int type, char *buf, size_t size, int nthreads)
{
	struct thread_arg args[64];
	pthread_t tids[64];
	pthread_barrier_t start;

	for (int rep = 0; rep < repeats; rep++) {
		for (int k = 0; k < 2; k++) {
			int rust = (k == 0) == (rep % 2 == 0);

			pthread_barrier_init(&start, NULL, nthreads);
			for (int t = 0; t < nthreads; t++) {
				args[t] = (struct thread_arg) { .start = &start, .fd = rust ? rust_fd : c_fd,
					.c = c, .buf = buf, .size = size };
				if (pthread_create(&tids[t], NULL, thread_run, &args[t]))
					die("pthread_create");
			}
			for (int t = 0; t < nthreads; t++) {
				pthread_join(tids[t], NULL);
				if (args[t].err) {
					errno = -args[t].err;
					die("threaded gup_test");
				}
				row(rust ? "rust" : "c", c, type, size, 512, nthreads, rep, size / 4096,
				    (size / 4096 + 511) / 512, args[t].g.get_delta_usec * 1000,
				    args[t].g.put_delta_usec * 1000, args[t].wall);
			}
			pthread_barrier_destroy(&start);
		}
	}
}

int main(int argc, char **argv)
{
	static const char *const cmd_names[] = { "gup_fast", "pin_fast", "pin_longterm",
						 "gup_basic", "pin_basic" };
	char sizes_arg[] = "2,8,32,128,512,1024", calls_arg[] = "1,512,all";
	char cmds_arg[] = "gup_fast,pin_fast,pin_longterm,gup_basic,pin_basic";
	char types_arg[] = "4k,thp,hugetlb", threads_arg[] = "1,2,4";
	struct list sizes, per_calls, cmd_list, type_list, thread_list;
	long threads_mib = 128, held_mib = 1024;
	FILE *meta = NULL;
	int opt, mirrors = 1, dma = 1;
	char client_name[64], mode[32], thp[32];
	long client;

	out = stdout;
	parse_list(&sizes, sizes_arg, NULL, 0);
	parse_list(&per_calls, calls_arg, NULL, 0);
	parse_list(&cmd_list, cmds_arg, cmd_names, NR_CMDS);
	parse_list(&type_list, types_arg, types, 3);
	parse_list(&thread_list, threads_arg, NULL, 0);
	while ((opt = getopt(argc, argv, "o:r:s:n:c:p:j:J:MDL:m:")) != -1) {
		switch (opt) {
		case 'o':
			out = fopen(optarg, "w");
			if (!out)
				die(optarg);
			break;
		case 'r': repeats = atoi(optarg); break;
		case 's': parse_list(&sizes, optarg, NULL, 0); break;
		case 'n': parse_list(&per_calls, optarg, NULL, 0); break;
		case 'c': parse_list(&cmd_list, optarg, cmd_names, NR_CMDS); break;
		case 'p': parse_list(&type_list, optarg, types, 3); break;
		case 'j': parse_list(&thread_list, optarg, NULL, 0); break;
		case 'J': threads_mib = atol(optarg); break;
		case 'M': mirrors = 0; break;
		case 'D': dma = 0; break;
		case 'L': held_mib = atol(optarg); break;
		case 'm':
			meta = fopen(optarg, "w");
			if (!meta)
				die(optarg);
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top of rust_gup_bench.c\n");
			return 2;
		}
	}
	if (repeats < 1)
		return 2;
	rust_fd = open(RUST_GUP_DEVICE, O_RDWR);
	if (rust_fd < 0)
		die(RUST_GUP_DEVICE);
	c_fd = open(C_DEVICE, O_RDWR);
	if (c_fd < 0)
		die(C_DEVICE " (CONFIG_GUP_TEST, debugfs mounted?)");
	check_clocksource("at start");
	/* What the guest's THP settings are, for the report's label. */
	if (shmem_thp(mode, sizeof(mode)) || sysfs_choice(THP_ENABLED, thp, sizeof(thp)))
		die("the THP settings");
	fprintf(stderr, "# guest THP: enabled=%s shmem_enabled=%s\n", thp, mode);
	client = dma ? pci_function("nvme", -1, client_name, sizeof(client_name)) : -1;
	if (dma && client < 0)
		fprintf(stderr, "# no PCI function bound to nvme: no DMA rows\n");
	else if (dma)
		fprintf(stderr, "# DMA rows: mapped for %s\n", client_name);
	fprintf(out, "impl,cmd,pages_type,size_mib,per_call,threads,repeat,pages,calls,get_ns,put_ns,wall_ns\n");

	for (int ti = 0; ti < type_list.nr; ti++) {
		int type = type_list.v[ti];

		for (int si = 0; si < sizes.nr; si++) {
			size_t size = sizes.v[si] * MIB;
			long t0 = now_ns();
			char *buf = map_buffer(type, size);

			if (!buf) {
				fprintf(stderr, "# %s %zu MiB: cannot map (%s), skipped\n", types[type],
					size / MIB, strerror(errno));
				continue;
			}
			if (type == 1)
				fprintf(stderr, "# thp %zu MiB: %ld MiB in huge pages\n", size / MIB,
					anon_huge_kb() / 1024);
			for (int ci = 0; ci < cmd_list.nr; ci++)
				for (int ni = 0; ni < per_calls.nr; ni++)
					cell(cmd_list.v[ci], type, buf, size, per_calls.v[ni]);
			if (mirrors && size / 4096 <= RUST_GUP_MIRROR_MAX_PAGES)
				mirror_cell(type, buf, size);
			if (client >= 0 && size / 4096 <= RUST_GUP_MIRROR_MAX_PAGES)
				dma_cell(type, buf, size, client);
			fflush(out);
			munmap(buf, size);
			fprintf(stderr, "# %s %zu MiB: %d cells x %d repeats in %.1f s\n", types[type],
				size / MIB, cmd_list.nr * per_calls.nr, repeats,
				(now_ns() - t0) / 1e9);
		}
	}

	for (int ti = 0; ti < type_list.nr; ti++) {
		int type = type_list.v[ti];
		char *buf;

		if (type == 2)	/* the thread phase uses 4k and THP buffers */
			continue;
		buf = map_buffer(type, threads_mib * MIB);
		if (!buf)
			die("mmap for the thread phase");
		for (int ji = 0; ji < thread_list.nr; ji++)
			for (int c = 0; c < 2; c++)	/* gup_fast, pin_fast */
				threads_cell(c, type, buf, threads_mib * MIB, thread_list.v[ji]);
		munmap(buf, threads_mib * MIB);
		fprintf(stderr, "# threads on %s %ld MiB: done\n", types[type], threads_mib);
	}
	if (held_mib > 0) {
		held_phase(&type_list, held_mib * MIB, meta);
		fprintf(stderr, "# long-term phase: done\n");
	}
	check_clocksource("at end");
	if (out != stdout)
		fclose(out);
	if (meta)
		fclose(meta);
	return 0;
}
