// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_LONGTERM done right.
 *
 * Registrations, as RDMA memory registration does them: charged to the
 * owner's pinned_vm (VmPin), limited by RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK, all or nothing, and released on unregister, on close and
 * when the owner dies.
 *
 * Migration: a long-term pin moves pages out of ZONE_MOVABLE and CMA first
 * (the test kernel boots with movablecore= and cma=), whoever takes it: the
 * caller, or remotely a child or a kernel worker on the owner's pages; a
 * short-term pin leaves them where they are.
 *
 * fork and COW: a pinned anonymous page keeps showing what the parent sees
 * after fork, whatever the child writes.
 *
 * The file-backed matrix, as the kernel's gup_longterm test has it:
 * {memfd, tmpfs file, ext2 file, hugetlb memfd} x {read-only, read-write}
 * x {fast, locked} x {MAP_SHARED, MAP_PRIVATE}. Writable long-term pins of
 * shared mappings of a file on a disk file system are refused (the file
 * system tracks dirty pages through the page tables); every other case
 * pins, and the pinned pages hold the file's data. The disk file system
 * is the one rust_gup_longterm.sh mounts at $RUST_GUP_DISK_DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#define NR_PAGES 16

static long page_size;

/* A registration of `pages` pages; -ERANGE if it took fewer. */
static int reg(int fd, void *addr, long pages, __u32 *id)
{
	long got;
	int ret = hold(fd, addr, pages * page_size, RUST_GUP_OP_PIN_FAST,
		       RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, id, &got);

	return ret ? ret : got == pages ? 0 : -ERANGE;
}

static int set_memlock(long bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

FIXTURE(reg) {
	int fd;
	char *buf;
};

FIXTURE_SETUP(reg)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->buf = mmap(NULL, 4 * NR_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 1, 4 * NR_PAGES * page_size);
}

FIXTURE_TEARDOWN(reg)
{
	munmap(self->buf, 4 * NR_PAGES * page_size);
	close(self->fd);
}

/* A registration shows in VmPin while it lives, and only then. */
TEST_F(reg, charged_to_pinned_vm)
{
	long before = vm_pin_kb();
	__u32 a, b;

	ASSERT_GE(before, 0);
	ASSERT_EQ(0, reg(self->fd, self->buf, NR_PAGES, &a));
	EXPECT_EQ(before + NR_PAGES * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, reg(self->fd, self->buf + NR_PAGES * page_size, 2 * NR_PAGES, &b));
	EXPECT_EQ(before + 3 * NR_PAGES * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, unhold(self->fd, a));
	EXPECT_EQ(before + 2 * NR_PAGES * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, unhold(self->fd, b));
	EXPECT_EQ(before, vm_pin_kb());
}

/* Past RLIMIT_MEMLOCK without CAP_IPC_LOCK: ENOMEM, nothing pinned or
 * charged; with CAP_IPC_LOCK the limit does not apply. */
TEST_F(reg, memlock_limit)
{
	int status;
	pid_t pid;

	for (int with_cap = 0; with_cap <= 1; with_cap++) {
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			long pins = pins_outstanding();
			__u32 id, extra;

			if (set_memlock(NR_PAGES * page_size) || (!with_cap && drop_cap(CAP_IPC_LOCK)))
				_exit(10);
			if (reg(self->fd, self->buf, NR_PAGES, &id))
				_exit(11);
			if (vm_pin_kb() != NR_PAGES * page_size / 1024)
				_exit(12);
			if (with_cap) {
				/* Past the limit, allowed by CAP_IPC_LOCK. */
				if (reg(self->fd, self->buf + NR_PAGES * page_size, 1, &extra))
					_exit(13);
				_exit(unhold(self->fd, extra) || unhold(self->fd, id) ? 14 : 0);
			}
			if (reg(self->fd, self->buf + NR_PAGES * page_size, 1, &extra) != -ENOMEM)
				_exit(15);
			if (vm_pin_kb() != NR_PAGES * page_size / 1024)
				_exit(16);	/* the refused one left a charge */
			if (pins_outstanding() != pins + NR_PAGES)
				_exit(17);	/* the refused one left pins */
			if (unhold(self->fd, id) || vm_pin_kb() != 0)
				_exit(18);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("with_cap=%d: child step %d failed",
							  with_cap, WEXITSTATUS(status));
	}
}

/*
 * A long-term set kept without a charge needs CAP_IPC_LOCK: without it,
 * PIN and DMA_MAP with LONGTERM but no ACCOUNT, memfd pins without ACCOUNT
 * and PIN_LONGTERM_TEST_START are EPERM, with nothing pinned, also when a
 * worker would take the pages (the caller is asked, not the worker).
 * Registrations, short-term sets and BENCH, which keeps nothing, work.
 */
TEST_F(reg, uncharged_longterm_needs_ipc_lock)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		const __u32 lt = RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM;
		long pins = pins_outstanding(), got;
		int memfd = memfd_create("rust_gup_uncharged", 0);
		struct rust_gup_pin m = {
			.size = page_size, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd,
		};
		struct rust_gup_dma_map d = {
			.addr = (unsigned long)self->buf, .size = page_size,
			.op = RUST_GUP_OP_PIN_FAST, .flags = RUST_GUP_F_LONGTERM,
		};
		struct pin_longterm_test t = {
			.addr = (unsigned long)self->buf, .size = page_size,
		};
		struct rust_gup_bench b = {
			.addr = (unsigned long)self->buf, .size = page_size,
			.op = RUST_GUP_OP_PIN_FAST, .flags = lt,
		};
		__u32 id;

		if (memfd < 0 || ftruncate(memfd, page_size) || drop_cap(CAP_IPC_LOCK))
			_exit(10);
		if (hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_FAST, lt, &id, &got) != -EPERM)
			_exit(11);
		if (hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_REMOTE,
			 lt | RUST_GUP_F_WORKER, &id, &got) != -EPERM)
			_exit(12);
		if (pin_set(self->fd, &m, &id, &got) != -EPERM)
			_exit(13);
		if (ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &d) != -1 || errno != EPERM)
			_exit(14);
		if (ioctl(self->fd, PIN_LONGTERM_TEST_START, &t) != -1 || errno != EPERM)
			_exit(15);
		if (pins_outstanding() != pins)
			_exit(16);
		if (reg(self->fd, self->buf, 1, &id) || unhold(self->fd, id))
			_exit(17);
		m.flags = RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT;
		if (pin_set(self->fd, &m, &id, &got) || unhold(self->fd, id))
			_exit(18);
		if (hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			 &id, &got) || unhold(self->fd, id))
			_exit(19);
		if (ioctl(self->fd, RUST_GUP_IOC_BENCH, &b))
			_exit(20);
		_exit(pins_outstanding() == pins && vm_pin_kb() == 0 ? 0 : 21);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child step %d failed", WEXITSTATUS(status));
	/* With the capability: the same calls pin. */
	__u32 id;
	long got;

	ASSERT_EQ(0, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM, &id, &got));
	ASSERT_EQ(0, unhold(self->fd, id));
}

/* A process that dies holding registrations gives them all back. */
TEST_F(reg, released_when_the_owner_dies)
{
	struct rust_gup_stats before, after;
	long pins = pins_outstanding();
	int status;
	pid_t pid;

	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &before));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = open(RUST_GUP_DEVICE, O_RDWR);
		__u32 id;

		for (int i = 0; i < 3; i++)
			if (fd < 0 || reg(fd, self->buf + i * NR_PAGES * page_size, NR_PAGES, &id))
				_exit(1);
		_exit(0);	/* no unregister, no close */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &after));
	EXPECT_EQ(before.held_sets, after.held_sets);
	EXPECT_EQ(before.held_pages, after.held_pages);
	EXPECT_EQ(pins, pins_outstanding());
}

/* A registration is all or nothing: a hole fails it, leaving nothing. */
TEST_F(reg, all_or_nothing)
{
	long before = vm_pin_kb(), pins = pins_outstanding();
	__u32 id;

	ASSERT_EQ(0, munmap(self->buf + 5 * page_size, page_size));
	EXPECT_EQ(-EFAULT, reg(self->fd, self->buf, NR_PAGES, &id));
	EXPECT_EQ(before, vm_pin_kb());
	EXPECT_EQ(pins, pins_outstanding());
}

#define MIG_PAGES 256

struct cma_area {
	unsigned long base, count;
};

/* The CMA areas, from debugfs (CONFIG_CMA_DEBUGFS): one directory each. */
static int cma_areas(struct cma_area *areas, int max)
{
	DIR *dir = opendir("/sys/kernel/debug/cma");
	struct dirent *de;
	int n = 0;

	while (dir && (de = readdir(dir)) && n < max) {
		char path[512];
		FILE *base, *count;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/cma/%s/base_pfn", de->d_name);
		base = fopen(path, "r");
		snprintf(path, sizeof(path), "/sys/kernel/debug/cma/%s/count", de->d_name);
		count = fopen(path, "r");
		if (base && count && fscanf(base, "%lu", &areas[n].base) == 1 &&
		    fscanf(count, "%lu", &areas[n].count) == 1)
			n++;
		if (base)
			fclose(base);
		if (count)
			fclose(count);
	}
	if (dir)
		closedir(dir);
	return n;
}

static int in_cma(unsigned long pfn, const struct cma_area *areas, int n)
{
	for (int i = 0; i < n; i++)
		if (pfn >= areas[i].base && pfn < areas[i].base + areas[i].count)
			return 1;
	return 0;
}

/*
 * Where the MIG_PAGES pages at buf are, as the kernel says (pagemap,
 * zoneinfo, the CMA areas): how many in ZONE_MOVABLE and in CMA. The
 * module's QUERY of them (info) must agree; the tests' skips are decided
 * on these counts, not on the module's answer.
 */
static void where_pages_are(struct __test_metadata *_metadata, const char *buf,
			    const struct rust_gup_page_info *info, const struct cma_area *cma,
			    int nr_cma, int *movable, int *in_cma_areas)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY);
	unsigned long long start, end;

	movable_span(&start, &end);
	ASSERT_GE(pagemap, 0);
	*movable = *in_cma_areas = 0;
	for (int i = 0; i < MIG_PAGES; i++) {
		unsigned long long pfn = pagemap_pfn(pagemap, buf + i * page_size);
		bool in_movable = pfn >= start && pfn < end;

		EXPECT_EQ(pfn, info[i].pfn) TH_LOG("page %d: QUERY and pagemap differ", i);
		EXPECT_EQ(in_movable, info[i].zone == RUST_GUP_ZONE_MOVABLE)
			TH_LOG("page %d: QUERY's zone is not zoneinfo's", i);
		*movable += in_movable;
		*in_cma_areas += in_cma(pfn, cma, nr_cma);
	}
	close(pagemap);
}

/*
 * The migration boot's purpose (movablecore=, cma=): a ZONE_MOVABLE and a
 * CMA area exist. The migration tests' skips would otherwise hide a boot
 * that made neither.
 */
TEST(migration_boot_has_zone_movable_and_cma)
{
	struct cma_area cma[8];
	unsigned long long start, end;

	movable_span(&start, &end);
	printf("# ZONE_MOVABLE: page frames %llu-%llu; %d CMA areas\n", start, end,
	       cma_areas(cma, 8));
	EXPECT_LT(start, end) TH_LOG("no ZONE_MOVABLE: boot with movablecore=");
	EXPECT_LT(0, cma_areas(cma, 8)) TH_LOG("no CMA area: boot with cma=");
}

/* How migrates() takes its long-term pin. */
enum longterm_by {
	BY_LONGTERM_TEST,	/* PIN_LONGTERM_TEST_START, the caller's pages */
	BY_REMOTE_CHILD,	/* RUST_GUP_OP_PIN_REMOTE by a child, on its owner's */
	BY_REMOTE_WORKER,	/* the same through a kernel worker (RUST_GUP_F_WORKER) */
};

/*
 * A child that inherited fd pins, long-term and remotely, the pages of its
 * parent (the file's owner) at the address it reads from `to_child`, and
 * reports its set's id (or -errno) on `to_parent`.
 */
static void remote_pinner(int fd, int to_child, int to_parent, __u32 flags)
{
	unsigned long addr;
	long got, size;
	__u32 id;
	int ret;

	if (read(to_child, &addr, sizeof(addr)) != sizeof(addr) ||
	    read(to_child, &size, sizeof(size)) != sizeof(size))
		_exit(1);
	ret = hold(fd, (void *)addr, size, RUST_GUP_OP_PIN_REMOTE, RUST_GUP_F_LONGTERM | flags,
		   &id, &got);
	if (!ret && got * page_size != size)
		ret = -ERANGE;
	ret = ret ? ret : (int)id;
	_exit(write(to_parent, &ret, sizeof(ret)) == sizeof(ret) ? 0 : 2);
}

/*
 * Checks that no page of a long-term pin (after) is in ZONE_MOVABLE or CMA,
 * and each is DMA-pinned; returns how many are not where they were before.
 */
static int expect_moved(struct __test_metadata *_metadata,
			const struct rust_gup_page_info *before,
			const struct rust_gup_page_info *after, const struct cma_area *cma, int nr_cma)
{
	int moved = 0;

	for (int i = 0; i < MIG_PAGES; i++) {
		EXPECT_NE(RUST_GUP_ZONE_MOVABLE, after[i].zone) TH_LOG("page %d still movable", i);
		EXPECT_FALSE(in_cma(after[i].pfn, cma, nr_cma)) TH_LOG("page %d still in CMA", i);
		EXPECT_TRUE(after[i].flags & RUST_GUP_PAGE_DMA_PINNED);
		moved += after[i].pfn != before[i].pfn;
	}
	return moved;
}

/*
 * Pages faulted into ZONE_MOVABLE (or CMA) are migrated before a long-term
 * pin, whoever takes it (the caller on its own pages, or, remotely, another
 * process or a kernel worker on the owner's), and keep their contents; a
 * short-term pin leaves them in place.
 */
static void migrates(struct __test_metadata *_metadata, int fd, enum longterm_by by)
{
	static struct rust_gup_page_info before[MIG_PAGES], again[MIG_PAGES], after[MIG_PAGES];
	size_t size = MIG_PAGES * page_size;
	struct cma_area cma[8];
	int nr_cma = cma_areas(cma, 8);
	int movable = 0, in_cma_before = 0, moved = 0, to_child[2], to_parent[2], status;
	struct rust_gup_pin pin = { .size = size, .op = RUST_GUP_OP_PIN_FAST };
	struct pin_longterm_test lt = { .size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_FAST };
	char *buf, *copy = malloc(size);
	__u64 dest = (unsigned long)copy;
	pid_t child = -1;
	__u32 id = RUST_GUP_ID_LONGTERM_TEST;
	int ret;

	ASSERT_NE(NULL, copy);
	if (by != BY_LONGTERM_TEST) {
		/* Forked first: the child does not have the buffer. */
		ASSERT_EQ(0, pipe(to_child));
		ASSERT_EQ(0, pipe(to_parent));
		child = fork();
		ASSERT_GE(child, 0);
		if (child == 0)
			remote_pinner(fd, to_child[0], to_parent[1],
				      by == BY_REMOTE_WORKER ? RUST_GUP_F_WORKER : 0);
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, madvise(buf, size, MADV_NOHUGEPAGE));
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i / page_size + i);

	/* Where the pages are: a short-term pin does not move them. */
	pin.addr = (unsigned long)buf;
	ASSERT_EQ(0, ioctl(fd, RUST_GUP_IOC_PIN, &pin));
	ASSERT_EQ(MIG_PAGES, query(fd, pin.id, before, MIG_PAGES));
	ASSERT_EQ(0, unhold(fd, pin.id));
	pin.id = 0;	/* out only: zero on input */
	ASSERT_EQ(0, ioctl(fd, RUST_GUP_IOC_PIN, &pin));
	ASSERT_EQ(MIG_PAGES, query(fd, pin.id, again, MIG_PAGES));
	ASSERT_EQ(0, unhold(fd, pin.id));
	where_pages_are(_metadata, buf, before, cma, nr_cma, &movable, &in_cma_before);
	for (int i = 0; i < MIG_PAGES; i++) {
		EXPECT_EQ(before[i].pfn, again[i].pfn) TH_LOG("a short-term pin moved page %d", i);
	}
	printf("# before: %d of %d pages in ZONE_MOVABLE, %d in CMA (%d CMA areas)\n",
	       movable, MIG_PAGES, in_cma_before, nr_cma);
	if (!movable && !in_cma_before) {
		if (child > 0)
			kill(child, SIGKILL);
		SKIP(goto out, "no page in ZONE_MOVABLE or CMA: boot with movablecore=");
	}

	if (by == BY_LONGTERM_TEST) {
		lt.addr = (unsigned long)buf;
		ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_START, &lt));
	} else {
		ASSERT_EQ(sizeof(pin.addr), write(to_child[1], &pin.addr, sizeof(pin.addr)));
		ASSERT_EQ(sizeof(long), write(to_child[1], &(long){ size }, sizeof(long)));
		ASSERT_EQ(sizeof(ret), read(to_parent[0], &ret, sizeof(ret)));
		ASSERT_EQ(child, waitpid(child, &status, 0));
		ASSERT_GT(ret, 0) TH_LOG("the remote long-term pin: %s", strerror(-ret));
		id = ret;
	}
	ASSERT_EQ(MIG_PAGES, query(fd, id, after, MIG_PAGES));
	moved = expect_moved(_metadata, before, after, cma, nr_cma);
	printf("# after a long-term pin: %d pages moved, none in ZONE_MOVABLE or CMA\n", moved);
	EXPECT_GE(moved, movable);
	/* The data moved with the pages: the pins see it, and so does the
	 * mapping, which now points at the new pages. */
	if (by == BY_LONGTERM_TEST) {
		ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_READ, &dest));
	} else {
		ASSERT_EQ(0, set_access(fd, id, 0, 0, copy, size));
	}
	for (size_t i = 0; i < size; i++) {
		if (copy[i] != (char)(i / page_size + i) || buf[i] != copy[i]) {
			EXPECT_EQ(0, 1) TH_LOG("data differs at byte %zu", i);
			break;
		}
	}
	if (by == BY_LONGTERM_TEST) {
		ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	} else {
		ASSERT_EQ(0, unhold(fd, id));
	}
out:
	free(copy);
	munmap(buf, size);
}

TEST_F(reg, longterm_migrates_out_of_movable_and_cma)
{
	migrates(_metadata, self->fd, BY_LONGTERM_TEST);
}

TEST_F(reg, remote_longterm_migrates_out_of_movable_and_cma)
{
	migrates(_metadata, self->fd, BY_REMOTE_CHILD);
}

TEST_F(reg, worker_longterm_migrates_out_of_movable_and_cma)
{
	migrates(_metadata, self->fd, BY_REMOTE_WORKER);
}

/*
 * memfd pins (RUST_GUP_OP_PIN_MEMFD) are long-term: shmem pages in
 * ZONE_MOVABLE or CMA are migrated before they are pinned, with their
 * contents, and a shared mapping of the file then maps the new pages.
 */
TEST_F(reg, memfd_pin_migrates_out_of_movable_and_cma)
{
	static struct rust_gup_page_info before[MIG_PAGES], after[MIG_PAGES];
	size_t size = MIG_PAGES * page_size;
	struct cma_area cma[8];
	int nr_cma = cma_areas(cma, 8);
	int movable = 0, in_cma_before = 0, moved = 0;
	int memfd = memfd_create("rust_gup_migrate", 0);
	char *buf, *copy = malloc(size);
	struct rust_gup_pin pin = { .size = size, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd };
	__u32 id;
	long pages;

	ASSERT_NE(NULL, copy);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, size));
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, buf);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i / page_size + 3 * i);

	/* Where the pages are, by a short-term pin of the mapping. */
	ASSERT_EQ(0, hold(self->fd, buf, size, RUST_GUP_OP_PIN_FAST, 0, &id, &pages));
	ASSERT_EQ(MIG_PAGES, query(self->fd, id, before, MIG_PAGES));
	ASSERT_EQ(0, unhold(self->fd, id));
	where_pages_are(_metadata, buf, before, cma, nr_cma, &movable, &in_cma_before);
	printf("# before: %d of %d memfd pages in ZONE_MOVABLE, %d in CMA (%d CMA areas)\n",
	       movable, MIG_PAGES, in_cma_before, nr_cma);
	if (!movable && !in_cma_before)
		SKIP(goto out, "no page in ZONE_MOVABLE or CMA: boot with movablecore=");

	ASSERT_EQ(0, pin_set(self->fd, &pin, &id, &pages));
	ASSERT_EQ(MIG_PAGES, pages);
	ASSERT_EQ(MIG_PAGES, query(self->fd, id, after, MIG_PAGES));
	moved = expect_moved(_metadata, before, after, cma, nr_cma);
	printf("# after a memfd pin: %d pages moved, none in ZONE_MOVABLE or CMA\n", moved);
	EXPECT_GE(moved, movable);
	ASSERT_EQ(0, set_access(self->fd, id, 0, 0, copy, size));
	for (size_t i = 0; i < size; i++) {
		if (copy[i] != (char)(i / page_size + 3 * i) || buf[i] != copy[i]) {
			EXPECT_EQ(0, 1) TH_LOG("data differs at byte %zu", i);
			break;
		}
	}
	ASSERT_EQ(0, unhold(self->fd, id));
out:
	free(copy);
	munmap(buf, size);
	close(memfd);
}

/*
 * A pinned anonymous page and fork: the child's writes go to its own copy;
 * the pinned page keeps showing what the parent sees, and the parent's
 * later writes reach it. For read-only and writable long-term pins.
 */
TEST_F(reg, pinned_anon_page_and_fork)
{
	char *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *seen = malloc(page_size);
	__u64 dest = (unsigned long)seen;

	ASSERT_NE(MAP_FAILED, page);
	ASSERT_NE(NULL, seen);
	for (int rw = 0; rw <= 1; rw++) {
		struct pin_longterm_test lt = {
			.addr = (unsigned long)page, .size = page_size,
			.flags = rw ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0,
		};
		int status;
		pid_t pid;

		memset(page, 'P', page_size);
		ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_START, &lt));
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			memset(page, 'C', page_size);
			_exit(page[0] == 'C' ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));

		ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
		EXPECT_EQ('P', seen[0]) TH_LOG("%s pin: the child's write reached the pinned page",
					       rw ? "writable" : "read-only");
		EXPECT_EQ('P', page[0]);
		memset(page, 'Q', page_size);
		ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
		EXPECT_EQ('Q', seen[0]) TH_LOG("%s pin: the parent's write did not reach the pinned page",
					       rw ? "writable" : "read-only");
		ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
	}
	free(seen);
	munmap(page, page_size);
}

enum backing { B_MEMFD, B_TMPFS, B_DISK, B_HUGETLB, NR_BACKINGS };

static const char *const backing_names[] = {
	"memfd (shmem)", "tmpfs file", "ext2 file", "hugetlb memfd",
};

#define FILE_SIZE (2ul << 20)	/* one 2 MiB huge page */

static char file_byte(size_t i)
{
	return (char)(i * 7 + 3);
}

/* A file of the backing holding the test pattern; -1 if it cannot be had. */
static int backing_file(enum backing b)
{
	const char *dir = b == B_DISK ? getenv("RUST_GUP_DISK_DIR") : "/tmp";
	char path[512];
	char *p;
	int fd;

	if (b == B_MEMFD || b == B_HUGETLB) {
		fd = memfd_create("rust_gup", b == B_HUGETLB ? MFD_HUGETLB : 0);
	} else {
		if (!dir)
			return -1;
		snprintf(path, sizeof(path), "%s/rust_gup_longterm", dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(path);
	}
	if (fd < 0 || ftruncate(fd, FILE_SIZE))
		return -1;
	/* hugetlbfs has no write(): fill every backing through a mapping. */
	p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < FILE_SIZE; i++)
		p[i] = file_byte(i);
	munmap(p, FILE_SIZE);
	if (b == B_DISK && fsync(fd))
		return -1;
	return fd;
}

TEST_F(reg, file_backed_matrix)
{
	const char *disk = getenv("RUST_GUP_DISK_DIR");
	char *seen = malloc(FILE_SIZE);
	__u64 dest = (unsigned long)seen;
	int mismatches = 0, cases = 0;

	ASSERT_NE(NULL, seen);
	printf("# %-14s %-4s %-6s %-7s %-8s %-8s %s\n", "backing", "pin", "path", "mapping",
	       "expected", "seen", "data");
	for (int b = 0; b < NR_BACKINGS; b++) {
		int file;

		/* Only the disk's cases need rust_gup_longterm.sh's file system. */
		if (b == B_DISK && !disk) {
			printf("# %-14s not run: RUST_GUP_DISK_DIR is not set\n", backing_names[b]);
			continue;
		}
		file = backing_file(b);
		ASSERT_GE(file, 0) TH_LOG("%s: %s", backing_names[b], strerror(errno));
		for (int rw = 0; rw <= 1; rw++)
		for (int fast = 0; fast <= 1; fast++)
		for (int shared = 0; shared <= 1; shared++) {
			int expect = b == B_DISK && rw && shared ? EFAULT : 0;
			char *p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE,
				       shared ? MAP_SHARED : MAP_PRIVATE, file, 0);
			struct pin_longterm_test lt = {
				.addr = (unsigned long)p, .size = FILE_SIZE,
				.flags = (rw ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0) |
					 (fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0),
			};
			const char *data = "-";
			int err;

			ASSERT_NE(MAP_FAILED, p);
			err = ioctl(self->fd, PIN_LONGTERM_TEST_START, &lt) ? errno : 0;
			if (!err) {
				memset(seen, 0, FILE_SIZE);
				data = "ok";
				if (ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest))
					data = "READ failed";
				for (size_t i = 0; i < FILE_SIZE && !strcmp(data, "ok"); i++)
					if (seen[i] != file_byte(i))
						data = "differs";
				ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
			}
			printf("# %-14s %-4s %-6s %-7s %-8s %-8s %s\n", backing_names[b],
			       rw ? "rw" : "ro", fast ? "fast" : "locked",
			       shared ? "shared" : "private",
			       expect ? strerrorname_np(expect) : "pinned",
			       err ? strerrorname_np(err) : "pinned", data);
			cases++;
			if (err != expect || (!err && strcmp(data, "ok")))
				mismatches++;
			munmap(p, FILE_SIZE);
		}
		close(file);
	}
	printf("# %d cases, %d not as expected\n", cases, mismatches);
	EXPECT_EQ(0, mismatches);
	free(seen);
	if (!disk)
		SKIP(return, "the ext2 file cases need RUST_GUP_DISK_DIR: run rust_gup_longterm.sh");
}

/*
 * A device write into pinned pages of a file on the disk file system
 * (pin_user_pages.rst, case 5): the pages are pinned writable and dirty on
 * release; while they are pinned the CPU's copy is written back (msync)
 * and reclaim is asked to page them out (MADV_PAGEOUT), as happens to a
 * long DMA. The pin keeps the folios from being cleaned of their buffers,
 * so releasing it dirties them without a WARN (panic_on_warn) and the
 * device's data reaches the disk. The same with a FOLL_GET reference,
 * which is what made the unsafe form, is refused.
 */
TEST_F(reg, dirty_file_pin_survives_writeback)
{
	const char *dir = getenv("RUST_GUP_DISK_DIR");
	size_t size = NR_PAGES * page_size;
	char path[512], *p, *data = malloc(size), *back = malloc(size);
	long pages, pins = pins_outstanding();
	__u32 id;
	int file;

	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, back);
	if (!dir)
		SKIP(return, "RUST_GUP_DISK_DIR is not set: run rust_gup_longterm.sh");
	snprintf(path, sizeof(path), "%s/rust_gup_dirty", dir);
	file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(file, 0);
	memset(back, 0x11, size);
	ASSERT_EQ(size, pwrite(file, back, size, 0));
	ASSERT_EQ(0, fsync(file));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
	ASSERT_NE(MAP_FAILED, p);

	EXPECT_EQ(-EINVAL, hold(self->fd, p, size, RUST_GUP_OP_GET_FAST,
				RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &id, &pages))
		TH_LOG("a GET that is dirtied on release");
	ASSERT_EQ(0, hold(self->fd, p, size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &id, &pages));
	ASSERT_EQ(NR_PAGES, pages);
	for (size_t i = 0; i < size; i++)
		data[i] = (char)(i * 13 + 5);
	/* The device writes; the page tables do not see it. */
	ASSERT_EQ(0, set_access(self->fd, id, 1, 0, data, size));
	ASSERT_EQ(0, msync(p, size, MS_SYNC));
	ASSERT_EQ(0, madvise(p, size, MADV_PAGEOUT));
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(pins, pins_outstanding());

	ASSERT_EQ(0, munmap(p, size));
	ASSERT_EQ(0, fsync(file));
	/* From the disk: the page cache dropped. */
	ASSERT_EQ(0, posix_fadvise(file, 0, size, POSIX_FADV_DONTNEED));
	memset(back, 0, size);
	ASSERT_EQ(size, pread(file, back, size, 0));
	EXPECT_EQ(0, memcmp(data, back, size)) TH_LOG("the device's data did not reach the file");
	close(file);
	unlink(path);
	free(data);
	free(back);
}

TEST_HARNESS_MAIN
