// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup under failure: a task killed in the middle of a long pin or
 * mirror, a pinned range unmapped under its set, the file closed while
 * ioctls are in flight on it, a pin of more than the guest's memory, and
 * every allocation of a call failed in turn (fail-nth, on a kernel with
 * fault injection). After each test the FOLL_PIN counters in /proc/vmstat
 * and the module's own counters (RUST_GUP_IOC_STATS) are back where they
 * started: whatever failed, nothing leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

static long page_size;

/* Module-wide counters, as RUST_GUP_IOC_STATS reports them. */
static int get_stats(int fd, struct rust_gup_stats *s)
{
	memset(s, 0xff, sizeof(*s));
	return ioctl(fd, RUST_GUP_IOC_STATS, s) ? -errno : 0;
}

static bool same_stats(const struct rust_gup_stats *a, const struct rust_gup_stats *b)
{
	return a->open_files == b->open_files && a->mirrors == b->mirrors &&
	       a->held_sets == b->held_sets && a->held_pages == b->held_pages &&
	       a->charged_pages == b->charged_pages && a->held_meta_bytes == b->held_meta_bytes;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A field of /proc/meminfo, in kB; -1 if not found. */
static long meminfo_kb(const char *name)
{
	return proc_kb("/proc/meminfo", name);
}

static char *map_anon(size_t size, int extra_flags)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static long mirror_for(int fd, void *addr, size_t size, __u32 flags, __u32 client)
{
	struct rust_gup_mirror m = {
		.addr = (unsigned long)addr, .size = size, .flags = flags, .client = client,
	};

	if (ioctl(fd, RUST_GUP_IOC_MIRROR, &m))
		return -errno;
	return m.id;
}

static long mirror(int fd, void *addr, size_t size, __u32 flags)
{
	return mirror_for(fd, addr, size, flags, 0);
}

static int drop_mirror(int fd, __u32 id)
{
	return ioctl(fd, RUST_GUP_IOC_MIRROR_DROP, &id) ? -errno : 0;
}

static int bench(int fd, void *addr, size_t size, __u32 op, __u32 flags, long *pages)
{
	struct rust_gup_bench b = {
		.addr = (unsigned long)addr, .size = size, .op = op, .flags = flags,
	};

	*pages = 0;
	if (ioctl(fd, RUST_GUP_IOC_BENCH, &b))
		return -errno;
	*pages = b.size / page_size;
	return 0;
}

FIXTURE(faults) {
	int fd;				/* for STATS; open for the whole test */
	long pins;			/* pins_outstanding() at setup */
	struct rust_gup_stats stats;	/* the module's counters at setup */
};

FIXTURE_SETUP(faults)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
	ASSERT_EQ(0, get_stats(self->fd, &self->stats));
	self->pins = pins_outstanding();
}

static void restore_fault_knobs(void);

FIXTURE_TEARDOWN(faults)
{
	restore_fault_knobs();
	close(self->fd);
}

/*
 * Whether the pins and the module's counters are back at their values at
 * setup. A file is released after its last user is gone, which may lag a
 * little behind a close() or a wait(): this waits for up to two seconds.
 */
static bool wait_baseline(FIXTURE_DATA(faults) *self, long *pins, struct rust_gup_stats *s)
{
	for (int i = 0; i < 200; i++) {
		*pins = pins_outstanding();
		if (get_stats(self->fd, s))
			return false;
		if (*pins == self->pins && same_stats(s, &self->stats))
			return true;
		usleep(10000);
	}
	return false;
}

#define EXPECT_BASELINE(what) do { \
	long _pins; \
	struct rust_gup_stats _s; \
	bool _ok = wait_baseline(self, &_pins, &_s); \
	EXPECT_TRUE(_ok) TH_LOG("%s: pins %ld (start %ld); sets %llu pages %llu mirrors %u files %u " \
				"(start %llu %llu %u %u)", what, _pins, self->pins, \
				(unsigned long long)_s.held_sets, (unsigned long long)_s.held_pages, \
				_s.mirrors, _s.open_files, \
				(unsigned long long)self->stats.held_sets, \
				(unsigned long long)self->stats.held_pages, \
				self->stats.mirrors, self->stats.open_files); \
} while (0)

/*
 * 1. SIGKILL in the middle of a long take. A child maps 512 MiB it never
 * touches, so GUP (or hmm_range_fault()) has to fault in every page, and
 * takes it for writing; the parent kills it 100 ms in. GUP stops at a
 * fatal signal (the mirror goes on to its end); either way the killed
 * task's file is released on exit and frees whatever was taken.
 */
#define KILL_SIZE (512ul << 20)

enum kill_kind { KILL_PIN_FAST, KILL_PIN_LOCKED, KILL_MIRROR };

static const char *const kill_names[] = {
	[KILL_PIN_FAST] = "RUST_GUP_IOC_PIN (PIN_FAST, write)",
	[KILL_PIN_LOCKED] = "RUST_GUP_IOC_PIN (PIN_LOCKED, write)",
	[KILL_MIRROR] = "RUST_GUP_IOC_MIRROR (write fault)",
};

static void child_take(enum kill_kind kind, int ready, int done)
{
	int fd = open(RUST_GUP_DEVICE, O_RDWR);
	char *p = map_anon(KILL_SIZE, MAP_NORESERVE);
	long pages, ret;
	double t;
	__u32 id;

	if (fd < 0 || !p)
		_exit(10);
	/*
	 * GUP reschedules between pages, so 4 KiB pages make the longest
	 * pin. hmm_range_fault() and the module's mirror loop never do: on a
	 * kernel without preemption and one CPU (the test VM's) the parent
	 * would not run before the mirror call ends. Zeroing a THP does
	 * reschedule, between its subpages: the mirror gets THPs.
	 */
	if (madvise(p, KILL_SIZE, kind == KILL_MIRROR ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		_exit(12);
	t = now_s();
	if (write(ready, &t, sizeof(t)) != sizeof(t))
		_exit(11);
	if (kind == KILL_MIRROR)
		ret = mirror(fd, p, KILL_SIZE, RUST_GUP_MIRROR_F_WRITE);
	else
		ret = hold(fd, p, KILL_SIZE,
			   kind == KILL_PIN_FAST ? RUST_GUP_OP_PIN_FAST : RUST_GUP_OP_PIN_LOCKED,
			   RUST_GUP_F_WRITE, &id, &pages);
	/* Still alive: the call returned before the signal came. */
	dprintf(done, "%ld after %.0f ms\n", ret, (now_s() - t) * 1e3);
	pause();
	_exit(0);
}

static long statm_resident_kb(pid_t pid)
{
	char path[64];
	long size, resident = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	f = fopen(path, "r");
	if (f && fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	if (f)
		fclose(f);
	return resident < 0 ? -1 : resident * (page_size / 1024);
}

TEST_F_TIMEOUT(faults, sigkill_mid_pin, 120)
{
	for (int kind = KILL_PIN_FAST; kind <= KILL_MIRROR; kind++) {
		int ready[2], done[2], status;
		long pins_mid, rss_kb;
		double t_ready, t_kill, t_reaped;
		char buf[64];
		ssize_t n;
		pid_t pid;

		ASSERT_EQ(0, pipe(ready));
		ASSERT_EQ(0, pipe2(done, O_NONBLOCK));
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			close(ready[0]);
			close(done[0]);
			child_take(kind, ready[1], done[1]);
		}
		close(ready[1]);
		close(done[1]);
		ASSERT_EQ(sizeof(t_ready), read(ready[0], &t_ready, sizeof(t_ready)))
			TH_LOG("the child failed to set up");
		if (now_s() - t_ready > 0.05)
			printf("# the parent woke %.0f ms after the child's call started\n",
			       (now_s() - t_ready) * 1e3);
		usleep(100 * 1000);
		rss_kb = statm_resident_kb(pid);
		pins_mid = pins_outstanding() - self->pins;
		t_kill = now_s();
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		t_reaped = now_s();
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("%s: child status %#x", kill_names[kind], status);
		n = read(done[0], buf, sizeof(buf) - 1);
		if (n > 0)
			buf[n] = 0;
		/* The signal must have come while the call was running. */
		EXPECT_LE(n, 0) TH_LOG("%s returned %.*s, before the kill", kill_names[kind],
				       (int)(n > 0 ? n - 1 : 0), buf);
		if (kind != KILL_MIRROR) {
			/* Pins are taken page by page as GUP goes. */
			EXPECT_GT(pins_mid, 0) TH_LOG("%s: no pins 100 ms in", kill_names[kind]);
		}
		printf("# %s: killed %.0f ms in (%ld pins outstanding, child resident %ld MiB), "
		       "dead %.0f ms later\n", kill_names[kind], (t_kill - t_ready) * 1e3, pins_mid,
		       rss_kb / 1024, (t_reaped - t_kill) * 1e3);
		close(ready[0]);
		close(done[0]);
		EXPECT_BASELINE(kill_names[kind]);
	}
}

/*
 * 2. munmap of a pinned range. The pins keep the pages: the set still
 * describes them (same pfns, DMA-pinned, the pins counted, the mapping's
 * reference gone) and their contents survive, though no page table maps
 * them any more; UNPIN frees them.
 */
#define MUNMAP_PAGES 64

TEST_F(faults, munmap_pinned_range)
{
	struct rust_gup_page_info before[MUNMAP_PAGES], after[MUNMAP_PAGES];
	size_t size = MUNMAP_PAGES * page_size;
	char *buf = map_anon(size, 0), *copy = malloc(size);
	struct pin_longterm_test lt = { .size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE };
	struct rust_gup_stats s;
	__u64 dest = (unsigned long)copy;
	long pages;
	__u32 id;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, madvise(buf, size, MADV_NOHUGEPAGE));
	for (int i = 0; i < MUNMAP_PAGES; i++)
		memset(buf + i * page_size, 'A' + i % 26, page_size);

	/* Two pins per page: the long-term test's, which can copy the pages
	 * out, and a set's, which the query describes. */
	lt.addr = (unsigned long)buf;
	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_START, &lt));
	ASSERT_EQ(0, hold(self->fd, buf, size, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_F_WRITE, &id, &pages));
	ASSERT_EQ(MUNMAP_PAGES, pages);
	ASSERT_EQ(MUNMAP_PAGES, query(self->fd, id, before, MUNMAP_PAGES));
	EXPECT_EQ(self->pins + 2 * MUNMAP_PAGES, pins_outstanding());

	ASSERT_EQ(0, munmap(buf, size));
	/* Still pinned, still counted, still the same pages. */
	EXPECT_EQ(self->pins + 2 * MUNMAP_PAGES, pins_outstanding());
	ASSERT_EQ(0, get_stats(self->fd, &s));
	EXPECT_EQ(self->stats.held_sets + 2, s.held_sets);
	EXPECT_EQ(self->stats.held_pages + 2 * MUNMAP_PAGES, s.held_pages);
	ASSERT_EQ(MUNMAP_PAGES, query(self->fd, id, after, MUNMAP_PAGES));
	for (int i = 0; i < MUNMAP_PAGES; i++) {
		EXPECT_TRUE(after[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
		EXPECT_EQ(before[i].pfn, after[i].pfn) TH_LOG("page %d", i);
		EXPECT_EQ(2, after[i].pincount) TH_LOG("page %d", i);
		/* Only the pins hold the page now (and perhaps an LRU batch). */
		EXPECT_LT(after[i].refcount, before[i].refcount) TH_LOG("page %d", i);
	}
	/* The contents survive the unmapping. */
	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
	for (int i = 0; i < MUNMAP_PAGES; i++) {
		EXPECT_EQ('A' + i % 26, copy[i * page_size]);
		EXPECT_EQ('A' + i % 26, copy[(i + 1) * page_size - 1]);
	}

	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
	ASSERT_EQ(MUNMAP_PAGES, query(self->fd, id, after, MUNMAP_PAGES));
	for (int i = 0; i < MUNMAP_PAGES; i++) {
		EXPECT_EQ(1, after[i].pincount) TH_LOG("page %d", i);
	}
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(-ENOENT, unhold(self->fd, id));
	free(copy);
	EXPECT_BASELINE("munmap_pinned_range");
}

/*
 * 3. close() of the fd while another thread is inside ioctls on it. The
 * in-flight ioctl keeps the file alive (fdget takes a reference in a
 * threaded process); later ones get EBADF; what the in-flight ones left
 * in the file (a set, a mirror) is freed when the file is released.
 */
#define RACE_ROUNDS 200
#define RACE_PAGES 16

struct racer {
	int fd;
	char *buf;
	atomic_int started;
	atomic_int closed;	/* set once close() has returned */
	/* Results, read after the join. */
	long ok, ebadf, orphan_sets, orphan_mirrors, in_flight;
	int bad_err;
	const char *bad_op;
};

/* True when the racer should stop: EBADF, or an unexpected result. */
static bool racer_result(struct racer *r, int ret, const char *op)
{
	if (!ret) {
		r->ok++;
		/* It returned after close() did, and succeeded: it was in
		 * flight when the fd was closed. */
		if (atomic_load(&r->closed))
			r->in_flight++;
		return false;
	}
	if (ret == -EBADF) {
		r->ebadf++;
		return true;
	}
	r->bad_err = -ret;
	r->bad_op = op;
	return true;
}

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	size_t size = RACE_PAGES * page_size;

	for (;;) {
		long pages, id;
		__u32 set;
		int ret;

		atomic_store(&r->started, 1);
		ret = hold(r->fd, r->buf, size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE, &set, &pages);
		if (racer_result(r, ret, "PIN"))
			return NULL;
		ret = unhold(r->fd, set);
		if (ret == -EBADF)
			r->orphan_sets++;
		if (racer_result(r, ret, "UNPIN"))
			return NULL;

		ret = bench(r->fd, r->buf, size, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_F_WRITE, &pages);
		if (racer_result(r, ret, "BENCH"))
			return NULL;

		id = mirror(r->fd, r->buf, size, RUST_GUP_MIRROR_F_WRITE);
		if (racer_result(r, id < 0 ? id : 0, "MIRROR"))
			return NULL;
		ret = drop_mirror(r->fd, id);
		if (ret == -EBADF)
			r->orphan_mirrors++;
		if (racer_result(r, ret, "MIRROR_DROP"))
			return NULL;
	}
}

TEST_F_TIMEOUT(faults, close_during_ioctl, 120)
{
	size_t size = RACE_PAGES * page_size;
	char *buf = map_anon(size, 0);
	long ok = 0, ebadf = 0, orphan_sets = 0, orphan_mirrors = 0, in_flight = 0;
	unsigned int seed = 1;

	ASSERT_NE(NULL, buf);
	memset(buf, 1, size);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct racer r = { .buf = buf };
		pthread_t thread;

		r.fd = open(RUST_GUP_DEVICE, O_RDWR);
		ASSERT_GE(r.fd, 0);
		ASSERT_EQ(0, pthread_create(&thread, NULL, racer_fn, &r));
		while (!atomic_load(&r.started))
			sched_yield();
		usleep(rand_r(&seed) % 2000);
		/* No open() until the racer is done: the number stays free. */
		ASSERT_EQ(0, close(r.fd));
		atomic_store(&r.closed, 1);
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(NULL, r.bad_op) TH_LOG("round %d: %s: %s, expected success or EBADF",
						 round, r.bad_op, errname(r.bad_err));
		EXPECT_EQ(1, r.ebadf);
		ok += r.ok;
		ebadf += r.ebadf;
		orphan_sets += r.orphan_sets;
		orphan_mirrors += r.orphan_mirrors;
		in_flight += r.in_flight;
	}
	printf("# %d rounds: %ld ioctls succeeded (%ld of them returned after the close()), "
	       "%ld EBADF; %ld sets and %ld mirrors were left to the file's release\n",
	       RACE_ROUNDS, ok, in_flight, ebadf, orphan_sets, orphan_mirrors);
	EXPECT_EQ(RACE_ROUNDS, ebadf);
	munmap(buf, size);
	EXPECT_BASELINE("close_during_ioctl");
}

/*
 * 4. A pin of more than the guest's memory (2 GiB), and past what a set
 * may record: 2^22 runs of pages at consecutive frames (33 MiB of them),
 * reached at 16 GiB of scattered 4 KiB pages.
 *
 * What GUP does: a read pin of untouched private anonymous memory faults
 * in the shared zero page (with THP, the huge zero page), which takes no
 * memory at all, so a read pin of 8 GiB succeeds whole. A write pin
 * allocates a page per page, and past the guest's memory the page
 * allocator calls the OOM killer, which kills the pinning task: not
 * something a test can do. A hugetlb mapping without a reservation is
 * bounded by the pool instead: the fault past the last free huge page is
 * SIGBUS, and GUP stops there with a prefix. A registration
 * (LONGTERM|ACCOUNT) is checked against RLIMIT_MEMLOCK before anything is
 * pinned: ENOMEM, nothing taken.
 */
#define BIG_SIZE (8ul << 30)
#define MODULE_MAX_RUNS (1ul << 22)

TEST_F_TIMEOUT(faults, pin_more_than_memory, 450)
{
	long total_kb = meminfo_kb("MemTotal"), avail_kb, pages, vm_pin;
	struct rust_gup_page_info info[2];
	struct rlimit rl = { .rlim_cur = 16 << 20, .rlim_max = 16 << 20 };
	size_t huge_size = (MODULE_MAX_RUNS + 1) * page_size;
	struct rust_gup_stats before, during;
	char *big, *huge;
	double t;
	__u32 id;
	int ret;

	ASSERT_GT(total_kb, 0);
	ASSERT_LT(total_kb, BIG_SIZE >> 10) TH_LOG("the guest has %ld kB: not more than 8 GiB", total_kb);

	/* A read pin of 2^22 + 1 untouched small pages: the zero page each
	 * time, so each page its own run. The set stops at the runs' limit:
	 * a prefix of 2^22 pages, recorded in 32 MiB and a little. */
	huge = map_anon(huge_size, MAP_NORESERVE);
	ASSERT_NE(NULL, huge);
	ASSERT_EQ(0, madvise(huge, huge_size, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	t = now_s();
	ret = hold(self->fd, huge, huge_size, RUST_GUP_OP_PIN_FAST, 0, &id, &pages);
	t = now_s() - t;
	ASSERT_EQ(0, ret) TH_LOG("%s", errname(-ret));
	ASSERT_EQ(0, get_stats(self->fd, &during));
	printf("# read pin of %lu zero pages: %ld pages in %.2f s, %llu bytes of runs\n",
	       MODULE_MAX_RUNS + 1, pages, t,
	       (unsigned long long)(during.held_meta_bytes - before.held_meta_bytes));
	EXPECT_EQ(MODULE_MAX_RUNS, pages);
	EXPECT_LE(8 * MODULE_MAX_RUNS, during.held_meta_bytes - before.held_meta_bytes);
	EXPECT_GE(9 * MODULE_MAX_RUNS, during.held_meta_bytes - before.held_meta_bytes);
	ASSERT_EQ(0, unhold(self->fd, id));
	munmap(huge, huge_size);

	/* A read pin of 8 GiB untouched: the (huge) zero page, no memory. */
	big = map_anon(BIG_SIZE, MAP_NORESERVE);
	ASSERT_NE(NULL, big);
	madvise(big, BIG_SIZE, MADV_HUGEPAGE);
	avail_kb = meminfo_kb("MemAvailable");
	t = now_s();
	ret = hold(self->fd, big, BIG_SIZE, RUST_GUP_OP_PIN_FAST, 0, &id, &pages);
	t = now_s() - t;
	if (ret) {
		printf("# read pin of 8 GiB (guest: %ld MiB): %s after %.2f s\n", total_kb >> 10,
		       errname(-ret), t);
		EXPECT_TRUE(ret == -ENOMEM || ret == -EFAULT) TH_LOG("%s", errname(-ret));
	} else {
		long used_kb = avail_kb - meminfo_kb("MemAvailable");

		ASSERT_GT(pages, 0);
		ASSERT_EQ(2, query(self->fd, id, info, 2));
		printf("# read pin of 8 GiB (guest: %ld MiB): %ld pages (%ld MiB) in %.2f s, "
		       "MemAvailable down %ld MiB; page 0: pfn %#llx order %u flags %#x "
		       "pincount %u; %ld pins counted\n",
		       total_kb >> 10, pages, pages * page_size >> 20, t, used_kb >> 10,
		       (unsigned long long)info[0].pfn, info[0].order, info[0].flags,
		       info[0].pincount, pins_outstanding() - self->pins);
		/* Whatever it took, it took no memory for the pages. */
		EXPECT_LT(used_kb, total_kb / 4);
		EXPECT_FALSE(info[0].flags & RUST_GUP_PAGE_ANON) TH_LOG("not the zero page");
		ASSERT_EQ(0, unhold(self->fd, id));
	}
	EXPECT_EQ(self->pins, pins_outstanding());
	munmap(big, BIG_SIZE);

	/* A write pin of 8 GiB of hugetlb without reservation: the pool's
	 * free pages, then SIGBUS, so a prefix; then released. */
	{
		long free_huge = meminfo_kb("HugePages_Free");
		long huge_kb = meminfo_kb("Hugepagesize");

		big = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
		if (big == MAP_FAILED || free_huge <= 0 || huge_kb <= 0) {
			printf("# no hugetlb pool (%ld free): hugetlb part left out\n", free_huge);
		} else {
			long expect = free_huge * (huge_kb * 1024 / page_size);

			t = now_s();
			ret = hold(self->fd, big, BIG_SIZE, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_F_WRITE,
				   &id, &pages);
			t = now_s() - t;
			printf("# write pin of 8 GiB of hugetlb, %ld huge pages free: %s, %ld pages "
			       "(%ld MiB) in %.2f s\n", free_huge, errname(-ret), pages,
			       pages * page_size >> 20, t);
			ASSERT_EQ(0, ret);
			EXPECT_EQ(expect, pages);
			EXPECT_EQ(self->pins + pages, pins_outstanding());
			ASSERT_EQ(0, unhold(self->fd, id));
			EXPECT_EQ(self->pins, pins_outstanding());
		}
		if (big != MAP_FAILED) {
			munmap(big, BIG_SIZE);
			/* The mapping had the pages; the pool has them back. */
			EXPECT_EQ(free_huge, meminfo_kb("HugePages_Free"));
		}
	}

	/* A registration of 8 GiB with RLIMIT_MEMLOCK at 16 MiB (no
	 * CAP_IPC_LOCK): ENOMEM up front, nothing pinned or charged. */
	big = map_anon(BIG_SIZE, MAP_NORESERVE);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, drop_cap(CAP_IPC_LOCK));
	vm_pin = vm_pin_kb();
	ret = hold(self->fd, big, BIG_SIZE, RUST_GUP_OP_PIN_FAST,
		   RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, &id, &pages);
	printf("# registration of 8 GiB, RLIMIT_MEMLOCK 16 MiB: %s\n", errname(-ret));
	EXPECT_EQ(-ENOMEM, ret);
	EXPECT_EQ(vm_pin, vm_pin_kb());
	EXPECT_EQ(self->pins, pins_outstanding());
	/* Under the limit it works, and goes again. */
	ASSERT_EQ(0, hold(self->fd, big, 16 * page_size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, &id, &pages));
	EXPECT_EQ(16, pages);
	EXPECT_EQ(vm_pin + 16 * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(vm_pin, vm_pin_kb());
	munmap(big, BIG_SIZE);
	EXPECT_BASELINE("pin_more_than_memory");
}

/*
 * 4b. Releases of maximal sets let other tasks run. The set: 2^22 zero
 * pages (16 GiB untouched, read-taken), each its own run, the most a set
 * records; held by reference (GET) and by pin. A spinner shares CPU 0
 * with the test and records the longest time it went without the CPU:
 * on this kernel (no preemption in the kernel) a release that never
 * calls cond_resched() keeps it off for the whole release, and a long one
 * set off the soft-lockup watchdog. The spinner must get the CPU within a
 * quarter of each release (QUERY of the whole set too), and the releases
 * must take long enough (1/4 s) for that to mean something.
 */
struct spin_log {
	atomic_long last_ns, max_gap_ns;
	atomic_int stop;
};

static long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000l + ts.tv_nsec;
}

static void spin(struct spin_log *log)
{
	while (!atomic_load(&log->stop)) {
		long now = mono_ns(), gap = now - atomic_load(&log->last_ns);

		if (gap > atomic_load(&log->max_gap_ns))
			atomic_store(&log->max_gap_ns, gap);
		atomic_store(&log->last_ns, now);
	}
}

/* The longest the spinner went without the CPU during a call that took
 * *took ns, once the spinner has run again. */
#define TIMED(log, took, call) ({							long _t;									int _ret;																			atomic_store(&(log)->max_gap_ns, 0);						_t = mono_ns();									_ret = (call);									*(took) = mono_ns() - _t;							usleep(100 * 1000);								_ret;									})

TEST_F_TIMEOUT(faults, large_releases_reschedule, 600)
{
	const size_t size = MODULE_MAX_RUNS * page_size;
	const long min_ns = 250 * 1000000l;
	struct spin_log *log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct rust_gup_page_info *info = malloc(MODULE_MAX_RUNS * sizeof(*info));
	const struct { const char *what; __u32 op; } sets[] = {
		{ "GET (references)", RUST_GUP_OP_GET_FAST },
		{ "PIN", RUST_GUP_OP_PIN_FAST },
	};
	cpu_set_t cpu0;
	char *big;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, log);
	ASSERT_NE(NULL, info);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	big = map_anon(size, MAP_NORESERVE);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, madvise(big, size, MADV_NOHUGEPAGE));
	atomic_store(&log->last_ns, mono_ns());
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		spin(log);
		_exit(0);
	}
	for (unsigned int i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		long took, gap, pages;
		__u32 id;
		int ret;

		ASSERT_EQ(0, hold(self->fd, big, size, sets[i].op, 0, &id, &pages));
		EXPECT_EQ(MODULE_MAX_RUNS, pages);
		ret = TIMED(log, &took, query(self->fd, id, info, MODULE_MAX_RUNS));
		gap = atomic_load(&log->max_gap_ns);
		EXPECT_EQ(MODULE_MAX_RUNS, ret);
		printf("# QUERY of %s of %lu pages: %ld ms, spinner off the CPU %ld ms at most\n",
		       sets[i].what, MODULE_MAX_RUNS, took / 1000000, gap / 1000000);
		EXPECT_LT(gap, took / 4 + 20 * 1000000l);
		ret = TIMED(log, &took, unhold(self->fd, id));
		gap = atomic_load(&log->max_gap_ns);
		EXPECT_EQ(0, ret);
		printf("# release of %s of %lu pages: %ld ms, spinner off the CPU %ld ms at most\n",
		       sets[i].what, MODULE_MAX_RUNS, took / 1000000, gap / 1000000);
		EXPECT_LE(min_ns, took) TH_LOG("too quick to tell");
		EXPECT_LT(gap, took / 4);
	}
	atomic_store(&log->stop, 1);
	waitpid(pid, NULL, 0);
	munmap(big, size);
	free(info);
	EXPECT_BASELINE("large_releases_reschedule");
}

/*
 * 5. fail-nth: each call is made again and again with the n-th fault
 * injection point of the task made to fail, n = 1, 2, 3, ..., until one
 * succeeds with no fault injected, with the fault knobs of rust_gup_util.h.
 */
enum fault_call {
	CALL_PIN, CALL_PIN_REMOTE, CALL_PIN_WORKER, CALL_PIN_PID, CALL_PIN_MEMFD, CALL_ACCESS,
	CALL_MIRROR, CALL_MIRROR_DMA, CALL_BENCH, CALL_DMA_MAP, CALL_OPEN,
};

static const char *const call_names[] = {
	[CALL_PIN] = "RUST_GUP_IOC_PIN",
	[CALL_PIN_REMOTE] = "RUST_GUP_IOC_PIN (remote registration)",
	[CALL_PIN_WORKER] = "RUST_GUP_IOC_PIN (remote registration, kernel worker)",
	[CALL_PIN_PID] = "RUST_GUP_IOC_PIN (pid-named registration)",
	[CALL_PIN_MEMFD] = "RUST_GUP_IOC_PIN (memfd registration)",
	[CALL_ACCESS] = "RUST_GUP_IOC_ACCESS",
	[CALL_MIRROR] = "RUST_GUP_IOC_MIRROR",
	[CALL_MIRROR_DMA] = "RUST_GUP_IOC_MIRROR (mapped for a device)",
	[CALL_BENCH] = "RUST_GUP_IOC_BENCH", [CALL_DMA_MAP] = "RUST_GUP_IOC_DMA_MAP",
	[CALL_OPEN] = "open",
};

/* The remote registrations fail-nth injects into. */
#define REMOTE_REG (RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT | RUST_GUP_F_WRITE)

#define FAULT_PAGES 16
#define MAX_NTH 3000

TEST_F_TIMEOUT(faults, fail_nth, 300)
{
	size_t size = FAULT_PAGES * page_size;
	char client_name[64];
	long client = pci_function("nvme", -1, client_name, sizeof(client_name));
	int nth;

	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth < 0)
		SKIP(return, "no /proc/thread-self/fail-nth: kernel without CONFIG_FAULT_INJECTION");
	ASSERT_EQ(0, set_fault_knobs()) TH_LOG("cannot set the failslab/fail_page_alloc knobs");

	for (int c = CALL_PIN; c <= CALL_OPEN; c++) {
		long injected = 0, failed = 0, absorbed = 0, prefixes = 0, enomem = 0, efault = 0;
		/* One letter per n: M ENOMEM, F EFAULT, E another error; p a
		 * prefix, s whole, despite the fault; . success, no fault. */
		char trace[MAX_NTH + 1] = "";
		bool done = false;
		double t = now_s();
		unsigned int n;

		if ((c == CALL_DMA_MAP || c == CALL_MIRROR_DMA) && client < 0) {
			printf("# fail-nth: no NVMe controller to map for: %s not run\n", call_names[c]);
			continue;
		}

		for (n = 1; n <= MAX_NTH && !done; n++) {
			/* A fresh range each time: GUP faults it in, allocating. */
			char *buf = map_anon(size, 0);
			long ret, left, pages = 0, got_pins = 0, pins;
			struct rust_gup_stats s;
			int err = 0, newfd = -1, memfd = -1;
			__u32 id = 0, held = 0;

			ASSERT_NE(NULL, buf);
			ASSERT_EQ(0, madvise(buf, size, MADV_NOHUGEPAGE));
			if (c == CALL_ACCESS) {
				/* The set it reads, taken before faults are injected. */
				memset(buf, 0x3c, size);
				ASSERT_EQ(0, hold(self->fd, buf, size, RUST_GUP_OP_PIN_FAST,
						  RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &held, &pages));
				pages = 0;
			}

			if (c == CALL_PIN_MEMFD) {
				/* Pages the pin allocates: the memfd has none yet. */
				memfd = memfd_create("rust_gup_faults", 0);
				ASSERT_GE(memfd, 0);
				ASSERT_EQ(0, ftruncate(memfd, size));
			}

			ASSERT_EQ(0, fail_nth_set(nth, n));
			switch (c) {
			case CALL_PIN:
				ret = hold(self->fd, buf, size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
					   &id, &pages);
				break;
			case CALL_PIN_REMOTE:
				ret = hold(self->fd, buf, size, RUST_GUP_OP_PIN_REMOTE, REMOTE_REG,
					   &id, &pages);
				break;
			case CALL_PIN_WORKER:
				ret = hold(self->fd, buf, size, RUST_GUP_OP_PIN_REMOTE,
					   REMOTE_REG | RUST_GUP_F_WORKER, &id, &pages);
				break;
			case CALL_PIN_PID:
				ret = hold_pid(self->fd, getpid(), buf, size, RUST_GUP_OP_PIN_REMOTE,
					       REMOTE_REG, &id, &pages);
				break;
			case CALL_PIN_MEMFD: {
				struct rust_gup_pin pin = {
					.size = size, .op = RUST_GUP_OP_PIN_MEMFD, .flags = REMOTE_REG,
					.fd = memfd,
				};

				ret = pin_set(self->fd, &pin, &id, &pages);
				break;
			}
			case CALL_ACCESS:
				ret = set_access(self->fd, held, 0, 0, buf + size - page_size,
						 page_size);
				if (!ret)
					pages = FAULT_PAGES;
				break;
			case CALL_MIRROR:
				ret = mirror(self->fd, buf, size, RUST_GUP_MIRROR_F_WRITE);
				break;
			case CALL_MIRROR_DMA:
				ret = mirror_for(self->fd, buf, size,
						 RUST_GUP_MIRROR_F_WRITE | RUST_GUP_MIRROR_F_DMA, client);
				break;
			case CALL_BENCH:
				ret = bench(self->fd, buf, size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
					    &pages);
				break;
			case CALL_DMA_MAP: {
				struct rust_gup_dma_map m = {
					.addr = (unsigned long)buf, .size = size,
					.op = RUST_GUP_OP_PIN_FAST, .flags = DEVICE_WRITES,
					.client = client,
				};

				ret = ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &m) ? -errno : 0;
				id = m.id;
				pages = ret ? 0 : m.size / page_size;
				break;
			}
			default:
				newfd = open(RUST_GUP_DEVICE, O_RDWR);
				ret = newfd < 0 ? -errno : 0;
				break;
			}
			left = fail_nth_get(nth);
			ASSERT_EQ(0, fail_nth_set(nth, 0));
			ASSERT_GE(left, 0);
			if (ret < 0)
				err = -ret;

			if (!err) {
				/* Success: check it, then undo it. */
				switch (c) {
				case CALL_ACCESS:
					EXPECT_EQ(0x3c, buf[size - 1]) TH_LOG("n %u", n);
					break;
				case CALL_PIN:
				case CALL_PIN_REMOTE:
				case CALL_PIN_WORKER:
				case CALL_PIN_PID:
				case CALL_PIN_MEMFD:
				case CALL_DMA_MAP:
					got_pins = pins_outstanding() - self->pins;
					EXPECT_EQ(pages, got_pins) TH_LOG("n %u", n);
					EXPECT_EQ(0, unhold(self->fd, id));
					break;
				case CALL_MIRROR:
				case CALL_MIRROR_DMA:
					ASSERT_EQ(0, get_stats(self->fd, &s));
					EXPECT_EQ(self->stats.mirrors + 1, s.mirrors) TH_LOG("n %u", n);
					EXPECT_EQ(0, drop_mirror(self->fd, ret));
					break;
				case CALL_BENCH:
					break;
				default:
					ASSERT_EQ(0, get_stats(self->fd, &s));
					EXPECT_EQ(self->stats.open_files + 1, s.open_files);
					EXPECT_EQ(0, close(newfd));
					break;
				}
				if (pages && pages < FAULT_PAGES)
					prefixes++;
			}
			if (held)
				EXPECT_EQ(0, unhold(self->fd, held));
			if (memfd >= 0)
				close(memfd);
			munmap(buf, size);
			trace[n - 1] = err == ENOMEM ? 'M' : err == EFAULT ? 'F' : err ? 'E' :
				       left ? '.' : pages && pages < FAULT_PAGES ? 'p' : 's';
			trace[n] = 0;

			if (left == 0) {
				injected++;
				if (err)
					failed++;
				else
					absorbed++;
			} else {
				/* No fault injected: it must have succeeded, whole. */
				EXPECT_EQ(0, err) TH_LOG("%s failed with %s, n %u, no fault injected",
							 call_names[c], errname(err), n);
				if (c != CALL_MIRROR && c != CALL_MIRROR_DMA && c != CALL_OPEN) {
					EXPECT_EQ(FAULT_PAGES, pages) TH_LOG("%s n %u", call_names[c], n);
				}
				done = true;
			}
			if (err == ENOMEM) {
				enomem++;
			} else if (err == EFAULT) {
				efault++;
			} else if (err) {
				EXPECT_TRUE(false) TH_LOG("%s, n %u: %s, expected ENOMEM or EFAULT",
							  call_names[c], n, errname(err));
			}

			/* Nothing left behind, whatever happened. */
			ASSERT_TRUE(wait_baseline(self, &pins, &s))
				TH_LOG("%s, n %u (%s): pins %ld, sets %llu, pages %llu, mirrors %u, "
				       "files %u: not back at the baseline", call_names[c], n,
				       errname(err), pins, (unsigned long long)s.held_sets,
				       (unsigned long long)s.held_pages, s.mirrors, s.open_files);
		}
		ASSERT_TRUE(done) TH_LOG("%s still hit injected faults after %d", call_names[c], MAX_NTH);
		printf("# fail-nth: %ld faults injected into %s\n", injected, call_names[c]);
		printf("#   %ld failed it (ENOMEM %ld, EFAULT %ld), %ld did not (%ld of them left "
		       "a prefix); %.1f s\n", failed, enomem, efault, absorbed, prefixes,
		       now_s() - t);
		printf("#   n = 1..%u: %s\n", n - 1, trace);
	}
	close(nth);
	restore_fault_knobs();
	EXPECT_BASELINE("fail_nth");
}

/*
 * No sequence of takes brings a folio's reference count near overflow
 * (rust/folio_refs.rs). One page of a memfd is mapped at REF_MAPS
 * addresses side by side; each pin of the whole range adds 1024 * REF_MAPS
 * to its count. Sets of ever smaller ranges are taken until each size is
 * refused with EOVERFLOW: the count then stops below the kept sets' limit
 * (2^28), within one page's pin of it. Every kind of kept set is then
 * refused there (the eight ops, a registration, a memfd folio pin, the
 * long-term test), taking nothing and charging nothing; a gup_test run
 * over the range, held for the call only, still succeeds. The guest runs
 * with panic_on_warn: a count gone negative would have stopped it.
 */
#define REF_MAPS 16384
#define REF_LIMIT (1L << 28)
#define REF_SETS 256

TEST_F_TIMEOUT(faults, folio_refcount_is_bounded, 300)
{
	static const long steps[] = { REF_MAPS, REF_MAPS / 16, REF_MAPS / 256, 1 };
	static const __u32 ops[] = {
		RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_OP_PIN_UNLOCKED,
		RUST_GUP_OP_PIN_REMOTE, RUST_GUP_OP_GET_FAST, RUST_GUP_OP_GET_LOCKED,
		RUST_GUP_OP_GET_UNLOCKED, RUST_GUP_OP_GET_REMOTE,
	};
	size_t range = REF_MAPS * page_size, some = 2048 * page_size;
	struct rust_gup_page_info info;
	__u32 ids[REF_SETS], watch, id;
	long got, pins, vm_pin = vm_pin_kb(), refs;
	int memfd, n = 0, rc;
	char *area;

	memfd = memfd_create("rust_gup_refs", 0);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, page_size));
	area = mmap(NULL, range, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	for (long i = 0; i < REF_MAPS; i++) {
		ASSERT_EQ(area + i * page_size, mmap(area + i * page_size, page_size,
						     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
						     memfd, 0)) TH_LOG("mapping %ld", i);
	}
	area[0] = 1;
	ASSERT_EQ(0, hold(self->fd, area, page_size, RUST_GUP_OP_PIN_FAST, 0, &watch, &got));

	for (unsigned int s = 0; s < ARRAY_SIZE(steps); s++) {
		while (n < REF_SETS && !(rc = hold(self->fd, area, steps[s] * page_size,
						    RUST_GUP_OP_PIN_FAST, 0, &ids[n], &got))) {
			ASSERT_EQ(steps[s], got);
			n++;
		}
		ASSERT_EQ(-EOVERFLOW, rc) TH_LOG("sets of %ld pages: %d sets, then %s",
						steps[s], n, errname(-rc));
	}
	ASSERT_EQ(1, query(self->fd, watch, &info, 1));
	refs = info.refcount;
	ksft_print_msg("%d sets; the page's count stopped at %ld (limit %ld)\n", n, refs, REF_LIMIT);
	EXPECT_LE(refs, REF_LIMIT);
	EXPECT_GT(refs, REF_LIMIT - 1024);

	pins = pins_outstanding();
	for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++) {
		EXPECT_EQ(-EOVERFLOW, hold(self->fd, area, some, ops[i], 0, &id, &got))
			TH_LOG("op %u", ops[i]);
	}
	EXPECT_EQ(-EOVERFLOW, hold(self->fd, area, some, RUST_GUP_OP_PIN_LOCKED,
				   RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, &id, &got))
		TH_LOG("a registration");
	EXPECT_EQ(vm_pin, vm_pin_kb()) TH_LOG("the refused registration's charge");
	{
		struct rust_gup_pin p = {
			.size = page_size, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd,
		};

		EXPECT_EQ(-EOVERFLOW, pin_set(self->fd, &p, &id, &got)) TH_LOG("a memfd folio pin");
	}
	{
		struct pin_longterm_test lt = { .addr = (unsigned long)area, .size = some };

		EXPECT_EQ(-1, ioctl(self->fd, PIN_LONGTERM_TEST_START, &lt));
		EXPECT_EQ(EOVERFLOW, errno) TH_LOG("PIN_LONGTERM_TEST_START");
	}
	EXPECT_EQ(pins, pins_outstanding()) TH_LOG("what the refused takes took");
	{
		struct gup_test gup = {
			.addr = (unsigned long)area, .size = range, .nr_pages_per_call = 512,
		};

		EXPECT_EQ(0, ioctl(self->fd, PIN_FAST_BENCHMARK, &gup)) TH_LOG("%s", strerror(errno));
		EXPECT_EQ(range, gup.size);
	}
	/* Its references are gone (the page cache's own may have moved by one). */
	ASSERT_EQ(1, query(self->fd, watch, &info, 1));
	EXPECT_GT(refs + 1024, (long)info.refcount);

	for (int i = 0; i < n; i++)
		ASSERT_EQ(0, unhold(self->fd, ids[i]));
	ASSERT_EQ(0, unhold(self->fd, watch));
	EXPECT_EQ(self->pins, pins_outstanding());
	munmap(area, range);
	close(memfd);
}

TEST_HARNESS_MAIN
