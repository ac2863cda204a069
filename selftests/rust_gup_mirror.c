// SPDX-License-Identifier: GPL-2.0
/*
 * The HMM mirror of /dev/rust_gup: fault-and-map with hmm_range_fault()
 * and an mmu interval notifier, no pins. Each test changes the CPU page
 * table under a mirror (munmap, MADV_DONTNEED, mprotect, fork and COW,
 * migration, THP) and checks through RUST_GUP_IOC_MIRROR_READ that the
 * affected entries were invalidated and that a new fault sees the new
 * pages, and through /proc/vmstat that no pin was taken.
 */
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "rust_gup_util.h"
#include "rust_gup_harness.h"

#define PAGES 16

static size_t page_size;

/* RUST_GUP_IOC_MIRROR of [addr, addr + size): the id, or -errno. */
static long mirror(int fd, void *addr, size_t size, __u32 flags)
{
	struct rust_gup_mirror m = { .addr = (unsigned long)addr, .size = size, .flags = flags };

	if (ioctl(fd, RUST_GUP_IOC_MIRROR, &m))
		return -errno;
	return m.id;
}

/* RUST_GUP_IOC_MIRROR_FAULT: 0 or -errno; *m gets the results. */
static int refault(int fd, __u32 id, void *addr, size_t size, __u32 flags,
		   struct rust_gup_mirror *m)
{
	struct rust_gup_mirror local;

	if (!m)
		m = &local;
	*m = (struct rust_gup_mirror) {
		.addr = (unsigned long)addr, .size = size, .flags = flags, .id = id,
	};
	return ioctl(fd, RUST_GUP_IOC_MIRROR_FAULT, m) ? -errno : 0;
}

/* RUST_GUP_IOC_MIRROR_READ of entries [first, first + nr): entries read or
 * -errno; *invalidations (if not NULL) gets the mirror's count. */
static long entries(int fd, __u32 id, __u64 first, struct rust_gup_mirror_entry *e, __u32 nr,
		    __u64 *invalidations)
{
	struct rust_gup_mirror_read r = {
		.id = id, .nr = nr, .first = first, .entries = (unsigned long)e,
	};

	if (ioctl(fd, RUST_GUP_IOC_MIRROR_READ, &r))
		return -errno;
	if (invalidations)
		*invalidations = r.invalidations;
	return r.nr;
}

/* RUST_GUP_IOC_MIRROR_ACCESS: 0 or -errno. */
static int access_mirror(int fd, __u32 id, void *addr, size_t len, void *buf, bool write)
{
	struct rust_gup_mirror_access a = {
		.id = id, .addr = (unsigned long)addr, .len = len, .buf = (unsigned long)buf,
		.flags = write ? RUST_GUP_MIRROR_ACCESS_WRITE : 0,
	};

	return ioctl(fd, RUST_GUP_IOC_MIRROR_ACCESS, &a) ? -errno : 0;
}

static int drop_mirror(int fd, __u32 id)
{
	return ioctl(fd, RUST_GUP_IOC_MIRROR_DROP, &id) ? -errno : 0;
}

static unsigned int mirrors_alive(int fd)
{
	struct rust_gup_stats s = { .mirrors = ~0u };

	ioctl(fd, RUST_GUP_IOC_STATS, &s);
	return s.mirrors;
}

static char *map_anon(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

static void fill(char *p, size_t size, char seed)
{
	for (size_t i = 0; i < size; i++)
		p[i] = (char)(seed + i / page_size + i);
}

#define VALID RUST_GUP_MIRROR_VALID
#define WRITE RUST_GUP_MIRROR_WRITE
#define ERROR RUST_GUP_MIRROR_ERROR

FIXTURE(mirror) {
	int fd;
	long pins;		/* FOLL_PIN pins outstanding at setup */
	long acquired;		/* nr_foll_pin_acquired at setup */
	char *buf;
	struct rust_gup_mirror_entry e[PAGES];
	struct rust_gup_mirror_entry again[PAGES];
};

FIXTURE_SETUP(mirror)
{
	page_size = getpagesize();
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
	self->buf = map_anon(PAGES * page_size);
	ASSERT_NE(NULL, self->buf);
	fill(self->buf, PAGES * page_size, 'a');
	self->acquired = vmstat("nr_foll_pin_acquired");
	ASSERT_GE(self->acquired, 0);
}

FIXTURE_TEARDOWN(mirror)
{
	/* No test here pins: the pin counters did not move at all. */
	EXPECT_EQ(self->acquired, vmstat("nr_foll_pin_acquired")) TH_LOG("a mirror took pins");
	munmap(self->buf, PAGES * page_size);
	close(self->fd);
}

/* A mirror of mapped memory: every entry valid and writable, pointing at
 * the pages the CPU sees; device reads see the CPU's data and device
 * writes land where the CPU reads; dropping it leaves nothing behind. */
TEST_F(mirror, fault_map_access_drop)
{
	size_t size = PAGES * page_size;
	char *copy = malloc(size);
	struct rust_gup_mirror m;
	long id;

	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, mirrors_alive(self->fd));
	id = mirror(self->fd, self->buf, size, RUST_GUP_MIRROR_F_WRITE);
	ASSERT_GT(id, 0) TH_LOG("mirror: %s", strerror(-id));
	EXPECT_EQ(1, mirrors_alive(self->fd));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(VALID | WRITE, self->e[i].flags) TH_LOG("entry %d", i);
		EXPECT_NE(0, self->e[i].pfn);
		EXPECT_EQ(0, self->e[i].order);
	}

	ASSERT_EQ(0, access_mirror(self->fd, id, self->buf, size, copy, false));
	EXPECT_EQ(0, memcmp(copy, self->buf, size));
	/* Unaligned, across a page boundary. */
	memset(copy, 'Z', 100);
	ASSERT_EQ(0, access_mirror(self->fd, id, self->buf + page_size - 50, 100, copy, true));
	EXPECT_EQ(0, memcmp(self->buf + page_size - 50, copy, 100));

	/* Faulting again changes nothing: same pages, no invalidation. */
	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, 0, &m));
	EXPECT_EQ(PAGES, m.valid);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(self->e[i].pfn, self->again[i].pfn);
	}

	EXPECT_EQ(0, drop_mirror(self->fd, id));
	EXPECT_EQ(0, mirrors_alive(self->fd));
	EXPECT_EQ(-ENOENT, drop_mirror(self->fd, id));
	free(copy);
}

/* Untouched anonymous memory: a read fault maps the shared zero page
 * (read-only, one pfn), a write fault allocates a page per entry; a
 * snapshot faults nothing. */
TEST_F(mirror, read_write_and_snapshot_modes)
{
	size_t size = PAGES * page_size;
	char *fresh = map_anon(size);
	struct rust_gup_mirror m;
	long id;

	ASSERT_NE(NULL, fresh);
	id = mirror(self->fd, fresh, size, RUST_GUP_MIRROR_F_SNAPSHOT);
	ASSERT_GT(id, 0);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(0, self->e[i].flags) TH_LOG("snapshot of untouched page %d", i);
	}
	EXPECT_EQ(-EAGAIN, access_mirror(self->fd, id, fresh, 1, self->e, false));

	ASSERT_EQ(0, refault(self->fd, id, fresh, size, 0, &m));
	EXPECT_EQ(PAGES, m.valid);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(VALID, self->e[i].flags) TH_LOG("read fault, page %d", i);
		EXPECT_EQ(self->e[0].pfn, self->e[i].pfn) TH_LOG("not the zero page: %d", i);
	}
	EXPECT_EQ(-EPERM, access_mirror(self->fd, id, fresh, 1, "x", true));

	ASSERT_EQ(0, refault(self->fd, id, fresh, size, RUST_GUP_MIRROR_F_WRITE, &m));
	EXPECT_EQ(PAGES, m.valid);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(VALID | WRITE, self->again[i].flags);
		EXPECT_NE(self->e[0].pfn, self->again[i].pfn) TH_LOG("still the zero page: %d", i);
		if (i) {
			EXPECT_NE(self->again[i - 1].pfn, self->again[i].pfn);
		}
	}
	/* The device's write is what the CPU reads. */
	ASSERT_EQ(0, access_mirror(self->fd, id, fresh + 3 * page_size, 5, "hello", true));
	EXPECT_EQ(0, memcmp(fresh + 3 * page_size, "hello", 5));

	EXPECT_EQ(0, drop_mirror(self->fd, id));
	munmap(fresh, size);
}

/* munmap of part of a mirror invalidates exactly those entries; a new
 * fault over the hole is -EFAULT, as hmm_range_fault() reports it, and a
 * snapshot marks the hole as errors. */
TEST_F(mirror, munmap_invalidates)
{
	size_t size = PAGES * page_size;
	__u64 inv0 = 0, inv1 = 0;
	long id = mirror(self->fd, self->buf, size, 0);

	ASSERT_GT(id, 0);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, &inv0));
	ASSERT_EQ(0, munmap(self->buf + 4 * page_size, 4 * page_size));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, &inv1));
	EXPECT_GT(inv1, inv0);
	for (int i = 0; i < PAGES; i++) {
		bool hole = i >= 4 && i < 8;

		EXPECT_EQ(hole ? 0 : VALID | WRITE, self->again[i].flags) TH_LOG("entry %d", i);
		if (!hole) {
			EXPECT_EQ(self->e[i].pfn, self->again[i].pfn);
		}
	}
	EXPECT_EQ(-EAGAIN, access_mirror(self->fd, id, self->buf + 5 * page_size, 1,
					 self->e, false));
	EXPECT_EQ(-EFAULT, refault(self->fd, id, self->buf, size, 0, NULL));
	EXPECT_EQ(-EFAULT, refault(self->fd, id, self->buf + 6 * page_size, page_size, 0, NULL));
	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, RUST_GUP_MIRROR_F_SNAPSHOT, NULL));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 4; i < 8; i++) {
		EXPECT_EQ(ERROR, self->again[i].flags) TH_LOG("snapshot of hole page %d", i);
	}
	EXPECT_EQ(-EFAULT, access_mirror(self->fd, id, self->buf + 4 * page_size, 1,
					 self->e, false));
	EXPECT_EQ(0, drop_mirror(self->fd, id));

	/* Creating a mirror over a hole fails and leaves no mirror. */
	EXPECT_EQ(-EFAULT, mirror(self->fd, self->buf, size, 0));
	EXPECT_EQ(0, mirrors_alive(self->fd));
}

/* MADV_DONTNEED drops the pages: entries invalidated, device access asks
 * for a new fault, which maps new (zeroed) pages. */
TEST_F(mirror, madv_dontneed_invalidates)
{
	size_t size = PAGES * page_size;
	char byte;
	long id = mirror(self->fd, self->buf, size, RUST_GUP_MIRROR_F_WRITE);

	ASSERT_GT(id, 0);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	ASSERT_EQ(0, madvise(self->buf, size / 2, MADV_DONTNEED));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(i < PAGES / 2 ? 0 : VALID | WRITE, self->again[i].flags) TH_LOG("%d", i);
	}
	EXPECT_EQ(-EAGAIN, access_mirror(self->fd, id, self->buf, 1, &byte, false));

	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, RUST_GUP_MIRROR_F_WRITE, NULL));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES / 2; i++) {
		EXPECT_EQ(VALID | WRITE, self->again[i].flags);
	}
	ASSERT_EQ(0, access_mirror(self->fd, id, self->buf + page_size, 1, &byte, false));
	EXPECT_EQ(0, byte) TH_LOG("a dropped page came back with data");
	byte = 'q';
	ASSERT_EQ(0, access_mirror(self->fd, id, self->buf + page_size, 1, &byte, true));
	EXPECT_EQ('q', self->buf[page_size]);
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/* mprotect(PROT_READ) invalidates writable entries; a read fault maps them
 * read-only, device writes are refused, and a write fault is refused as
 * hmm_range_fault() refuses it. */
TEST_F(mirror, mprotect_invalidates)
{
	size_t size = PAGES * page_size;
	struct rust_gup_mirror m;
	long id = mirror(self->fd, self->buf, size, RUST_GUP_MIRROR_F_WRITE);
	int ret;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, mprotect(self->buf, size, PROT_READ));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(0, self->e[i].flags) TH_LOG("entry %d survived mprotect", i);
	}
	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, 0, &m));
	EXPECT_EQ(PAGES, m.valid);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(VALID, self->e[i].flags) TH_LOG("entry %d", i);
	}
	EXPECT_EQ(-EPERM, access_mirror(self->fd, id, self->buf, 1, "x", true));
	ret = refault(self->fd, id, self->buf, size, RUST_GUP_MIRROR_F_WRITE, NULL);
	EXPECT_EQ(-EPERM, ret) TH_LOG("write fault on a read-only mapping: %s", strerror(-ret));
	EXPECT_EQ(0, mprotect(self->buf, size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/*
 * fork write-protects the parent's anonymous pages for COW: the parent's
 * writable entries go. A read fault then maps the shared page; the
 * parent's next write copies it, which invalidates again, and a new fault
 * sees the parent's new page with the new data while the child keeps the
 * old one.
 */
TEST_F(mirror, fork_and_cow_invalidate)
{
	char *p = self->buf;
	int to_child[2], from_child[2];
	char c = 0;
	pid_t pid;
	long id = mirror(self->fd, p, page_size, RUST_GUP_MIRROR_F_WRITE);

	ASSERT_GT(id, 0);
	ASSERT_EQ(1, entries(self->fd, id, 0, self->e, 1, NULL));
	ASSERT_EQ(VALID | WRITE, self->e[0].flags);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(from_child));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Holds the old page until told, then reports what it sees. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		c = p[0];
		_exit(write(from_child[1], &c, 1) == 1 ? 0 : 3);
	}
	ASSERT_EQ(1, entries(self->fd, id, 0, self->again, 1, NULL));
	EXPECT_FALSE(self->again[0].flags & WRITE) TH_LOG("writable entry survived fork");

	ASSERT_EQ(0, refault(self->fd, id, p, page_size, 0, NULL));
	ASSERT_EQ(1, entries(self->fd, id, 0, self->again, 1, NULL));
	EXPECT_EQ(VALID, self->again[0].flags);
	EXPECT_EQ(self->e[0].pfn, self->again[0].pfn) TH_LOG("read fault copied the page");

	p[0] = 'P';	/* COW in the parent */
	ASSERT_EQ(1, entries(self->fd, id, 0, self->again, 1, NULL));
	EXPECT_EQ(0, self->again[0].flags) TH_LOG("entry survived the COW copy");
	ASSERT_EQ(0, refault(self->fd, id, p, page_size, 0, NULL));
	ASSERT_EQ(1, entries(self->fd, id, 0, self->again, 1, NULL));
	EXPECT_EQ(VALID | WRITE, self->again[0].flags);
	EXPECT_NE(self->e[0].pfn, self->again[0].pfn) TH_LOG("no new page after COW");
	ASSERT_EQ(0, access_mirror(self->fd, id, p, 1, &c, false));
	EXPECT_EQ('P', c);

	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ(1, read(from_child[0], &c, 1));
	EXPECT_EQ('a', c) TH_LOG("the child saw the parent's write");
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

#define HUGE (2UL << 20)

/* A 2 MiB range advised MADV_HUGEPAGE and written, aligned inside a 4 MiB
 * mapping whose start goes to *raw; NULL if it cannot be mapped. */
static char *map_thp(char **raw)
{
	char *p;

	*raw = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)*raw + HUGE - 1) & ~(HUGE - 1));
	madvise(p, HUGE, MADV_HUGEPAGE);
	memset(p, 1, HUGE);
	return p;
}

/* A THP-backed range reports the PMD mapping order, 9 for 2 MiB, with
 * consecutive pfns. */
TEST_F(mirror, thp_map_order)
{
	size_t huge = HUGE;
	char *raw, *p = map_thp(&raw);
	static struct rust_gup_mirror_entry e[512];
	long id, n;

	ASSERT_NE(NULL, p);
	/* Whether a THP backs it is the kernel's to say, not the module's. */
	if (!thp_backed(p, huge)) {
		munmap(raw, 2 * huge);
		SKIP(return, "no THP backs the range (transparent_hugepage disabled?)");
	}
	id = mirror(self->fd, p, huge, RUST_GUP_MIRROR_F_WRITE);
	ASSERT_GT(id, 0);
	n = entries(self->fd, id, 0, e, 512, NULL);
	ASSERT_EQ(512, n);
	for (int i = 0; i < 512; i++) {
		EXPECT_EQ(9, e[i].order) TH_LOG("entry %d", i);
		EXPECT_EQ(e[0].pfn + i, e[i].pfn);
	}
	/* Splitting the PMD (partial mprotect) invalidates the mirror. */
	ASSERT_EQ(0, mprotect(p + huge / 2, huge / 2, PROT_READ));
	ASSERT_EQ(512, entries(self->fd, id, 0, e, 512, NULL));
	EXPECT_EQ(0, e[0].flags);
	ASSERT_EQ(0, refault(self->fd, id, p, huge, 0, NULL));
	ASSERT_EQ(512, entries(self->fd, id, 0, e, 512, NULL));
	EXPECT_EQ(0, e[0].order) TH_LOG("still PMD-mapped after a split");
	EXPECT_EQ(VALID | WRITE, e[0].flags);
	EXPECT_EQ(VALID, e[511].flags);
	drop_mirror(self->fd, id);
	munmap(raw, 2 * huge);
}

/*
 * How many of the nr pages at buf lie in ZONE_MOVABLE, as pagemap and
 * zoneinfo say, each flagged in `movable`; and each one the page the
 * mirror's entry (e) names.
 */
static int pages_in_movable(struct __test_metadata *_metadata, const char *buf, int nr,
			    const struct rust_gup_mirror_entry *e, bool *movable)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY), in = 0;
	unsigned long long start, end;

	movable_span(&start, &end);
	EXPECT_GE(pagemap, 0);
	for (int i = 0; i < nr; i++) {
		unsigned long long pfn = pagemap_pfn(pagemap, buf + i * page_size);

		EXPECT_EQ(pfn, e[i].pfn) TH_LOG("entry %d: not the page pagemap shows", i);
		movable[i] = pfn >= start && pfn < end;
		in += movable[i];
	}
	close(pagemap);
	return in;
}

/*
 * Migration: pages faulted into ZONE_MOVABLE move when a long-term pin is
 * taken (the only way to migrate a page on demand in the test kernel,
 * which has no NUMA). The mirror's entries are invalidated by the move and
 * a new fault sees the new pages. Needs a boot with movablecore=.
 */
TEST_F(mirror, migration_invalidates)
{
	static struct rust_gup_page_info info[PAGES];
	size_t size = PAGES * page_size;
	__u32 set;
	long pages, id = mirror(self->fd, self->buf, size, 0);
	static bool was_movable[PAGES];
	int movable = 0;

	ASSERT_GT(id, 0);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	/* Where the pages are is the kernel's to say: the skip is decided
	 * before the module moves anything. */
	if (!pages_in_movable(_metadata, self->buf, PAGES, self->e, was_movable)) {
		drop_mirror(self->fd, id);
		SKIP(return, "no page of the buffer in ZONE_MOVABLE: boot with movablecore=");
	}
	ASSERT_EQ(0, hold(self->fd, self->buf, size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_LONGTERM,
			  &set, &pages));
	/* This test pins on purpose: the teardown's check does not apply. */
	self->acquired = vmstat("nr_foll_pin_acquired");
	ASSERT_EQ(PAGES, query(self->fd, set, info, PAGES));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		bool moved = info[i].pfn != self->e[i].pfn;

		movable += moved;
		EXPECT_TRUE(moved || !was_movable[i]) TH_LOG("page %d stayed in ZONE_MOVABLE", i);
		EXPECT_EQ(moved ? 0 : VALID | WRITE, self->again[i].flags) TH_LOG("entry %d", i);
	}
	ASSERT_EQ(0, unhold(self->fd, set));
	printf("# %d of %d pages migrated by the long-term pin\n", movable, PAGES);
	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, 0, NULL));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->again, PAGES, NULL));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(info[i].pfn, self->again[i].pfn) TH_LOG("entry %d: not the new page", i);
	}
	drop_mirror(self->fd, id);
}

/* The mirror belongs to the address space of the task that made it: once
 * that task has exited, faulting is -EFAULT; the file still drops it. */
TEST_F(mirror, owner_exit)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child's copy of the buffer, at the same address. */
		long id = mirror(self->fd, self->buf, page_size, 0);

		_exit(id == 1 ? 0 : id > 0 ? 1 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("the child's mirror: 1 wrong id, 2 failed");
	EXPECT_EQ(1, mirrors_alive(self->fd));
	EXPECT_EQ(-EFAULT, refault(self->fd, 1, self->buf, page_size, 0, NULL));
	EXPECT_EQ(1, entries(self->fd, 1, 0, self->e, 1, NULL));
	EXPECT_EQ(0, self->e[0].flags) TH_LOG("the child's exit did not invalidate");
	EXPECT_EQ(0, drop_mirror(self->fd, 1));
	EXPECT_EQ(0, mirrors_alive(self->fd));
}

/* Releasing the file drops its mirrors. */
TEST_F(mirror, release_drops_mirrors)
{
	int fd2 = open(RUST_GUP_DEVICE, O_RDWR);

	ASSERT_GE(fd2, 0);
	for (int i = 0; i < 4; i++) {
		ASSERT_GT(mirror(fd2, self->buf, PAGES * page_size, 0), 0);
	}
	EXPECT_EQ(4, mirrors_alive(self->fd));
	close(fd2);
	EXPECT_EQ(0, mirrors_alive(self->fd));
}

struct churn {
	char *buf;
	size_t size;
	volatile bool stop;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		madvise(c->buf, c->size, MADV_DONTNEED);
		memset(c->buf, 'c', c->size);
	}
	return NULL;
}

/*
 * Faults and device reads race with a thread that drops and refills the
 * pages: every fault commits only a consistent view (it retries when the
 * range changed), every read either succeeds with the data or asks for a
 * new fault.
 */
TEST_F(mirror, races_with_invalidation)
{
	struct churn c = { .buf = self->buf, .size = PAGES * page_size };
	unsigned long retries = 0, eagain = 0, reads = 0;
	char data[64];
	pthread_t t;
	long id = mirror(self->fd, self->buf, c.size, 0);

	ASSERT_GT(id, 0);
	memset(self->buf, 'c', c.size);
	ASSERT_EQ(0, pthread_create(&t, NULL, churn_thread, &c));
	for (int i = 0; i < 3000; i++) {
		struct rust_gup_mirror m;
		int ret = refault(self->fd, id, self->buf, c.size, 0, &m);

		if (ret == -EBUSY)
			continue;
		ASSERT_EQ(0, ret) TH_LOG("fault: %s", strerror(-ret));
		retries += m.retries;
		ret = access_mirror(self->fd, id, self->buf + (i % PAGES) * page_size + 100,
				    sizeof(data), data, false);
		if (ret == -EAGAIN) {
			eagain++;
			continue;
		}
		ASSERT_EQ(0, ret);
		reads++;
		/* A dropped page reads as zeroes until the thread refills it. */
		for (size_t k = 0; k < sizeof(data); k++) {
			if (data[k] != 'c' && data[k] != 0) {
				ASSERT_EQ('c', data[k]);
			}
		}
	}
	c.stop = true;
	pthread_join(t, NULL);
	printf("# 3000 faults: %lu passes retried, %lu reads, %lu asked for a new fault\n",
	       retries, reads, eagain);
	EXPECT_GT(reads, 0);
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/* Bad arguments to every mirror command: a clean error, no mirror made. */
TEST_F(mirror, bad_input)
{
	size_t size = PAGES * page_size;
	long id = mirror(self->fd, self->buf, size, 0);
	unsigned long b = (unsigned long)self->buf;
	int failed = 0;

	ASSERT_GT(id, 0);
	struct {
		const char *name;
		unsigned long cmd;
		struct rust_gup_mirror m;
		struct rust_gup_mirror_read r;
		struct rust_gup_mirror_access a;
		__u32 id;
		bool null;
		int expected;
	} cases[] = {
		{ "MIRROR size 0", RUST_GUP_IOC_MIRROR, .m = { .addr = b }, .expected = EINVAL },
		{ "MIRROR unaligned", RUST_GUP_IOC_MIRROR, .m = { .addr = b + 1, .size = size },
		  .expected = EINVAL },
		{ "MIRROR size not whole pages", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size - 1 }, .expected = EINVAL },
		{ "MIRROR WRITE with SNAPSHOT", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size, .flags = 3 }, .expected = EINVAL },
		{ "MIRROR unknown flag", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size, .flags = 8 }, .expected = EINVAL },
		{ "MIRROR id set", RUST_GUP_IOC_MIRROR, .m = { .addr = b, .size = size, .id = 1 },
		  .expected = EINVAL },
		{ "MIRROR client without DMA", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size, .client = 1 }, .expected = EINVAL },
		{ "MIRROR DMA, no such function", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size, .flags = RUST_GUP_MIRROR_F_DMA,
			 .client = RUST_GUP_PCI_ID(0xffff, 0xff, 0xff) }, .expected = ENODEV },
		{ "MIRROR DMA WRITE with SNAPSHOT", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = size, .flags = RUST_GUP_MIRROR_F_DMA | 3 },
		  .expected = EINVAL },
		{ "MIRROR past the page limit", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = b, .size = (RUST_GUP_MIRROR_MAX_PAGES + 1UL) * page_size },
		  .expected = EINVAL },
		{ "MIRROR kernel address", RUST_GUP_IOC_MIRROR,
		  .m = { .addr = 0xffff888000000000UL, .size = size }, .expected = EINVAL },
		{ "MIRROR wrapped", RUST_GUP_IOC_MIRROR, .m = { .addr = -page_size, .size = size },
		  .expected = EINVAL },
		{ "MIRROR unmapped", RUST_GUP_IOC_MIRROR, .m = { .addr = page_size, .size = size },
		  .expected = EFAULT },
		{ "MIRROR NULL argument", RUST_GUP_IOC_MIRROR, .null = true, .expected = EFAULT },
		{ "MIRROR_FAULT unknown id", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b, .size = size, .id = 0xdead }, .expected = ENOENT },
		{ "MIRROR_FAULT outside the mirror", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b, .size = size + page_size, .id = id }, .expected = EINVAL },
		{ "MIRROR_FAULT before the mirror", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b - page_size, .size = page_size, .id = id }, .expected = EINVAL },
		{ "MIRROR_FAULT bad flags", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b, .size = size, .id = id, .flags = 8 }, .expected = EINVAL },
		{ "MIRROR_FAULT client", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b, .size = size, .id = id, .client = 1 }, .expected = EINVAL },
		{ "MIRROR_FAULT DMA flag", RUST_GUP_IOC_MIRROR_FAULT,
		  .m = { .addr = b, .size = size, .id = id, .flags = RUST_GUP_MIRROR_F_DMA },
		  .expected = EINVAL },
		{ "MIRROR_READ unknown id", RUST_GUP_IOC_MIRROR_READ, .r = { .id = 0xdead },
		  .expected = ENOENT },
		{ "MIRROR_READ first past the end", RUST_GUP_IOC_MIRROR_READ,
		  .r = { .id = id, .first = PAGES + 1 }, .expected = EINVAL },
		{ "MIRROR_READ bad buffer", RUST_GUP_IOC_MIRROR_READ,
		  .r = { .id = id, .nr = 4, .entries = 8 }, .expected = EFAULT },
		{ "MIRROR_DMA not a DMA mirror", RUST_GUP_IOC_MIRROR_DMA,
		  .r = { .id = id, .nr = 1, .entries = b }, .expected = EINVAL },
		{ "MIRROR_DMA unknown id", RUST_GUP_IOC_MIRROR_DMA, .r = { .id = 0xdead },
		  .expected = ENOENT },
		{ "MIRROR_DMA NULL argument", RUST_GUP_IOC_MIRROR_DMA, .null = true,
		  .expected = EFAULT },
		{ "MIRROR_ACCESS len 0", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = id, .addr = b, .buf = b }, .expected = EINVAL },
		{ "MIRROR_ACCESS past the mirror", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = id, .addr = b, .len = size + 1, .buf = b }, .expected = EINVAL },
		{ "MIRROR_ACCESS before the mirror", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = id, .addr = b - 1, .len = 1, .buf = b }, .expected = EINVAL },
		{ "MIRROR_ACCESS unknown flag", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = id, .addr = b, .len = 1, .buf = b, .flags = 2 }, .expected = EINVAL },
		{ "MIRROR_ACCESS bad buffer", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = id, .addr = b, .len = 1, .buf = 8 }, .expected = EFAULT },
		{ "MIRROR_ACCESS unknown id", RUST_GUP_IOC_MIRROR_ACCESS,
		  .a = { .id = 0xdead, .addr = b, .len = 1, .buf = b }, .expected = ENOENT },
		{ "MIRROR_DROP unknown id", RUST_GUP_IOC_MIRROR_DROP, .id = 0xdead,
		  .expected = ENOENT },
		{ "MIRROR_DROP NULL argument", RUST_GUP_IOC_MIRROR_DROP, .null = true,
		  .expected = EFAULT },
	};

	printf("# %-36s %-8s %-8s\n", "case", "expected", "seen");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long cmd = cases[i].cmd;
		void *arg = cmd == RUST_GUP_IOC_MIRROR_READ || cmd == RUST_GUP_IOC_MIRROR_DMA ?
				    (void *)&cases[i].r :
			    cmd == RUST_GUP_IOC_MIRROR_ACCESS ? (void *)&cases[i].a :
			    cmd == RUST_GUP_IOC_MIRROR_DROP ? (void *)&cases[i].id :
			    (void *)&cases[i].m;
		int ret = ioctl(self->fd, cmd, cases[i].null ? NULL : arg);
		int seen = ret ? errno : 0;

		printf("# %-36s %-8s %-8s\n", cases[i].name, strerrorname_np(cases[i].expected),
		       ret ? strerrorname_np(seen) : "success");
		failed += seen != cases[i].expected;
	}
	EXPECT_EQ(0, failed);
	EXPECT_EQ(1, mirrors_alive(self->fd));
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/*
 * A mirror mapped for a device (RUST_GUP_MIRROR_F_DMA), as RDMA ODP maps a
 * memory region: every valid entry is DMA-mapped for the client, an NVMe
 * controller of the test VM, and each change of the CPU page table unmaps
 * exactly the entries it touches before the page goes. On a kernel with
 * the DMA API's debugging, its count of live mappings must follow.
 */
FIXTURE(dma_mirror) {
	int fd;
	char *buf;
	long client;
	char client_name[64];
	long live;		/* DMA API debug live mappings at setup; -1 without */
	bool iommu;
	struct rust_gup_mirror_entry e[PAGES];
	struct rust_gup_mirror_dma d[PAGES];
};

FIXTURE_SETUP(dma_mirror)
{
	glob_t g;

	page_size = getpagesize();
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->buf = map_anon(PAGES * page_size);
	ASSERT_NE(NULL, self->buf);
	fill(self->buf, PAGES * page_size, 'd');
	self->client = pci_function("nvme", -1, self->client_name, sizeof(self->client_name));
	if (self->client < 0)
		SKIP(return, "no PCI function bound to nvme to be the client");
	/* Without an IOMMU, DMA addresses are physical ones: checkable. */
	self->iommu = !glob("/sys/class/iommu/*", 0, NULL, &g);
	globfree(&g);
	self->live = dma_debug_live();
}

FIXTURE_TEARDOWN(dma_mirror)
{
	munmap(self->buf, PAGES * page_size);
	close(self->fd);
	/* Whatever happened, no mapping of a mirror is left. */
	if (self->live >= 0 && self->client >= 0)
		EXPECT_EQ(self->live, dma_debug_live()) TH_LOG("DMA API debug: mappings left");
}

/* RUST_GUP_IOC_MIRROR with RUST_GUP_MIRROR_F_DMA: the id, or -errno. */
static long dma_mirror(int fd, void *addr, size_t size, __u32 flags, long client)
{
	struct rust_gup_mirror m = {
		.addr = (unsigned long)addr, .size = size,
		.flags = flags | RUST_GUP_MIRROR_F_DMA, .client = client,
	};

	if (ioctl(fd, RUST_GUP_IOC_MIRROR, &m))
		return -errno;
	return m.id;
}

/* RUST_GUP_IOC_MIRROR_DMA of entries [first, first + nr): entries read or
 * -errno. */
static long dma_entries(int fd, __u32 id, __u64 first, struct rust_gup_mirror_dma *d, __u32 nr)
{
	struct rust_gup_mirror_read r = {
		.id = id, .nr = nr, .first = first, .entries = (unsigned long)d,
	};

	if (ioctl(fd, RUST_GUP_IOC_MIRROR_DMA, &r))
		return -errno;
	return r.nr;
}

/* RUST_GUP_IOC_DMA_MAP of `pages` pages, writable: 0 or -errno; the set's
 * id in *id (if not NULL; otherwise the set is released). */
static int dma_map_pages(int fd, void *addr, long pages, long client, __u32 *id)
{
	struct rust_gup_dma_map m = {
		.addr = (unsigned long)addr, .size = pages * page_size,
		.op = RUST_GUP_OP_PIN_FAST, .flags = DEVICE_WRITES, .client = client,
	};

	if (ioctl(fd, RUST_GUP_IOC_DMA_MAP, &m))
		return -errno;
	if (id)
		*id = m.id;
	else
		unhold(fd, m.id);
	return 0;
}

/* How many of d[0..n) have exactly `flags`. */
static int count_flags(const struct rust_gup_mirror_dma *d, int n, __u32 flags)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += d[i].flags == flags;
	return k;
}

/* The DMA API debug count moved by `delta` since setup, logged (no check
 * without DMA API debugging). */
#define EXPECT_LIVE(delta) do {							\
	if (self->live >= 0) {							\
		long __live = dma_debug_live();					\
									\
		printf("# DMA API debug, line %d: %+ld live mappings, %+ld expected\n", \
		       __LINE__, __live - self->live, (long)(delta));		\
		EXPECT_EQ(self->live + (delta), __live)				\
			TH_LOG("DMA API debug: live mappings");		\
	}									\
} while (0)

/* Every valid entry mapped, in the direction of its permission, at the
 * page's address (no IOMMU); dropping the mirror unmaps them all. */
TEST_F(dma_mirror, maps_valid_entries)
{
	size_t size = PAGES * page_size;
	long id = dma_mirror(self->fd, self->buf, size, 0, self->client);
	__u32 set = 0;
	long ro;

	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	EXPECT_LIVE(PAGES);
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	for (int i = 0; i < PAGES; i++) {
		/* Writable anonymous memory: HMM_PFN_WRITE even for a read fault. */
		EXPECT_EQ(VALID | WRITE, self->d[i].flags) TH_LOG("entry %d", i);
		EXPECT_NE(0, self->d[i].addr);
		if (!self->iommu) {
			EXPECT_EQ(self->e[i].pfn * page_size, self->d[i].addr) TH_LOG("entry %d", i);
		}
	}
	/* Writable mappings claim their pages: a second one is refused, a
	 * mirror's or a pinned one's (RUST_GUP_IOC_DMA_MAP). */
	EXPECT_EQ(-EBUSY, dma_mirror(self->fd, self->buf, size, 0, self->client));
	EXPECT_EQ(-EBUSY, dma_map_pages(self->fd, self->buf + page_size, 1, self->client, NULL));
	EXPECT_LIVE(PAGES);
	/* A read-only mapping (DMA_TO_DEVICE) may overlap it. */
	ASSERT_EQ(0, mprotect(self->buf + size / 2, size / 2, PROT_READ));
	ro = dma_mirror(self->fd, self->buf + size / 2, size / 2, 0, self->client);
	ASSERT_GT(ro, 0) TH_LOG("%s", strerror(-ro));
	ASSERT_EQ(PAGES / 2, dma_entries(self->fd, ro, 0, self->d, PAGES / 2));
	EXPECT_EQ(PAGES / 2, count_flags(self->d, PAGES / 2, VALID));
	EXPECT_EQ(0, drop_mirror(self->fd, ro));
	EXPECT_EQ(0, drop_mirror(self->fd, id));
	EXPECT_LIVE(0);
	EXPECT_EQ(0, mprotect(self->buf, size, PROT_READ | PROT_WRITE));

	/* And the other way round: a page a pinned mapping lets the device
	 * write fails a mirror's writable entry of it. */
	ASSERT_EQ(0, dma_map_pages(self->fd, self->buf + page_size, 1, self->client, &set));
	EXPECT_EQ(-EBUSY, dma_mirror(self->fd, self->buf, size, 0, self->client));
	EXPECT_EQ(0, mirrors_alive(self->fd));
	EXPECT_EQ(0, unhold(self->fd, set));
	EXPECT_LIVE(0);
}

/*
 * Each change of the CPU page table unmaps exactly the entries it touches:
 * munmap, MADV_DONTNEED, mprotect; a new fault maps the pages again, the
 * second fault of mapped entries keeps their mappings.
 */
TEST_F(dma_mirror, invalidations_unmap)
{
	size_t size = PAGES * page_size;
	static struct rust_gup_mirror_dma before[PAGES];
	long id = dma_mirror(self->fd, self->buf, size, RUST_GUP_MIRROR_F_WRITE, self->client);
	struct rust_gup_mirror m;

	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, before, PAGES));

	/* A second fault of mapped entries: the same mappings. */
	ASSERT_EQ(0, refault(self->fd, id, self->buf, size, RUST_GUP_MIRROR_F_WRITE, &m));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(0, memcmp(before, self->d, sizeof(before)));
	EXPECT_LIVE(PAGES);

	ASSERT_EQ(0, madvise(self->buf, 4 * page_size, MADV_DONTNEED));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(i < 4 ? 0 : VALID | WRITE, self->d[i].flags) TH_LOG("entry %d", i);
		if (i >= 4) {
			EXPECT_EQ(before[i].addr, self->d[i].addr) TH_LOG("entry %d moved", i);
		}
	}
	EXPECT_LIVE(PAGES - 4);

	ASSERT_EQ(0, munmap(self->buf + 12 * page_size, 2 * page_size));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(0, self->d[12].flags);
	EXPECT_EQ(0, self->d[13].flags);
	EXPECT_EQ(VALID | WRITE, self->d[14].flags);
	EXPECT_LIVE(PAGES - 6);
	/* Stale entries are refused to the device, as for any mirror. */
	EXPECT_EQ(-EAGAIN, access_mirror(self->fd, id, self->buf, 1, self->e, false));

	ASSERT_EQ(0, mprotect(self->buf + 4 * page_size, 4 * page_size, PROT_READ));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(PAGES - 10, count_flags(self->d, PAGES, VALID | WRITE));
	EXPECT_LIVE(PAGES - 10);
	/* Read faults map read-only pages DMA_TO_DEVICE: the write-protected
	 * ones, and the zero page where the pages were dropped. */
	ASSERT_EQ(0, refault(self->fd, id, self->buf, 8 * page_size, 0, NULL));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(8, count_flags(self->d, 8, VALID));
	EXPECT_LIVE(PAGES - 2);
	/* A write fault maps the dropped ones writable, with new pages. */
	ASSERT_EQ(0, refault(self->fd, id, self->buf, 4 * page_size, RUST_GUP_MIRROR_F_WRITE, NULL));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(4, count_flags(self->d, 4, VALID | WRITE));
	EXPECT_LIVE(PAGES - 2);

	EXPECT_EQ(0, drop_mirror(self->fd, id));
	EXPECT_LIVE(0);
	EXPECT_EQ(0, mprotect(self->buf + 4 * page_size, 4 * page_size, PROT_READ | PROT_WRITE));
	/* Back, so that the teardown's munmap covers a whole mapping. */
	ASSERT_NE(MAP_FAILED, mmap(self->buf + 12 * page_size, 2 * page_size,
				   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				   -1, 0));
}

/* fork write-protects the parent's pages: their writable mappings go; a
 * read fault maps the shared page DMA_TO_DEVICE; the parent's COW copy
 * unmaps it again. */
TEST_F(dma_mirror, fork_and_cow_unmap)
{
	char *p = self->buf;
	int to_child[2];
	char c;
	pid_t pid;
	long id = dma_mirror(self->fd, p, page_size, RUST_GUP_MIRROR_F_WRITE, self->client);

	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	ASSERT_EQ(0, pipe(to_child));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		_exit(read(to_child[0], &c, 1) == 1 ? 0 : 1);
	}
	ASSERT_EQ(1, dma_entries(self->fd, id, 0, self->d, 1));
	EXPECT_EQ(0, self->d[0].flags) TH_LOG("a writable mapping survived fork");
	EXPECT_LIVE(0);
	ASSERT_EQ(0, refault(self->fd, id, p, page_size, 0, NULL));
	ASSERT_EQ(1, dma_entries(self->fd, id, 0, self->d, 1));
	EXPECT_EQ(VALID, self->d[0].flags);
	EXPECT_LIVE(1);
	p[0] = 'P';
	ASSERT_EQ(1, dma_entries(self->fd, id, 0, self->d, 1));
	EXPECT_EQ(0, self->d[0].flags) TH_LOG("a mapping survived the COW copy");
	EXPECT_LIVE(0);
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/* Splitting a PMD-mapped THP (partial mprotect) unmaps all of its 512
 * entries; a new fault maps them again, page by page. */
TEST_F(dma_mirror, thp_split_unmaps)
{
	size_t huge = HUGE;
	char *raw, *p = map_thp(&raw);
	static struct rust_gup_mirror_dma d[512];
	static struct rust_gup_mirror_entry e[512];
	long id;

	ASSERT_NE(NULL, p);
	if (!thp_backed(p, huge)) {
		munmap(raw, 2 * huge);
		SKIP(return, "no THP backs the range (transparent_hugepage disabled?)");
	}
	id = dma_mirror(self->fd, p, huge, RUST_GUP_MIRROR_F_WRITE, self->client);
	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	ASSERT_EQ(512, entries(self->fd, id, 0, e, 512, NULL));
	for (int i = 0; i < 512; i++) {
		EXPECT_EQ(9, e[i].order) TH_LOG("entry %d", i);
	}
	ASSERT_EQ(512, dma_entries(self->fd, id, 0, d, 512));
	EXPECT_EQ(512, count_flags(d, 512, VALID | WRITE));
	EXPECT_LIVE(512);
	ASSERT_EQ(0, mprotect(p + huge / 2, huge / 2, PROT_READ));
	ASSERT_EQ(512, dma_entries(self->fd, id, 0, d, 512));
	EXPECT_EQ(0, count_flags(d, 512, VALID | WRITE) + count_flags(d, 512, VALID));
	EXPECT_LIVE(0);
	ASSERT_EQ(0, refault(self->fd, id, p, huge, 0, NULL));
	ASSERT_EQ(512, dma_entries(self->fd, id, 0, d, 512));
	EXPECT_EQ(256, count_flags(d, 512, VALID | WRITE));
	EXPECT_EQ(256, count_flags(d, 512, VALID));
	EXPECT_LIVE(512);
	drop_mirror(self->fd, id);
	EXPECT_LIVE(0);
	munmap(raw, 2 * huge);
}

/* Migration (a long-term pin moves pages out of ZONE_MOVABLE; needs a boot
 * with movablecore=) unmaps exactly the moved pages' entries. */
TEST_F(dma_mirror, migration_invalidates)
{
	static struct rust_gup_page_info info[PAGES];
	static bool was_movable[PAGES];
	size_t size = PAGES * page_size;
	int moved = 0;
	long pages, id;
	__u32 set;

	id = dma_mirror(self->fd, self->buf, size, 0, self->client);
	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	ASSERT_EQ(PAGES, entries(self->fd, id, 0, self->e, PAGES, NULL));
	if (!pages_in_movable(_metadata, self->buf, PAGES, self->e, was_movable)) {
		drop_mirror(self->fd, id);
		SKIP(return, "no page of the buffer in ZONE_MOVABLE: boot with movablecore=");
	}
	ASSERT_EQ(0, hold(self->fd, self->buf, size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_LONGTERM,
			  &set, &pages));
	ASSERT_EQ(PAGES, query(self->fd, set, info, PAGES));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	for (int i = 0; i < PAGES; i++) {
		bool m = info[i].pfn != self->e[i].pfn;

		moved += m;
		EXPECT_TRUE(m || !was_movable[i]) TH_LOG("page %d stayed in ZONE_MOVABLE", i);
		EXPECT_EQ(m ? 0 : VALID | WRITE, self->d[i].flags) TH_LOG("entry %d", i);
	}
	EXPECT_LIVE(PAGES - moved);
	ASSERT_EQ(0, unhold(self->fd, set));
	printf("# %d of %d pages migrated by the long-term pin\n", moved, PAGES);
	EXPECT_EQ(0, drop_mirror(self->fd, id));
}

/* The owner's exit unmaps everything, before the file drops the mirror. */
TEST_F(dma_mirror, owner_exit_unmaps)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long id = dma_mirror(self->fd, self->buf, PAGES * page_size, 0, self->client);

		_exit(id > 0 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("the child's mirror failed");
	EXPECT_EQ(1, mirrors_alive(self->fd));
	EXPECT_LIVE(0);
	ASSERT_EQ(PAGES, dma_entries(self->fd, 1, 0, self->d, PAGES));
	EXPECT_EQ(PAGES, count_flags(self->d, PAGES, 0));
	EXPECT_EQ(0, drop_mirror(self->fd, 1));
}

struct dma_churn {
	int fd;
	__u32 id;
	char *buf;
	size_t size;
	volatile bool stop;
	unsigned long faults, failed;
};

static void *dma_fault_thread(void *arg)
{
	struct dma_churn *c = arg;

	while (!c->stop) {
		int ret = refault(c->fd, c->id, c->buf, c->size, RUST_GUP_MIRROR_F_WRITE, NULL);

		c->faults++;
		/* -EBUSY: the range kept changing for a second. */
		c->failed += ret && ret != -EBUSY;
	}
	return NULL;
}

/* Faults from two threads race with a third that drops and refills the
 * pages: every fault either commits and maps a consistent view or
 * retries; at the end no mapping is left. */
TEST_F(dma_mirror, races_with_invalidation)
{
	struct dma_churn c = { .fd = self->fd, .buf = self->buf, .size = PAGES * page_size };
	struct churn drop = { .buf = self->buf, .size = PAGES * page_size };
	pthread_t t[3];
	long id = dma_mirror(self->fd, self->buf, c.size, RUST_GUP_MIRROR_F_WRITE, self->client);

	ASSERT_GT(id, 0) TH_LOG("%s", strerror(-id));
	c.id = id;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, dma_fault_thread, &c));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, dma_fault_thread, &c));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, churn_thread, &drop));
	sleep(3);
	c.stop = drop.stop = true;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("# %lu faults, %lu failed\n", c.faults, c.failed);
	EXPECT_GT(c.faults, 0);
	EXPECT_EQ(0, c.failed);
	ASSERT_EQ(0, refault(self->fd, id, self->buf, c.size, RUST_GUP_MIRROR_F_WRITE, NULL));
	ASSERT_EQ(PAGES, dma_entries(self->fd, id, 0, self->d, PAGES));
	EXPECT_EQ(PAGES, count_flags(self->d, PAGES, VALID | WRITE));
	EXPECT_LIVE(PAGES);
	EXPECT_EQ(0, drop_mirror(self->fd, id));
	EXPECT_LIVE(0);
}

/* Bad input for the DMA fields: no mirror, nothing mapped. */
TEST_F(dma_mirror, bad_input)
{
	char unbound_name[64];
	long unbound = pci_function(NULL, -1, unbound_name, sizeof(unbound_name));
	size_t size = PAGES * page_size;
	pid_t pid;
	int status;

	EXPECT_EQ(-ENODEV, dma_mirror(self->fd, self->buf, size, 0, RUST_GUP_PCI_ID(0xffff, 0xff, 0xff)));
	if (unbound >= 0) {
		EXPECT_EQ(-ENODEV, dma_mirror(self->fd, self->buf, size, 0, unbound))
			TH_LOG("%s has no driver", unbound_name);
	}
	EXPECT_EQ(-EINVAL, dma_mirror(self->fd, self->buf, size, RUST_GUP_MIRROR_F_SNAPSHOT |
				      RUST_GUP_MIRROR_F_WRITE, self->client));
	/* CAP_SYS_RAWIO, as for RUST_GUP_IOC_DMA_MAP. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (drop_cap(CAP_SYS_RAWIO))
			_exit(2);
		_exit(dma_mirror(self->fd, self->buf, size, 0, self->client) == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("without CAP_SYS_RAWIO: 1 not EPERM, 2 capset");
	EXPECT_EQ(0, mirrors_alive(self->fd));
	EXPECT_LIVE(0);
}

TEST_HARNESS_MAIN
