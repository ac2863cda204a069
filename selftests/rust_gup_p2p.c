// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_PCI_P2PDMA against real peer-to-peer memory: the test VM's NVMe
 * controller memory buffer, which the guest's nvme driver publishes as
 * p2pmem (/sys/bus/pci/devices/BDF/p2pmem/allocate, mapped MAP_SHARED).
 *
 * Without RUST_GUP_F_P2PDMA every entry point refuses such pages with
 * EREMOTEIO; with it they pin, and the query shows P2PDMA pages in
 * ZONE_DEVICE. LONGTERM with P2PDMA is refused before GUP is reached (the
 * guest runs with panic_on_warn=1 and must stay up). A range that spans
 * ordinary memory and p2pmem yields the ordinary prefix without the flag
 * and all of it with the flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "kselftest_harness.h"
#include "rust_gup_util.h"

#define N 8	/* pages of each kind; CPU access to the CMB is slow MMIO */

static long page_size;

/* Maps n pages of p2pmem at `at` (or anywhere if NULL); MAP_FAILED if none. */
static void *map_p2pmem(void *at, long n)
{
	glob_t g;
	void *p = MAP_FAILED;
	int fd;

	if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g))
		return MAP_FAILED;
	fd = open(g.gl_pathv[0], O_RDWR);
	globfree(&g);
	if (fd < 0)
		return MAP_FAILED;
	p = mmap(at, n * page_size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
	close(fd);
	return p;
}

FIXTURE(p2p) {
	int fd;
	char *p2p;
};

FIXTURE_SETUP(p2p)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->p2p = map_p2pmem(NULL, N);
	if (self->p2p == MAP_FAILED)
		SKIP(return, "no p2pmem (a PCI device publishing P2PDMA memory)");
}

FIXTURE_TEARDOWN(p2p)
{
	if (self->p2p != MAP_FAILED)
		munmap(self->p2p, N * page_size);
	close(self->fd);
}

static const __u32 all_ops[] = {
	RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_OP_PIN_UNLOCKED,
	RUST_GUP_OP_PIN_REMOTE, RUST_GUP_OP_GET_FAST, RUST_GUP_OP_GET_LOCKED,
	RUST_GUP_OP_GET_UNLOCKED, RUST_GUP_OP_GET_REMOTE,
};

/* Without the flag, P2PDMA pages are refused on every path, pin or get. */
TEST_F(p2p, refused_without_the_flag)
{
	__u32 id;
	long got;

	for (unsigned int i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
		EXPECT_EQ(-EREMOTEIO, hold(self->fd, self->p2p, N * page_size, all_ops[i], 0, &id, &got))
			TH_LOG("op %u", all_ops[i]);
	}
}

/* With it, the pin paths take them: P2PDMA pages in ZONE_DEVICE, pinned. */
TEST_F(p2p, pinned_with_the_flag)
{
	struct rust_gup_page_info info[N];
	long pins = pins_outstanding(), got;
	__u32 id;

	for (unsigned int i = 0; i < 4; i++) {
		ASSERT_EQ(0, hold(self->fd, self->p2p, N * page_size, all_ops[i],
				  RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, &id, &got)) TH_LOG("op %u", all_ops[i]);
		EXPECT_EQ(N, got);
		ASSERT_EQ(N, query(self->fd, id, info, N));
		for (int p = 0; p < N; p++) {
			EXPECT_TRUE(info[p].flags & RUST_GUP_PAGE_P2PDMA) TH_LOG("op %u page %d", all_ops[i], p);
			EXPECT_TRUE(info[p].flags & RUST_GUP_PAGE_DMA_PINNED);
			EXPECT_EQ(RUST_GUP_ZONE_DEVICE, info[p].zone);
		}
		EXPECT_EQ(pins + N, pins_outstanding());
		ASSERT_EQ(0, unhold(self->fd, id));
		EXPECT_EQ(pins, pins_outstanding());
	}
}

/* No long-term P2PDMA pin, and no P2PDMA for FOLL_GET: EINVAL before GUP
 * (which would WARN, and panic this guest). */
TEST_F(p2p, longterm_and_get_refused_before_gup)
{
	struct gup_test gup = {
		.addr = (unsigned long)self->p2p, .size = N * page_size, .nr_pages_per_call = 1,
		.gup_flags = RUST_GUP_FOLL_LONGTERM | RUST_GUP_FOLL_PCI_P2PDMA,
	};
	__u32 id;
	long got;

	EXPECT_EQ(-EINVAL, hold(self->fd, self->p2p, N * page_size, RUST_GUP_OP_PIN_FAST,
				RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM, &id, &got));
	EXPECT_EQ(-EINVAL, hold(self->fd, self->p2p, N * page_size, RUST_GUP_OP_GET_FAST, RUST_GUP_F_P2PDMA,
				&id, &got));
	EXPECT_EQ(-1, ioctl(self->fd, PIN_FAST_BENCHMARK, &gup));
	EXPECT_EQ(EINVAL, errno);
}

/* The gup_test commands: FOLL_PCI_P2PDMA in gup_flags, as gup_test takes it. */
TEST_F(p2p, gup_test_commands)
{
	struct gup_test gup = {
		.addr = (unsigned long)self->p2p, .size = N * page_size, .nr_pages_per_call = 2,
		.gup_flags = RUST_GUP_FOLL_WRITE,
	};

	EXPECT_EQ(-1, ioctl(self->fd, PIN_FAST_BENCHMARK, &gup));
	EXPECT_EQ(EREMOTEIO, errno);
	gup.gup_flags |= RUST_GUP_FOLL_PCI_P2PDMA;
	gup.size = N * page_size;
	EXPECT_EQ(0, ioctl(self->fd, PIN_FAST_BENCHMARK, &gup));
	EXPECT_EQ(N * page_size, gup.size);
	gup.size = N * page_size;
	EXPECT_EQ(0, ioctl(self->fd, PIN_BASIC_TEST, &gup));
	EXPECT_EQ(N * page_size, gup.size);
}

/* Ordinary memory then p2pmem in one range: the prefix without the flag,
 * all of it with; p2pmem first: nothing without the flag. */
TEST_F(p2p, mixed_range)
{
	struct rust_gup_page_info info[2 * N];
	char *base = mmap(NULL, 2 * N * page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u32 id;
	long got;

	ASSERT_NE(MAP_FAILED, base);
	memset(base, 1, N * page_size);
	ASSERT_NE(MAP_FAILED, map_p2pmem(base + N * page_size, N));

	for (int o = 0; o < 2; o++) {
		__u32 op = o ? RUST_GUP_OP_PIN_LOCKED : RUST_GUP_OP_PIN_FAST;

		ASSERT_EQ(0, hold(self->fd, base, 2 * N * page_size, op, 0, &id, &got));
		EXPECT_EQ(N, got) TH_LOG("op %u: prefix without the flag", op);
		ASSERT_EQ(0, unhold(self->fd, id));

		ASSERT_EQ(0, hold(self->fd, base, 2 * N * page_size, op, RUST_GUP_F_P2PDMA, &id, &got));
		EXPECT_EQ(2 * N, got);
		ASSERT_EQ(2 * N, query(self->fd, id, info, 2 * N));
		for (int p = 0; p < 2 * N; p++) {
			EXPECT_EQ(p >= N, !!(info[p].flags & RUST_GUP_PAGE_P2PDMA)) TH_LOG("page %d", p);
		}
		ASSERT_EQ(0, unhold(self->fd, id));
	}
	EXPECT_EQ(-EREMOTEIO, hold(self->fd, base + N * page_size, N * page_size, RUST_GUP_OP_PIN_FAST, 0,
				   &id, &got));
	munmap(base, 2 * N * page_size);
}

TEST_HARNESS_MAIN
