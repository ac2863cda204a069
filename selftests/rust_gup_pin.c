// SPDX-License-Identifier: GPL-2.0
/*
 * The semantics of rust_gup's pins, checked through the query command and
 * /proc/vmstat rather than the kernel log: FOLL_PIN pages are DMA-pinned
 * and counted, FOLL_GET pages are not; a range with a hole yields its
 * prefix; dirty-on-release dirties; the long-term test belongs to the open
 * file; sets are released on close; and every bad argument gets its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#define NR_PAGES 16

static long page_size;

static long pins_acquired(void)
{
	return vmstat("nr_foll_pin_acquired");
}

static long pins_released(void)
{
	return vmstat("nr_foll_pin_released");
}

static const char *op_name(__u32 op)
{
	static const char *const names[] = {
		[RUST_GUP_OP_PIN_FAST] = "PIN_FAST", [RUST_GUP_OP_PIN_LOCKED] = "PIN_LOCKED",
		[RUST_GUP_OP_PIN_UNLOCKED] = "PIN_UNLOCKED", [RUST_GUP_OP_GET_FAST] = "GET_FAST",
		[RUST_GUP_OP_GET_LOCKED] = "GET_LOCKED", [RUST_GUP_OP_GET_UNLOCKED] = "GET_UNLOCKED",
		[RUST_GUP_OP_PIN_REMOTE] = "PIN_REMOTE", [RUST_GUP_OP_GET_REMOTE] = "GET_REMOTE",
	};
	return op < sizeof(names) / sizeof(names[0]) && names[op] ? names[op] : "?";
}

FIXTURE(pin) {
	int fd;
	char *buf;
	size_t size;
};

FIXTURE_SETUP(pin)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->size = NR_PAGES * page_size;
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
	self->buf = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	/* Order-0 pages, faulted in: a read pin of an untouched page would
	 * get the shared zero page, which GUP never counts as pinned. */
	ASSERT_EQ(0, madvise(self->buf, self->size, MADV_NOHUGEPAGE));
	memset(self->buf, 0x5a, self->size);
}

FIXTURE_TEARDOWN(pin)
{
	munmap(self->buf, self->size);
	close(self->fd);
}

/* Every pin entry point, read and write: DMA-pinned, counted, released. */
TEST_F(pin, pins_are_dma_pinned_and_counted)
{
	const __u32 ops[] = { RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_OP_PIN_UNLOCKED,
			      RUST_GUP_OP_PIN_REMOTE };
	const __u32 flags[] = { 0, RUST_GUP_F_WRITE, RUST_GUP_F_LONGTERM,
				RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM };
	struct rust_gup_page_info info[NR_PAGES];

	for (unsigned int o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		for (unsigned int f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			long acq = pins_acquired(), rel = pins_released(), pages;
			__u32 id;

			ASSERT_EQ(0, hold(self->fd, self->buf, self->size, ops[o], flags[f], &id, &pages))
				TH_LOG("%s flags %#x", op_name(ops[o]), flags[f]);
			ASSERT_EQ(NR_PAGES, pages);
			EXPECT_EQ(NR_PAGES, pins_acquired() - acq) TH_LOG("%s", op_name(ops[o]));
			ASSERT_EQ(NR_PAGES, query(self->fd, id, info, NR_PAGES));
			for (int i = 0; i < NR_PAGES; i++) {
				EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED)
					TH_LOG("%s flags %#x page %d", op_name(ops[o]), flags[f], i);
				EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_ANON);
				EXPECT_EQ(1, info[i].pincount);
				EXPECT_EQ(0, info[i].order);
				EXPECT_NE(RUST_GUP_ZONE_DEVICE, info[i].zone);
				if (i)
					EXPECT_NE(info[i - 1].pfn, info[i].pfn);
			}
			ASSERT_EQ(0, unhold(self->fd, id));
			EXPECT_EQ(NR_PAGES, pins_released() - rel);
		}
	}
}

/* FOLL_GET takes references, not pins: nothing is DMA-pinned or counted. */
TEST_F(pin, got_pages_are_not_dma_pinned)
{
	const __u32 ops[] = { RUST_GUP_OP_GET_FAST, RUST_GUP_OP_GET_LOCKED, RUST_GUP_OP_GET_UNLOCKED,
			      RUST_GUP_OP_GET_REMOTE };
	struct rust_gup_page_info info[NR_PAGES];

	for (unsigned int o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		long acq = pins_acquired(), pages;
		__u32 id;

		ASSERT_EQ(0, hold(self->fd, self->buf, self->size, ops[o], RUST_GUP_F_WRITE, &id, &pages));
		ASSERT_EQ(NR_PAGES, pages);
		EXPECT_EQ(0, pins_acquired() - acq) TH_LOG("%s", op_name(ops[o]));
		ASSERT_EQ(NR_PAGES, query(self->fd, id, info, NR_PAGES));
		for (int i = 0; i < NR_PAGES; i++) {
			EXPECT_FALSE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("%s", op_name(ops[o]));
			EXPECT_EQ(0, info[i].pincount);
			/* The mapping's reference and ours. */
			EXPECT_GE(info[i].refcount, 2);
		}
		ASSERT_EQ(0, unhold(self->fd, id));
	}
}

/* Two pins of the same page count twice; the pin count shows both. */
TEST_F(pin, pins_stack)
{
	struct rust_gup_page_info info;
	__u32 a, b;
	long pages;

	ASSERT_EQ(0, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_FAST, 0, &a, &pages));
	ASSERT_EQ(0, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_LOCKED, 0, &b, &pages));
	ASSERT_EQ(1, query(self->fd, a, &info, 1));
	EXPECT_EQ(2, info.pincount);
	ASSERT_EQ(0, unhold(self->fd, b));
	ASSERT_EQ(1, query(self->fd, a, &info, 1));
	EXPECT_EQ(1, info.pincount);
	ASSERT_EQ(0, unhold(self->fd, a));
}

/* GUP stops at a hole: the set holds the prefix, and a range that starts
 * in the hole is EFAULT. The gup_test commands report the prefix too. */
TEST_F(pin, hole_yields_prefix)
{
	const int hole = 5;
	__u32 id;
	long pages;

	ASSERT_EQ(0, munmap(self->buf + hole * page_size, page_size));
	for (__u32 op = RUST_GUP_OP_PIN_FAST; op <= RUST_GUP_OP_GET_REMOTE; op++) {
		ASSERT_EQ(0, hold(self->fd, self->buf, self->size, op, 0, &id, &pages)) TH_LOG("%s", op_name(op));
		EXPECT_EQ(hole, pages) TH_LOG("%s", op_name(op));
		ASSERT_EQ(0, unhold(self->fd, id));
		EXPECT_EQ(-EFAULT, hold(self->fd, self->buf + hole * page_size, page_size, op, 0,
					&id, &pages)) TH_LOG("%s", op_name(op));
	}
	for (int n = 1; n <= NR_PAGES; n *= 4) {
		const unsigned long cmds[] = { GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK,
					       PIN_LONGTERM_BENCHMARK, GUP_BASIC_TEST, PIN_BASIC_TEST };

		for (unsigned int c = 0; c < 5; c++) {
			struct gup_test gup = {
				.addr = (uintptr_t)self->buf, .size = self->size,
				.nr_pages_per_call = n,
			};

			ASSERT_EQ(0, ioctl(self->fd, cmds[c], &gup)) TH_LOG("cmd %u n %d", c, n);
			EXPECT_EQ(hole * page_size, gup.size) TH_LOG("cmd %u n %d", c, n);
		}
	}
}

/*
 * Dirty on release is decided when the pin is made. MADV_FREE cleans the
 * pinned anonymous pages (folio and PTEs); a second, plain pin lets the
 * query watch them. Releasing a RUST_GUP_F_DIRTY pin dirties them again,
 * releasing a plain writable pin does not.
 */
TEST_F(pin, dirty_on_release)
{
	struct rust_gup_page_info info[NR_PAGES];
	__u32 watch, writer;
	long pages;

	for (int dirty = 0; dirty <= 1; dirty++) {
		__u32 flags = RUST_GUP_F_WRITE | (dirty ? RUST_GUP_F_DIRTY : 0);

		memset(self->buf, dirty, self->size);
		ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_FAST, 0, &watch, &pages));
		ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_FAST, flags, &writer, &pages));
		ASSERT_EQ(0, madvise(self->buf, self->size, MADV_FREE));
		ASSERT_EQ(NR_PAGES, query(self->fd, watch, info, NR_PAGES));
		for (int i = 0; i < NR_PAGES; i++) {
			ASSERT_FALSE(info[i].flags & RUST_GUP_PAGE_DIRTY) TH_LOG("page %d dirty before release", i);
		}

		ASSERT_EQ(0, unhold(self->fd, writer));
		ASSERT_EQ(NR_PAGES, query(self->fd, watch, info, NR_PAGES));
		for (int i = 0; i < NR_PAGES; i++) {
			EXPECT_EQ(dirty, !!(info[i].flags & RUST_GUP_PAGE_DIRTY))
				TH_LOG("page %d after releasing a %s pin", i, dirty ? "dirty" : "plain");
		}
		ASSERT_EQ(0, unhold(self->fd, watch));
	}
}

/*
 * RUST_GUP_IOC_ACCESS reads and writes a set's pages through its pins, from
 * any offset, across pages; and refuses what a device could not do, or
 * what the CPU may not: writing a pin taken without WRITE and DIRTY,
 * FOLL_GET references, pins that may hold P2PDMA pages.
 */
TEST_F(pin, access_through_a_set)
{
	size_t at = 3 * page_size - 10, len = page_size + 20;
	char *out = malloc(self->size), *in = malloc(self->size);
	__u32 rw, ro, w, got, p2p;
	long pages;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	for (size_t i = 0; i < self->size; i++)
		self->buf[i] = (char)(i * 7 + i / page_size);
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &rw, &pages));
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_LOCKED,
			  RUST_GUP_F_LONGTERM, &ro, &pages));
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_UNLOCKED,
			  RUST_GUP_F_WRITE, &w, &pages));
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_GET_FAST,
			  RUST_GUP_F_WRITE, &got, &pages));
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_P2PDMA, &p2p, &pages));
	struct {
		const char *name;
		__u32 id, flags;
		__u64 offset, len;
		void *buf;
		int expect;
	} bad[] = {
		{ "unknown flag", rw, 2, 0, 1, in, -EINVAL },
		{ "len 0", rw, 0, 0, 0, in, -EINVAL },
		{ "offset at the end", rw, 0, self->size, 1, in, -EINVAL },
		{ "len past the end", rw, 0, page_size, self->size, in, -EINVAL },
		{ "offset wraps", rw, 0, -1ull, 2, in, -EINVAL },
		{ "unknown set", 999, 0, 0, 1, in, -ENOENT },
		{ "no long-term test", RUST_GUP_ID_LONGTERM_TEST, 0, 0, 1, in, -ENOENT },
		{ "write a read-only pin", ro, RUST_GUP_ACCESS_WRITE, 0, 1, in, -EPERM },
		{ "write a writable pin without DIRTY", w, RUST_GUP_ACCESS_WRITE, 0, 1, in, -EPERM },
		{ "read FOLL_GET references", got, 0, 0, 1, in, -EOPNOTSUPP },
		{ "read P2PDMA-capable pins", p2p, 0, 0, 1, in, -EOPNOTSUPP },
		{ "read into a NULL buffer", rw, 0, 0, 1, NULL, -EFAULT },
		{ "write from a NULL buffer", rw, RUST_GUP_ACCESS_WRITE, 0, 1, NULL, -EFAULT },
	};

	/* Reads see the memory, from any offset, across a page boundary. */
	ASSERT_EQ(0, set_access(self->fd, ro, 0, at, out, len));
	EXPECT_EQ(0, memcmp(out, self->buf + at, len));
	ASSERT_EQ(0, set_access(self->fd, rw, 0, 0, out, self->size));
	EXPECT_EQ(0, memcmp(out, self->buf, self->size));
	/* A write lands in the memory, and only where it was aimed. */
	memcpy(out, self->buf, self->size);
	memset(in, 0xe7, len);
	ASSERT_EQ(0, set_access(self->fd, rw, 1, at, in, len));
	memcpy(out + at, in, len);
	EXPECT_EQ(0, memcmp(out, self->buf, self->size));

	printf("# %-36s %-10s %s\n", "case", "expected", "seen");
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rust_gup_access a = {
			.id = bad[i].id, .flags = bad[i].flags, .offset = bad[i].offset,
			.len = bad[i].len, .buf = (unsigned long)bad[i].buf,
		};
		int err = ioctl(self->fd, RUST_GUP_IOC_ACCESS, &a) ? -errno : 0;

		printf("# %-36s %-10s %s\n", bad[i].name, strerrorname_np(-bad[i].expect),
		       err ? strerrorname_np(-err) : "success");
		EXPECT_EQ(bad[i].expect, err) TH_LOG("%s", bad[i].name);
	}
	EXPECT_EQ(0, memcmp(out, self->buf, self->size)) TH_LOG("a refused access wrote");
	EXPECT_EQ(0, unhold(self->fd, rw));
	EXPECT_EQ(0, unhold(self->fd, ro));
	EXPECT_EQ(0, unhold(self->fd, w));
	EXPECT_EQ(0, unhold(self->fd, got));
	EXPECT_EQ(0, unhold(self->fd, p2p));
	free(out);
	free(in);
}

/* Sets live until UNPIN or close; the module-wide counters follow. */
TEST_F(pin, sets_are_released_on_close)
{
	struct rust_gup_stats before, during, after;
	int fd2 = open(RUST_GUP_DEVICE, O_RDWR);
	long acq = pins_acquired(), rel = pins_released(), pages;
	__u32 id;

	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &before));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, hold(fd2, self->buf, self->size, RUST_GUP_OP_PIN_FAST, 0, &id, &pages));
	ASSERT_EQ(0, hold(fd2, self->buf, self->size, RUST_GUP_OP_GET_FAST, 0, &id, &pages));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &during));
	EXPECT_EQ(before.held_sets + 4, during.held_sets);
	EXPECT_EQ(before.held_pages + 4 * NR_PAGES, during.held_pages);
	EXPECT_EQ(3 * NR_PAGES, pins_acquired() - acq);
	EXPECT_EQ(0, pins_released() - rel);

	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &after));
	EXPECT_EQ(before.held_sets, after.held_sets);
	EXPECT_EQ(before.held_pages, after.held_pages);
	EXPECT_EQ(3 * NR_PAGES, pins_released() - rel);
}

/*
 * A set of FOLL_GET references puts the pages of a large folio with one
 * folio_put_refs(): whatever runs of tail pages, heads and small pages the
 * range holds, releasing it gives back exactly the references it took, as
 * a held set (runs) and as the gup_test commands' page array. The folios
 * are watched through sets of one pinned page each.
 */
#define HUGE (2ul << 20)
#define HUGE_PAGES 512

static void *map_huge(int hugetlb, size_t size)
{
	char *p;

	if (hugetlb)
		return mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	/* Aligned to a huge page: over-map, then trim. */
	p = mmap(NULL, size + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	char *aligned = (char *)(((unsigned long)p + HUGE - 1) & ~(HUGE - 1));

	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + size, p + HUGE - aligned);
	/* Two THPs, then small pages. */
	if (madvise(aligned, 2 * HUGE, MADV_HUGEPAGE) ||
	    madvise(aligned + 2 * HUGE, size - 2 * HUGE, MADV_NOHUGEPAGE))
		return MAP_FAILED;
	return aligned;
}

TEST(got_pages_are_put_by_folio)
{
	/* Ranges in 4 KiB pages: two whole folios; a run of tails, then a
	 * head and tails; a tail then a head; tails into small pages. */
	static const struct { unsigned long first, nr; } ranges[] = {
		{ 0, 2 * HUGE_PAGES }, { 100, 600 }, { 511, 2 }, { 1000, 40 },
	};
	/* Watched: a page of each huge folio, and a small page. */
	static const unsigned long watched[] = { 7, HUGE_PAGES + 7, 2 * HUGE_PAGES + 3 };
	const unsigned int nr_watched = sizeof(watched) / sizeof(watched[0]);
	struct rust_gup_page_info info;
	int fd = open(RUST_GUP_DEVICE, O_RDWR);

	ASSERT_GE(fd, 0);
	page_size = sysconf(_SC_PAGESIZE);
	for (int hugetlb = 0; hugetlb <= 1; hugetlb++) {
		/* hugetlb: two huge pages only, and no small ones after. */
		size_t size = hugetlb ? 2 * HUGE : 3 * HUGE;
		unsigned int watching = hugetlb ? 2 : nr_watched;
		char *buf = map_huge(hugetlb, size);
		__u32 watch[3];
		__u32 base[3];
		long pages;

		ASSERT_NE(MAP_FAILED, buf) TH_LOG("%s: %s", hugetlb ? "hugetlb" : "THP", strerror(errno));
		memset(buf, 0x3c, size);
		for (unsigned int w = 0; w < watching; w++) {
			ASSERT_EQ(0, hold(fd, buf + watched[w] * page_size, page_size,
					  RUST_GUP_OP_PIN_FAST, 0, &watch[w], &pages));
			ASSERT_EQ(1, query(fd, watch[w], &info, 1));
			/* The huge ones must be huge, or nothing is batched. */
			ASSERT_EQ(w < 2 ? 9 : 0, info.order) TH_LOG("%s page %lu",
				  hugetlb ? "hugetlb" : "THP", watched[w]);
			base[w] = info.refcount;
		}
		for (unsigned int r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
			unsigned long first = ranges[r].first, nr = ranges[r].nr;

			if ((first + nr) * page_size > size)
				continue;
			for (int write = 0; write <= 1; write++) {
				__u32 flags = write ? RUST_GUP_F_WRITE : 0;
				__u32 id;

				ASSERT_EQ(0, hold(fd, buf + first * page_size, nr * page_size,
						  RUST_GUP_OP_GET_FAST, flags, &id, &pages));
				ASSERT_EQ(nr, pages);
				for (unsigned int w = 0; w < watching; w++) {
					/* The references the set holds on the page's folio. */
					unsigned long lo = w < 2 ? w * HUGE_PAGES : watched[w];
					unsigned long hi = w < 2 ? lo + HUGE_PAGES : lo + 1;
					unsigned long a = first > lo ? first : lo;
					unsigned long b = first + nr < hi ? first + nr : hi;
					long held = b > a ? b - a : 0;

					ASSERT_EQ(1, query(fd, watch[w], &info, 1));
					EXPECT_EQ(base[w] + held, info.refcount)
						TH_LOG("%s range %u, watched page %lu", hugetlb ?
						       "hugetlb" : "THP", r, watched[w]);
				}
				ASSERT_EQ(0, unhold(fd, id));
				for (unsigned int w = 0; w < watching; w++) {
					ASSERT_EQ(1, query(fd, watch[w], &info, 1));
					EXPECT_EQ(base[w], info.refcount)
						TH_LOG("%s range %u%s released, watched page %lu",
						       hugetlb ? "hugetlb" : "THP", r,
						       write ? " (writable)" : "", watched[w]);
				}
			}
			/* The gup_test command: its page array, put by folio
			 * (rust_gup_put_pages()), 100 pages per GUP call. */
			{
				struct gup_test gup = {
					.addr = (uintptr_t)buf + first * page_size,
					.size = nr * page_size, .nr_pages_per_call = 100,
					.gup_flags = RUST_GUP_FOLL_WRITE,
				};

				ASSERT_EQ(0, ioctl(fd, GUP_FAST_BENCHMARK, &gup));
				ASSERT_EQ(nr * page_size, gup.size);
				for (unsigned int w = 0; w < watching; w++) {
					ASSERT_EQ(1, query(fd, watch[w], &info, 1));
					EXPECT_EQ(base[w], info.refcount)
						TH_LOG("%s range %u, GUP_FAST_BENCHMARK, watched page %lu",
						       hugetlb ? "hugetlb" : "THP", r, watched[w]);
				}
			}
		}
		for (unsigned int w = 0; w < watching; w++)
			ASSERT_EQ(0, unhold(fd, watch[w]));
		munmap(buf, size);
	}
	close(fd);
}

static struct rust_gup_stats stats_of(int fd)
{
	struct rust_gup_stats s = { 0 };

	ioctl(fd, RUST_GUP_IOC_STATS, &s);
	return s;
}

/*
 * Sets held past the call (PIN, DMA_MAP, the long-term test) record runs
 * of pages at consecutive frames, not a page pointer each. Over a range of
 * tail pages of a THP, a whole THP and small pages (hugetlb: two huge
 * pages), taken with FOLL_PIN, FOLL_GET and long-term: QUERY gives each
 * page's frame as /proc/self/pagemap does, STATS counts the runs' bytes
 * (8 per run, the index and the vectors' spare room aside), not 8 per
 * page, and DMA_MAP's segments cover the same frames in order.
 */
TEST(compact_sets_match_pagemap)
{
	static const struct { __u32 op, flags; const char *name; } takes[] = {
		{ RUST_GUP_OP_PIN_FAST, 0, "PIN_FAST" },
		{ RUST_GUP_OP_GET_FAST, RUST_GUP_F_WRITE, "GET_FAST" },
		{ RUST_GUP_OP_PIN_LOCKED, RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE, "PIN_LOCKED LONGTERM" },
	};
	const unsigned long first = 100;
	struct rust_gup_page_info *info;
	struct rust_gup_dma_segment *segs;
	int fd = open(RUST_GUP_DEVICE, O_RDWR), pagemap = open("/proc/self/pagemap", O_RDONLY);
	char name[64];
	long client = pci_function("nvme", -1, name, sizeof(name)), held = pins_outstanding();

	ASSERT_GE(fd, 0);
	ASSERT_GE(pagemap, 0);
	ASSERT_GE(client, 0) TH_LOG("no NVMe controller to map for");
	page_size = sysconf(_SC_PAGESIZE);
	info = calloc(3 * HUGE_PAGES, sizeof(*info));
	segs = calloc(3 * HUGE_PAGES, sizeof(*segs));
	ASSERT_NE(NULL, info);
	ASSERT_NE(NULL, segs);
	for (int hugetlb = 0; hugetlb <= 1; hugetlb++) {
		size_t size = hugetlb ? 2 * HUGE : 3 * HUGE;
		unsigned long nr = size / page_size - first - 4, runs = 0;
		unsigned long long pfn[3 * HUGE_PAGES];
		char *buf = map_huge(hugetlb, size);

		ASSERT_NE(MAP_FAILED, buf) TH_LOG("%s: %s", hugetlb ? "hugetlb" : "THP", strerror(errno));
		memset(buf, 0x3c, size);
		for (unsigned long i = 0; i < nr; i++) {
			pfn[i] = pagemap_pfn(pagemap, buf + (first + i) * page_size);
			ASSERT_NE(0, pfn[i]) TH_LOG("page %lu: no frame in pagemap", first + i);
			runs += !i || pfn[i] != pfn[i - 1] + 1;
		}
		for (unsigned int t = 0; t < sizeof(takes) / sizeof(takes[0]); t++) {
			struct rust_gup_stats before = stats_of(fd), during;
			unsigned long long meta, low, high;
			long pages;
			__u32 id;

			ASSERT_EQ(0, hold(fd, buf + first * page_size, nr * page_size, takes[t].op,
					  takes[t].flags, &id, &pages));
			ASSERT_EQ(nr, pages);
			during = stats_of(fd);
			ASSERT_EQ(nr, query(fd, id, info, nr));
			for (unsigned long i = 0; i < nr; i++) {
				if (info[i].pfn != pfn[i]) {
					EXPECT_EQ(pfn[i], info[i].pfn) TH_LOG("%s %s, page %lu",
						  hugetlb ? "hugetlb" : "THP", takes[t].name, i);
					break;
				}
			}
			/* The runs, and an index entry per 32 runs, with at most as
			 * much again spare: far below a page array's 8 bytes a page. */
			meta = during.held_meta_bytes - before.held_meta_bytes;
			low = 8 * runs + 8 * ((runs + 31) / 32);
			high = 2 * low;
			EXPECT_TRUE(meta >= low && meta <= high)
				TH_LOG("%s %s: %llu bytes for %lu pages in %lu runs, expected %llu to %llu",
				       hugetlb ? "hugetlb" : "THP", takes[t].name, meta, nr, runs, low, high);
			TH_LOG("%s %s: %lu pages, %lu runs, %llu bytes (an array: %lu)",
			       hugetlb ? "hugetlb" : "THP", takes[t].name, nr, runs, meta, 8 * nr);
			ASSERT_EQ(0, unhold(fd, id));
			EXPECT_EQ(before.held_meta_bytes, stats_of(fd).held_meta_bytes);
		}

		/* DMA segments: the same frames, in order (without an IOMMU, a
		 * segment's address is physical). */
		{
			struct rust_gup_dma_map m = {
				.addr = (unsigned long)buf + first * page_size, .size = nr * page_size,
				.op = RUST_GUP_OP_PIN_FAST, .client = client,
			};
			struct rust_gup_dma_segments q = {
				.nr = 3 * HUGE_PAGES, .segments = (unsigned long)segs,
			};
			glob_t g;
			int iommu = !glob("/sys/class/iommu/*", 0, NULL, &g);
			unsigned long page = 0;

			ASSERT_EQ(0, ioctl(fd, RUST_GUP_IOC_DMA_MAP, &m)) TH_LOG("%s", strerror(errno));
			q.id = m.id;
			ASSERT_EQ(0, ioctl(fd, RUST_GUP_IOC_DMA_SEGMENTS, &q));
			ASSERT_EQ(q.nr_segments, q.nr);
			EXPECT_GE(q.nr, hugetlb ? 1 : 2);
			EXPECT_LE(q.nr, runs) TH_LOG("segments do not span a break in the frames");
			for (__u32 i = 0; i < q.nr && page < nr; i++) {
				EXPECT_EQ(0, segs[i].len % page_size);
				if (!iommu) {
					EXPECT_EQ(pfn[page] * page_size, segs[i].addr) TH_LOG("segment %u", i);
					for (unsigned long off = 1; off < segs[i].len / page_size; off++)
						ASSERT_EQ(pfn[page] + off, pfn[page + off])
							TH_LOG("segment %u is not contiguous", i);
				}
				page += segs[i].len / page_size;
			}
			EXPECT_EQ(nr, page);
			ASSERT_EQ(0, unhold(fd, m.id));
			globfree(&g);
		}
		munmap(buf, size);
	}
	EXPECT_EQ(held, pins_outstanding());
	free(info);
	free(segs);
	close(pagemap);
	close(fd);
}

/*
 * FORCE on the caller's own read-only private mapping: the write pin
 * breaks COW, and what is written through it is what the process reads.
 * On a remote op, whose address space may be another's, FORCE is EPERM.
 */
TEST_F(pin, force_only_on_the_callers_address_space)
{
	const __u32 force = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY | RUST_GUP_F_FORCE;
	long pins = pins_outstanding(), got;
	char byte = 0x11;
	__u32 id;

	ASSERT_EQ(0, mprotect(self->buf, page_size, PROT_READ));
	EXPECT_EQ(-EFAULT, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_LOCKED,
				RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &id, &got));
	ASSERT_EQ(0, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_LOCKED, force, &id,
			  &got));
	ASSERT_EQ(0, set_access(self->fd, id, 1, 7, &byte, 1));
	EXPECT_EQ(0x11, self->buf[7]);
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(-EPERM, hold(self->fd, self->buf, page_size, RUST_GUP_OP_PIN_REMOTE, force, &id,
			       &got));
	EXPECT_EQ(-EPERM, hold(self->fd, self->buf, page_size, RUST_GUP_OP_GET_REMOTE,
			       RUST_GUP_F_FORCE, &id, &got));
	EXPECT_EQ(pins, pins_outstanding());
	ASSERT_EQ(0, mprotect(self->buf, page_size, PROT_READ | PROT_WRITE));
}

TEST_F(pin, unknown_set_is_enoent)
{
	struct rust_gup_page_info info;

	EXPECT_EQ(-ENOENT, unhold(self->fd, 12345));
	EXPECT_EQ(-ENOENT, query(self->fd, 12345, &info, 1));
	/* The long-term test's set exists only between START and STOP. */
	EXPECT_EQ(-ENOENT, query(self->fd, RUST_GUP_ID_LONGTERM_TEST, &info, 1));
}

/*
 * The long-term test belongs to the open file: two files may run it at
 * once (gup_test allows one in the whole system), READ returns what the
 * pinned pages hold, and the pins are long-term ones.
 */
TEST_F(pin, longterm_test_is_per_file)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)self->buf, .size = self->size,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	struct rust_gup_page_info info[NR_PAGES];
	char *copy = malloc(self->size);
	__u64 dest = (uintptr_t)copy;
	int fd2 = open(RUST_GUP_DEVICE, O_RDWR);

	ASSERT_NE(NULL, copy);
	ASSERT_GE(fd2, 0);
	for (int i = 0; i < NR_PAGES; i++)
		memset(self->buf + i * page_size, 'a' + i, page_size);

	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_START, &args));
	args.flags |= PIN_LONGTERM_TEST_FLAG_USE_FAST;
	ASSERT_EQ(0, ioctl(fd2, PIN_LONGTERM_TEST_START, &args)) TH_LOG("second file: %s", strerror(errno));
	EXPECT_EQ(-1, ioctl(self->fd, PIN_LONGTERM_TEST_START, &args));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
	EXPECT_EQ(0, memcmp(copy, self->buf, self->size));
	ASSERT_EQ(NR_PAGES, query(fd2, RUST_GUP_ID_LONGTERM_TEST, info, NR_PAGES));
	for (int i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED);
		EXPECT_NE(RUST_GUP_ZONE_MOVABLE, info[i].zone);
		EXPECT_EQ(2, info[i].pincount);
	}

	ASSERT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
	EXPECT_EQ(-1, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
	EXPECT_EQ(EINVAL, errno);
	/* fd2 never stops: closing it releases its pins. */
	ASSERT_EQ(0, close(fd2));
	free(copy);
}

/* The bad-input table. */

enum arg_kind { ARG_STRUCT, ARG_NULL, ARG_BAD_POINTER, ARG_READ_ONLY };

struct bad_case {
	const char *name;
	unsigned long cmd;
	enum arg_kind arg;
	/* struct gup_test / rust_gup_bench / rust_gup_pin fields */
	long addr_off;		/* from the buffer; see special addresses below */
	int special_addr;
	long size;		/* in pages, unless size_bytes */
	long size_bytes;
	__u32 nr_per_call;
	__u32 flags;		/* gup_flags, or RUST_GUP_F_* */
	__u32 test_flags;
	__u32 op;
	__u32 reserved;
	__u32 pid;		/* rust_gup_pin */
	/* Bit n: the structure's n-th out field is 1 on input (out_fields()). */
	__u32 out;
	int expect;
};

/* In bad_case.pid: the test's own pid. */
#define PID_SELF	0xfffffffeu

enum { ADDR_BUF, ADDR_WRAP, ADDR_KERNEL, ADDR_UNMAPPED, ADDR_PROT_NONE, ADDR_TOP, ADDR_4G };

/*
 * The table runs from a 64-bit and from a 32-bit build (rust_gup_pin32).
 * TOP_PAGE is a page whose successor lies past the caller's TASK_SIZE,
 * which is 0xffffe000 in a 32-bit process; 4 GiB lies past it too (EINVAL
 * there, while a 64-bit process just has nothing mapped at 4 GiB).
 * BAD_POINTER is an argument pointer the process cannot use: kernel
 * memory, or for a 32-bit process the page at its TASK_SIZE.
 */
#ifdef __i386__
#define TOP_PAGE	0xffffd000ull
#define BAD_POINTER	0xffffe000ul
#define AT_4G		EINVAL
#else
#define TOP_PAGE	0x00fffffffffff000ull	/* last page below 2^56 */
#define BAD_POINTER	0xffff888000001000ul
#define AT_4G		EFAULT
#endif

#define W RUST_GUP_FOLL_WRITE
static const struct bad_case bad_cases[] = {
	{ "size 0", PIN_FAST_BENCHMARK, .size = 0, .nr_per_call = 1, .flags = W, .expect = EINVAL },
	{ "size below a page", PIN_FAST_BENCHMARK, .size_bytes = 100, .nr_per_call = 1, .expect = EINVAL },
	{ "unaligned address", PIN_FAST_BENCHMARK, .addr_off = 1, .size = 2, .nr_per_call = 1, .expect = EINVAL },
	{ "wrapped range", PIN_FAST_BENCHMARK, .special_addr = ADDR_WRAP, .size = 2, .nr_per_call = 1, .expect = EINVAL },
	{ "kernel address", PIN_FAST_BENCHMARK, .special_addr = ADDR_KERNEL, .size = 1, .nr_per_call = 1, .expect = EINVAL },
	{ "more than 2^22 pages", PIN_FAST_BENCHMARK, .size = (1l << 22) + 1, .nr_per_call = 1, .expect = EINVAL },
	{ "BENCH 1 TiB (page array past INT_MAX)", RUST_GUP_IOC_BENCH, .size = 1l << 28, .op = RUST_GUP_OP_PIN_FAST, .expect = EINVAL },
	{ "range reaching past TASK_SIZE", GUP_FAST_BENCHMARK, .special_addr = ADDR_TOP, .size = 2, .nr_per_call = 1, .expect = EINVAL },
	{ "4 GiB", PIN_BASIC_TEST, .special_addr = ADDR_4G, .size = 1, .nr_per_call = 1, .expect = AT_4G },
	{ "BENCH past TASK_SIZE", RUST_GUP_IOC_BENCH, .special_addr = ADDR_TOP, .size = 2, .op = RUST_GUP_OP_PIN_FAST, .expect = EINVAL },
	{ "BENCH at 4 GiB", RUST_GUP_IOC_BENCH, .special_addr = ADDR_4G, .size = 1, .op = RUST_GUP_OP_GET_FAST, .expect = AT_4G },
	{ "PIN past TASK_SIZE", RUST_GUP_IOC_PIN, .special_addr = ADDR_TOP, .size = 2, .op = RUST_GUP_OP_PIN_REMOTE, .expect = EINVAL },
	{ "PIN at 4 GiB", RUST_GUP_IOC_PIN, .special_addr = ADDR_4G, .size = 1, .op = RUST_GUP_OP_PIN_UNLOCKED, .expect = AT_4G },
	{ "LONGTERM_TEST_START past TASK_SIZE", PIN_LONGTERM_TEST_START, .special_addr = ADDR_TOP, .size = 2, .expect = EINVAL },
	{ "MIRROR past TASK_SIZE", RUST_GUP_IOC_MIRROR, .special_addr = ADDR_TOP, .size = 2, .expect = EINVAL },
	{ "MIRROR at 4 GiB", RUST_GUP_IOC_MIRROR, .special_addr = ADDR_4G, .size = 1, .expect = AT_4G },
	{ "unmapped range", PIN_BASIC_TEST, .special_addr = ADDR_UNMAPPED, .size = 4, .nr_per_call = 1, .expect = EFAULT },
	{ "PROT_NONE range", PIN_FAST_BENCHMARK, .special_addr = ADDR_PROT_NONE, .size = 4, .nr_per_call = 1, .expect = EFAULT },
	{ "PROT_NONE range, GET", GUP_BASIC_TEST, .special_addr = ADDR_PROT_NONE, .size = 4, .nr_per_call = 1, .expect = EFAULT },
	{ "zero pages per call", PIN_FAST_BENCHMARK, .size = 4, .nr_per_call = 0, .expect = EINVAL },
	{ "unknown gup_flags bit (FOLL_DUMP)", PIN_FAST_BENCHMARK, .size = 4, .nr_per_call = 1, .flags = 0x4, .expect = EINVAL },
	{ "internal FOLL_TOUCH", GUP_FAST_BENCHMARK, .size = 4, .nr_per_call = 1, .flags = 0x10000, .expect = EINVAL },
	{ "internal FOLL_PIN", PIN_BASIC_TEST, .size = 4, .nr_per_call = 1, .flags = 0x80000, .expect = EINVAL },
	{ "FOLL_HONOR_NUMA_FAULT", PIN_FAST_BENCHMARK, .size = 4, .nr_per_call = 1, .flags = 0x1000, .expect = EINVAL },
	{ "LONGTERM with P2PDMA", PIN_FAST_BENCHMARK, .size = 4, .nr_per_call = 1,
	  .flags = RUST_GUP_FOLL_LONGTERM | RUST_GUP_FOLL_PCI_P2PDMA, .expect = EINVAL },
	{ "P2PDMA on PIN_LONGTERM_BENCHMARK", PIN_LONGTERM_BENCHMARK, .size = 4, .nr_per_call = 1,
	  .flags = RUST_GUP_FOLL_PCI_P2PDMA, .expect = EINVAL },
	{ "GET with PIN", PIN_FAST_BENCHMARK, .size = 4, .nr_per_call = 1, .flags = RUST_GUP_FOLL_GET, .expect = EINVAL },
	{ "LONGTERM without PIN", GUP_FAST_BENCHMARK, .size = 4, .nr_per_call = 1,
	  .flags = RUST_GUP_FOLL_LONGTERM, .expect = EINVAL },
	{ "P2PDMA without PIN", GUP_BASIC_TEST, .size = 4, .nr_per_call = 1,
	  .flags = RUST_GUP_FOLL_PCI_P2PDMA, .expect = EINVAL },
	{ "unknown test_flags", DUMP_USER_PAGES_TEST, .size = 4, .nr_per_call = 1, .test_flags = 2, .expect = EINVAL },
	{ "NULL argument", PIN_FAST_BENCHMARK, ARG_NULL, .expect = EFAULT },
	{ "argument pointer into the kernel", GUP_FAST_BENCHMARK, ARG_BAD_POINTER, .expect = EFAULT },
	{ "read-only argument", PIN_FAST_BENCHMARK, ARG_READ_ONLY, .size = 4, .nr_per_call = 1, .expect = EFAULT },
	{ "unknown command 10", _IOWR('g', 10, struct gup_test), .size = 4, .nr_per_call = 1, .expect = ENOTTY },
	{ "gup_test number, wrong size", _IOWR('g', 2, __u64), .size = 4, .nr_per_call = 1, .expect = ENOTTY },
#ifndef __i386__
	{ "a 32-bit process's number", _IOC(_IOC_READ | _IOC_WRITE, 'g', 2, RUST_GUP_COMPAT_GUP_TEST_SIZE),
	  .size = 4, .nr_per_call = 1, .expect = ENOTTY },
#endif
	{ "LONGTERM_TEST_START unaligned size", PIN_LONGTERM_TEST_START, .size_bytes = 4096 + 100, .expect = EINVAL },
	{ "LONGTERM_TEST_START unknown flags", PIN_LONGTERM_TEST_START, .size = 4, .flags = 4, .expect = EINVAL },
	{ "LONGTERM_TEST_START unmapped", PIN_LONGTERM_TEST_START, .special_addr = ADDR_UNMAPPED, .size = 4, .expect = EFAULT },
	{ "LONGTERM_TEST_READ without START", PIN_LONGTERM_TEST_READ, .expect = EINVAL },
	{ "BENCH op 0", RUST_GUP_IOC_BENCH, .size = 4, .op = 0, .expect = EINVAL },
	{ "BENCH op past the last", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_MEMFD + 1,
	  .expect = EINVAL },
	{ "BENCH unknown flag", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_FAST, .flags = 0x100, .expect = EINVAL },
	{ "BENCH WORKER", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_WORKER, .expect = EINVAL },
	{ "BENCH PID", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_GET_REMOTE,
	  .flags = RUST_GUP_F_PID, .expect = EINVAL },
	{ "DMA_MAP WORKER", RUST_GUP_IOC_DMA_MAP, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_WORKER, .expect = EINVAL },
	{ "DMA_MAP PID", RUST_GUP_IOC_DMA_MAP, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID, .expect = EINVAL },
	/* A device mapping it may write is dirtied on release. */
	{ "DMA_MAP WRITE without DIRTY", RUST_GUP_IOC_DMA_MAP, .size = 4, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_WRITE, .expect = EINVAL },
	{ "DMA_MAP P2PDMA WRITE without DIRTY", RUST_GUP_IOC_DMA_MAP, .size = 4,
	  .op = RUST_GUP_OP_PIN_LOCKED, .flags = RUST_GUP_F_WRITE | RUST_GUP_F_P2PDMA,
	  .expect = EINVAL },
	/* FOLL_FORCE on another address space: see the uapi header. */
	{ "PIN REMOTE with FORCE", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_FORCE, .expect = EPERM },
	{ "PIN PID with FORCE", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID | RUST_GUP_F_FORCE, .pid = PID_SELF, .expect = EPERM },
	{ "BENCH REMOTE with FORCE", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_GET_REMOTE,
	  .flags = RUST_GUP_F_FORCE, .expect = EPERM },
	{ "PIN unknown flag", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_FAST, .flags = 0x100, .expect = EINVAL },
	{ "PIN WORKER on a local op", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_WORKER, .expect = EINVAL },
	{ "PIN PID on a local op", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_LOCKED,
	  .flags = RUST_GUP_F_PID, .pid = PID_SELF, .expect = EINVAL },
	{ "PIN pid without PID", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .pid = PID_SELF, .expect = EINVAL },
	{ "PIN PID 0", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID, .pid = 0, .expect = ESRCH },
	{ "PIN PID past PID_MAX_LIMIT", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID, .pid = 1u << 30, .expect = ESRCH },
	{ "PIN PID negative", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID, .pid = 0x80000001u, .expect = ESRCH },
	{ "PIN PID kthreadd (no mm)", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_REMOTE,
	  .flags = RUST_GUP_F_PID, .pid = 2, .expect = ESRCH },
	{ "PIN PID LONGTERM with P2PDMA", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_PID | RUST_GUP_F_LONGTERM | RUST_GUP_F_P2PDMA, .pid = PID_SELF,
	  .expect = EINVAL },
	{ "PIN PID unmapped", RUST_GUP_IOC_PIN, .special_addr = ADDR_UNMAPPED, .size = 2,
	  .op = RUST_GUP_OP_PIN_REMOTE, .flags = RUST_GUP_F_PID, .pid = PID_SELF, .expect = EFAULT },
	{ "PIN PID past TASK_SIZE", RUST_GUP_IOC_PIN, .special_addr = ADDR_TOP, .size = 2,
	  .op = RUST_GUP_OP_PIN_REMOTE, .flags = RUST_GUP_F_PID, .pid = PID_SELF, .expect = EINVAL },
	{ "PIN WORKER unmapped", RUST_GUP_IOC_PIN, .special_addr = ADDR_UNMAPPED, .size = 2,
	  .op = RUST_GUP_OP_GET_REMOTE, .flags = RUST_GUP_F_WORKER, .expect = EFAULT },
	{ "PIN WORKER PROT_NONE", RUST_GUP_IOC_PIN, .special_addr = ADDR_PROT_NONE, .size = 2,
	  .op = RUST_GUP_OP_PIN_REMOTE, .flags = RUST_GUP_F_WORKER | RUST_GUP_F_LONGTERM,
	  .expect = EFAULT },
	{ "PIN WORKER ACCOUNT unmapped", RUST_GUP_IOC_PIN, .special_addr = ADDR_UNMAPPED, .size = 2,
	  .op = RUST_GUP_OP_PIN_REMOTE,
	  .flags = RUST_GUP_F_WORKER | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, .expect = EFAULT },
	{ "BENCH fd with a GUP op", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_FAST, .reserved = 1, .expect = EINVAL },
	{ "BENCH LONGTERM with P2PDMA", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_LONGTERM | RUST_GUP_F_P2PDMA, .expect = EINVAL },
	{ "BENCH LONGTERM on GET", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_GET_LOCKED,
	  .flags = RUST_GUP_F_LONGTERM, .expect = EINVAL },
	{ "BENCH DIRTY without WRITE", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_DIRTY, .expect = EINVAL },
	/* 2^19 + 1 pages of pins held for the call: past the budget of
	 * unchecked references (rust/folio_refs.rs), whatever is mapped. */
	{ "BENCH PIN past the unchecked budget", RUST_GUP_IOC_BENCH, .size = (1 << 19) + 1,
	  .op = RUST_GUP_OP_PIN_FAST, .expect = EINVAL },
	{ "PIN_FAST_BENCHMARK past the budget", PIN_FAST_BENCHMARK, .size = (1 << 19) + 1,
	  .nr_per_call = 512, .expect = EINVAL },
	{ "BENCH GET with DIRTY", RUST_GUP_IOC_BENCH, .size = 4, .op = RUST_GUP_OP_GET_FAST,
	  .flags = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, .expect = EINVAL },
	{ "PIN GET_FAST with DIRTY", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_FAST,
	  .flags = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, .expect = EINVAL },
	{ "PIN GET_LOCKED with DIRTY", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_LOCKED,
	  .flags = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, .expect = EINVAL },
	{ "PIN GET_UNLOCKED with DIRTY", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_UNLOCKED,
	  .flags = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, .expect = EINVAL },
	{ "PIN GET_REMOTE with DIRTY", RUST_GUP_IOC_PIN, .size = 4, .op = RUST_GUP_OP_GET_REMOTE,
	  .flags = RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, .expect = EINVAL },
	{ "BENCH wrapped range", RUST_GUP_IOC_BENCH, .special_addr = ADDR_WRAP, .size = 2,
	  .op = RUST_GUP_OP_GET_FAST, .expect = EINVAL },
	{ "PIN ACCOUNT without LONGTERM", RUST_GUP_IOC_PIN, .size = 2, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_ACCOUNT, .expect = EINVAL },
	{ "BENCH ACCOUNT", RUST_GUP_IOC_BENCH, .size = 2, .op = RUST_GUP_OP_PIN_FAST,
	  .flags = RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, .expect = EINVAL },
	{ "PIN size 0", RUST_GUP_IOC_PIN, .size = 0, .op = RUST_GUP_OP_PIN_FAST, .expect = EINVAL },
	{ "PIN unmapped", RUST_GUP_IOC_PIN, .special_addr = ADDR_UNMAPPED, .size = 2,
	  .op = RUST_GUP_OP_PIN_UNLOCKED, .expect = EFAULT },
	{ "PIN pid non-zero, local op", RUST_GUP_IOC_PIN, .size = 2, .op = RUST_GUP_OP_PIN_FAST, .pid = 1, .expect = EINVAL },
	{ "PIN NULL argument", RUST_GUP_IOC_PIN, ARG_NULL, .expect = EFAULT },
	{ "QUERY NULL argument", RUST_GUP_IOC_QUERY, ARG_NULL, .expect = EFAULT },
	/* Out fields are zero on input; with them zero, each call below
	 * succeeds or fails otherwise (ENOENT: there is no set or mirror 0). */
	{ "PIN id non-zero", RUST_GUP_IOC_PIN, .size = 2, .op = RUST_GUP_OP_PIN_FAST, .out = 1,
	  .expect = EINVAL },
	{ "BENCH get_ns non-zero", RUST_GUP_IOC_BENCH, .size = 2, .op = RUST_GUP_OP_PIN_FAST,
	  .out = 1, .expect = EINVAL },
	{ "BENCH put_ns non-zero", RUST_GUP_IOC_BENCH, .size = 2, .op = RUST_GUP_OP_PIN_FAST,
	  .out = 2, .expect = EINVAL },
	{ "BENCH calls non-zero", RUST_GUP_IOC_BENCH, .size = 2, .op = RUST_GUP_OP_PIN_FAST,
	  .out = 4, .expect = EINVAL },
	{ "MIRROR valid non-zero", RUST_GUP_IOC_MIRROR, .size = 2, .out = 1, .expect = EINVAL },
	{ "MIRROR ns non-zero", RUST_GUP_IOC_MIRROR, .size = 2, .out = 2, .expect = EINVAL },
	{ "MIRROR retries non-zero", RUST_GUP_IOC_MIRROR, .size = 2, .out = 4, .expect = EINVAL },
	{ "MIRROR_FAULT, no mirror", RUST_GUP_IOC_MIRROR_FAULT, .size = 2, .expect = ENOENT },
	{ "MIRROR_FAULT valid non-zero", RUST_GUP_IOC_MIRROR_FAULT, .size = 2, .out = 1,
	  .expect = EINVAL },
	{ "MIRROR_FAULT ns non-zero", RUST_GUP_IOC_MIRROR_FAULT, .size = 2, .out = 2,
	  .expect = EINVAL },
	{ "MIRROR_FAULT retries non-zero", RUST_GUP_IOC_MIRROR_FAULT, .size = 2, .out = 4,
	  .expect = EINVAL },
	{ "QUERY, no set", RUST_GUP_IOC_QUERY, .expect = ENOENT },
	{ "QUERY set_pages non-zero", RUST_GUP_IOC_QUERY, .out = 1, .expect = EINVAL },
	{ "MIRROR_READ, no mirror", RUST_GUP_IOC_MIRROR_READ, .expect = ENOENT },
	{ "MIRROR_READ mirror_pages non-zero", RUST_GUP_IOC_MIRROR_READ, .out = 1, .expect = EINVAL },
	{ "MIRROR_READ invalidations non-zero", RUST_GUP_IOC_MIRROR_READ, .out = 2, .expect = EINVAL },
	{ "MIRROR_DMA, no mirror", RUST_GUP_IOC_MIRROR_DMA, .expect = ENOENT },
	{ "MIRROR_DMA mirror_pages non-zero", RUST_GUP_IOC_MIRROR_DMA, .out = 1, .expect = EINVAL },
	{ "MIRROR_DMA invalidations non-zero", RUST_GUP_IOC_MIRROR_DMA, .out = 2, .expect = EINVAL },
	{ "DMA_SEGMENTS, no set", RUST_GUP_IOC_DMA_SEGMENTS, .expect = ENOENT },
	{ "DMA_SEGMENTS nr_segments non-zero", RUST_GUP_IOC_DMA_SEGMENTS, .out = 1, .expect = EINVAL },
};
#undef W

/* 1 when the case sets its structure's n-th out field, else 0. */
#define OUT(c, n)	(((c)->out >> (n)) & 1)

TEST_F(pin, bad_input_table)
{
	char *unmapped = mmap(NULL, 4 * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *prot_none = mmap(NULL, 4 * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *ro = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int failed = 0;

	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_NE(MAP_FAILED, prot_none);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, munmap(unmapped, 4 * page_size));

	printf("# %-40s %-8s %-8s %s\n", "case", "expected", "seen", "pins (acquired-released)");
	for (unsigned int i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		__u64 addr = (uintptr_t)self->buf + c->addr_off;
		__u64 size = c->size_bytes ? c->size_bytes : c->size * (__u64)page_size;
		union {
			struct gup_test gup;
			struct pin_longterm_test lt;
			struct rust_gup_bench bench;
			struct rust_gup_pin pin;
			struct rust_gup_query query;
			struct rust_gup_mirror mirror;
			struct rust_gup_dma_map dma;
			struct rust_gup_mirror_read mirror_read;
			struct rust_gup_dma_segments segments;
			__u64 u64;
		} u;
		void *arg = &u;
		long acq = pins_acquired(), rel = pins_released(), leaked;
		int ret, err;

		switch (c->special_addr) {
		case ADDR_WRAP: addr = -(__u64)page_size; break;
		case ADDR_KERNEL: addr = 0xffff888000000000ull; break;
		case ADDR_TOP: addr = TOP_PAGE; break;
		case ADDR_4G: addr = 1ull << 32; break;
		case ADDR_UNMAPPED: addr = (uintptr_t)unmapped; break;
		case ADDR_PROT_NONE: addr = (uintptr_t)prot_none; break;
		}
		memset(&u, 0, sizeof(u));
		switch (_IOC_NR(c->cmd)) {
		case _IOC_NR(PIN_LONGTERM_TEST_START):
			u.lt = (struct pin_longterm_test) { .addr = addr, .size = size, .flags = c->flags };
			break;
		case _IOC_NR(PIN_LONGTERM_TEST_READ):
			u.u64 = (uintptr_t)self->buf;
			break;
		case _IOC_NR(RUST_GUP_IOC_BENCH):
			u.bench = (struct rust_gup_bench) { .addr = addr, .size = size, .op = c->op,
				.flags = c->flags, .fd = c->reserved, .get_ns = OUT(c, 0),
				.put_ns = OUT(c, 1), .calls = OUT(c, 2) };
			break;
		case _IOC_NR(RUST_GUP_IOC_MIRROR):
		case _IOC_NR(RUST_GUP_IOC_MIRROR_FAULT):
			u.mirror = (struct rust_gup_mirror) { .addr = addr, .size = size,
				.flags = c->flags, .valid = OUT(c, 0), .ns = OUT(c, 1),
				.retries = OUT(c, 2) };
			break;
		case _IOC_NR(RUST_GUP_IOC_PIN):
			u.pin = (struct rust_gup_pin) { .addr = addr, .size = size, .op = c->op,
				.flags = c->flags,
				.pid = c->pid == PID_SELF ? (__u32)getpid() : c->pid, .id = OUT(c, 0) };
			break;
		case _IOC_NR(RUST_GUP_IOC_QUERY):
			u.query = (struct rust_gup_query) { .set_pages = OUT(c, 0) };
			break;
		case _IOC_NR(RUST_GUP_IOC_MIRROR_READ):
		case _IOC_NR(RUST_GUP_IOC_MIRROR_DMA):
			u.mirror_read = (struct rust_gup_mirror_read) { .mirror_pages = OUT(c, 0),
				.invalidations = OUT(c, 1) };
			break;
		case _IOC_NR(RUST_GUP_IOC_DMA_SEGMENTS):
			u.segments = (struct rust_gup_dma_segments) { .nr_segments = OUT(c, 0) };
			break;
		case _IOC_NR(RUST_GUP_IOC_DMA_MAP):
			u.dma = (struct rust_gup_dma_map) { .addr = addr, .size = size, .op = c->op,
				.flags = c->flags };
			break;
		default:
			u.gup = (struct gup_test) { .addr = addr, .size = size,
				.nr_pages_per_call = c->nr_per_call, .gup_flags = c->flags,
				.test_flags = c->test_flags };
		}
		if (c->arg == ARG_NULL) {
			arg = NULL;
		} else if (c->arg == ARG_BAD_POINTER) {
			arg = (void *)BAD_POINTER;
		} else if (c->arg == ARG_READ_ONLY) {
			memcpy(ro, &u, sizeof(u.gup));
			ASSERT_EQ(0, mprotect(ro, page_size, PROT_READ));
			arg = ro;
		}

		errno = 0;
		ret = ioctl(self->fd, c->cmd, arg);
		err = ret ? errno : 0;
		leaked = (pins_acquired() - acq) - (pins_released() - rel);
		printf("# %-40s %-8s %-8s %ld\n", c->name, strerrorname_np(c->expect),
		       err ? strerrorname_np(err) : "success", leaked);
		if (ret != -1 || err != c->expect || leaked) {
			failed++;
			TH_LOG("%s: expected %s, got %s, %ld pins left", c->name,
			       strerrorname_np(c->expect), err ? strerrorname_np(err) : "success", leaked);
		}
		if (c->arg == ARG_READ_ONLY)
			ASSERT_EQ(0, mprotect(ro, page_size, PROT_READ | PROT_WRITE));
	}
	EXPECT_EQ(0, failed);
	munmap(prot_none, 4 * page_size);
	munmap(ro, page_size);
}

TEST_HARNESS_MAIN
