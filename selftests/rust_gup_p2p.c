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
 * and all of it with the flag. QUERY names the provider.
 *
 * DMA mapping next to GUP (RUST_GUP_IOC_DMA_MAP): ordinary memory, p2pmem
 * and both in one range, for the provider itself (P2PDMA pages become PCI
 * bus addresses) and for a second NVMe controller that cannot reach the
 * provider (refused with EREMOTEIO, nothing left pinned); the DMA segments
 * are checked against the pages' pfns. Next to it, the reference: the
 * block layer's own O_DIRECT read from the provider's namespace into
 * p2pmem, which pins with FOLL_PCI_P2PDMA itself, and the same read from
 * the second controller, which the DMA layer refuses as ours does.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "kselftest_harness.h"
#include "rust_gup_util.h"

#define N 8	/* pages of each kind; CPU access to the CMB is slow MMIO */

static long page_size;

/* The PCI function that publishes p2pmem: its name in buf; -1 if none. */
static long p2pmem_provider(char *buf, size_t len)
{
	glob_t g;
	long id = -1;

	if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g))
		return -1;
	/* .../devices/0000:00:04.0/p2pmem/allocate */
	snprintf(buf, len, "%s", g.gl_pathv[0] + strlen("/sys/bus/pci/devices/"));
	*strchr(buf, '/') = 0;
	id = pci_id(buf);
	globfree(&g);
	return id;
}

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
	long provider;
	char provider_name[64];
};

FIXTURE_SETUP(p2p)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->p2p = map_p2pmem(NULL, N);
	if (self->p2p == MAP_FAILED)
		SKIP(return, "no p2pmem (a PCI device publishing P2PDMA memory)");
	self->provider = p2pmem_provider(self->provider_name, sizeof(self->provider_name));
	ASSERT_GE(self->provider, 0);
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
			/* The query names the provider: the function whose BAR it is. */
			EXPECT_TRUE(info[p].flags & RUST_GUP_PAGE_PROVIDER);
			EXPECT_EQ(self->provider, info[p].provider)
				TH_LOG("provider %#x, expected %#lx (%s)", info[p].provider,
				       self->provider, self->provider_name);
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
			EXPECT_EQ(p >= N, !!(info[p].flags & RUST_GUP_PAGE_PROVIDER)) TH_LOG("page %d", p);
		}
		ASSERT_EQ(0, unhold(self->fd, id));
	}
	EXPECT_EQ(-EREMOTEIO, hold(self->fd, base + N * page_size, N * page_size, RUST_GUP_OP_PIN_FAST, 0,
				   &id, &got));
	munmap(base, 2 * N * page_size);
}

/*
 * DMA mapping next to GUP. The fixture names three PCI functions: the
 * provider of p2pmem (an NVMe controller, its own client), a second NVMe
 * controller (a client that cannot reach the provider: no common upstream
 * bridge, and the test VM's host bridge is not on the kernel's P2PDMA
 * whitelist), and, if there is one, a function no driver is bound to.
 */
FIXTURE(dma) {
	int fd;
	char *p2p;
	char *mem;	/* N ordinary pages, then N pages of p2pmem */
	long provider, other, unbound;
	char provider_name[64], other_name[64], unbound_name[64];
	bool iommu;
};

FIXTURE_SETUP(dma)
{
	glob_t g;

	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->mem = mmap(NULL, 2 * N * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 1, N * page_size);
	self->p2p = map_p2pmem(self->mem + N * page_size, N);
	if (self->p2p == MAP_FAILED)
		SKIP(return, "no p2pmem (a PCI device publishing P2PDMA memory)");
	self->provider = p2pmem_provider(self->provider_name, sizeof(self->provider_name));
	ASSERT_GE(self->provider, 0);
	self->other = pci_function("nvme", self->provider, self->other_name, sizeof(self->other_name));
	if (self->other < 0)
		SKIP(return, "no second NVMe controller to be the unreachable client");
	self->unbound = pci_function(NULL, -1, self->unbound_name, sizeof(self->unbound_name));
	/* Without an IOMMU, DMA addresses are physical ones: checkable. */
	self->iommu = !glob("/sys/class/iommu/*", 0, NULL, &g);
	globfree(&g);
}

FIXTURE_TEARDOWN(dma)
{
	munmap(self->mem, 2 * N * page_size);
	close(self->fd);
}

/* RUST_GUP_IOC_DMA_MAP: 0 or -errno; the result in *m. */
static int dma_map(int fd, void *addr, long pages, __u32 op, __u32 flags, long client,
		   struct rust_gup_dma_map *m)
{
	*m = (struct rust_gup_dma_map) {
		.addr = (unsigned long)addr, .size = pages * page_size, .op = op,
		.flags = flags, .client = client,
	};
	return ioctl(fd, RUST_GUP_IOC_DMA_MAP, m) ? -errno : 0;
}

/* RUST_GUP_IOC_DMA_SEGMENTS from `first`: segments filled or -errno. */
static long dma_segments(int fd, __u32 id, __u64 first, struct rust_gup_dma_segment *segs, __u32 nr,
			 __u64 *total)
{
	struct rust_gup_dma_segments s = {
		.id = id, .nr = nr, .first = first, .segments = (unsigned long)segs,
	};

	if (ioctl(fd, RUST_GUP_IOC_DMA_SEGMENTS, &s))
		return -errno;
	if (total)
		*total = s.nr_segments;
	return s.nr;
}

static long held_sets(int fd)
{
	struct rust_gup_stats st;

	return ioctl(fd, RUST_GUP_IOC_STATS, &st) ? -1 : (long)st.held_sets;
}

/*
 * Checks a mapped set's segments against its pages: together they cover
 * all `pages` in order, P2PDMA pages (and only they) as bus addresses, and
 * without an IOMMU each segment's address is its first page's physical
 * address plus a fixed offset (zero for ordinary memory; the host bridge's
 * bus offset for P2PDMA pages, zero on x86), its pages contiguous. Returns
 * the number of bus-address segments.
 */
static int check_segments(struct __test_metadata *_metadata, FIXTURE_DATA(dma) *self,
			  const struct rust_gup_dma_map *m, long pages)
{
	struct rust_gup_page_info info[2 * N];
	struct rust_gup_dma_segment segs[2 * N + 1];
	__u64 total = 0;
	long page = 0, bus = 0;

	ASSERT_GE(2 * N, pages);
	ASSERT_EQ(pages, query(self->fd, m->id, info, pages));
	ASSERT_EQ(m->nr_segments, dma_segments(self->fd, m->id, 0, segs, 2 * N + 1, &total));
	EXPECT_EQ(m->nr_segments, total);
	for (__u32 i = 0; i < m->nr_segments && page < pages; i++) {
		bool p2p = info[page].flags & RUST_GUP_PAGE_P2PDMA;

		EXPECT_EQ(p2p, !!(segs[i].flags & RUST_GUP_DMA_BUS_ADDR)) TH_LOG("segment %u", i);
		EXPECT_EQ(0, segs[i].len % page_size);
		bus += !!(segs[i].flags & RUST_GUP_DMA_BUS_ADDR);
		if (!self->iommu) {
#ifdef __x86_64__
			EXPECT_EQ(info[page].pfn * page_size, segs[i].addr) TH_LOG("segment %u", i);
#endif
			for (__u32 off = page_size; off < segs[i].len; off += page_size) {
				EXPECT_EQ(info[page].pfn + off / page_size, info[page + off / page_size].pfn)
					TH_LOG("segment %u is not contiguous", i);
			}
		}
		page += segs[i].len / page_size;
	}
	EXPECT_EQ(pages, page);
	EXPECT_EQ(m->bus_segments, bus);
	TH_LOG("%ld pages for %#x: %u segment(s), %ld bus; first %#llx len %u%s, pfn %#llx",
	       pages, m->client, m->nr_segments, bus, (unsigned long long)segs[0].addr, segs[0].len,
	       segs[0].flags & RUST_GUP_DMA_BUS_ADDR ? " (bus)" : "",
	       (unsigned long long)info[0].pfn);
	return bus;
}

/* Ordinary memory for the provider and for the other controller: physical
 * addresses, pinned while mapped, unpinned by UNPIN. */
TEST_F(dma, ordinary_memory)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	const long clients[] = { self->provider, self->other };
	struct rust_gup_dma_map m;

	for (int c = 0; c < 2; c++) {
		ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
				     clients[c], &m)) TH_LOG("client %#lx", clients[c]);
		EXPECT_EQ(N * page_size, m.size);
		EXPECT_LE(1, m.nr_segments);
		EXPECT_GE(N, m.nr_segments);
		EXPECT_EQ(0, check_segments(_metadata, self, &m, N));
		EXPECT_EQ(pins + N, pins_outstanding());
		EXPECT_EQ(sets + 1, held_sets(self->fd));
		ASSERT_EQ(0, unhold(self->fd, m.id));
		EXPECT_EQ(pins, pins_outstanding());
		EXPECT_EQ(sets, held_sets(self->fd));
	}
}

/* p2pmem for its own provider: every segment a PCI bus address. */
TEST_F(dma, p2pmem_for_the_provider)
{
	long pins = pins_outstanding();
	struct rust_gup_dma_map m;
	const __u32 ops[] = { RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_OP_PIN_UNLOCKED,
			      RUST_GUP_OP_PIN_REMOTE };

	for (unsigned int o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		ASSERT_EQ(0, dma_map(self->fd, self->p2p, N, ops[o], RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE,
				     self->provider, &m)) TH_LOG("op %u", ops[o]);
		EXPECT_EQ(N * page_size, m.size);
		EXPECT_EQ(1, m.nr_segments) TH_LOG("p2pmem is allocated contiguous");
		EXPECT_EQ(1, m.bus_segments);
		check_segments(_metadata, self, &m, N);
		EXPECT_EQ(pins + N, pins_outstanding());
		ASSERT_EQ(0, unhold(self->fd, m.id));
		EXPECT_EQ(pins, pins_outstanding());
	}
}

/* A client that cannot reach the provider is refused, with EREMOTEIO (the
 * DMA layer's own errno for it), and nothing stays pinned or held; so is
 * p2pmem without RUST_GUP_F_P2PDMA, at GUP. */
TEST_F(dma, unreachable_client_refused)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_map m;

	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
				      RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, self->other, &m))
		TH_LOG("%s cannot reach p2pmem of %s", self->other_name, self->provider_name);
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->mem, 2 * N, RUST_GUP_OP_PIN_LOCKED,
				      RUST_GUP_F_P2PDMA, self->other, &m))
		TH_LOG("a range with ordinary memory first");
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
				      self->provider, &m));
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(self->fd));
}

/* Ordinary memory then p2pmem: CPU physical addresses, then bus addresses;
 * without the flag, the ordinary prefix only. */
TEST_F(dma, mixed_range)
{
	struct rust_gup_dma_map m;
	long pins = pins_outstanding();

	ASSERT_EQ(0, dma_map(self->fd, self->mem, 2 * N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_P2PDMA,
			     self->provider, &m));
	EXPECT_EQ(2 * N * page_size, m.size);
	EXPECT_LE(1, m.bus_segments);
	EXPECT_LT(m.bus_segments, m.nr_segments);
	check_segments(_metadata, self, &m, 2 * N);
	ASSERT_EQ(0, unhold(self->fd, m.id));

	ASSERT_EQ(0, dma_map(self->fd, self->mem, 2 * N, RUST_GUP_OP_PIN_FAST, 0, self->other, &m));
	EXPECT_EQ(N * page_size, m.size) TH_LOG("the prefix before the p2pmem");
	EXPECT_EQ(0, check_segments(_metadata, self, &m, N));
	ASSERT_EQ(0, unhold(self->fd, m.id));
	EXPECT_EQ(pins, pins_outstanding());
}

/* A registration, as RDMA makes one: long-term pins, charged to VmPin,
 * DMA-mapped; all of it goes with the file. */
TEST_F(dma, longterm_registration_released_with_the_file)
{
	long pins = pins_outstanding(), vm_pin = vm_pin_kb();
	struct rust_gup_dma_map m;
	int fd = open(RUST_GUP_DEVICE, O_RDWR);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, dma_map(fd, self->mem, N, RUST_GUP_OP_PIN_LOCKED,
			     RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT | RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY,
			     self->provider, &m));
	EXPECT_EQ(N * page_size, m.size);
	EXPECT_EQ(vm_pin + N * page_size / 1024, vm_pin_kb());
	EXPECT_EQ(pins + N, pins_outstanding());
	close(fd);
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(vm_pin, vm_pin_kb());
}

/*
 * No page in two mappings a device may write: the DMA API does not
 * support overlapping writable mappings. Read-only ones may overlap.
 */
TEST_F(dma, overlapping_writable_mappings_refused)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_map a, b, ro1, ro2, refused;
	int fd2 = open(RUST_GUP_DEVICE, O_RDWR), memfd;
	char *twice;

	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->provider, &a));
	/* Again, for either client, from either file, or a part of it. */
	EXPECT_EQ(-EBUSY, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
				  self->provider, &refused));
	EXPECT_EQ(-EBUSY, dma_map(fd2, self->mem + 2 * page_size, 1, RUST_GUP_OP_PIN_LOCKED,
				  RUST_GUP_F_WRITE, self->other, &refused));
	EXPECT_EQ(-EBUSY, dma_map(self->fd, self->p2p - page_size, 2, RUST_GUP_OP_PIN_FAST,
				  RUST_GUP_F_WRITE | RUST_GUP_F_P2PDMA, self->provider, &refused))
		TH_LOG("a range that starts on the first one's last page");
	/* Read-only: over the writable one, and over each other. */
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &ro1));
	ASSERT_EQ(0, dma_map(fd2, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &ro2));
	/* p2pmem likewise. */
	ASSERT_EQ(0, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
			     RUST_GUP_F_WRITE | RUST_GUP_F_P2PDMA, self->provider, &b));
	EXPECT_EQ(-EBUSY, dma_map(fd2, self->p2p, 1, RUST_GUP_OP_PIN_FAST,
				  RUST_GUP_F_WRITE | RUST_GUP_F_P2PDMA, self->provider, &refused));
	ASSERT_EQ(0, unhold(self->fd, b.id));
	/* Released, the range can be mapped writable again. */
	ASSERT_EQ(0, unhold(self->fd, a.id));
	ASSERT_EQ(0, dma_map(fd2, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->other, &b));
	ASSERT_EQ(0, unhold(fd2, b.id));
	ASSERT_EQ(0, unhold(self->fd, ro1.id));
	ASSERT_EQ(0, unhold(fd2, ro2.id));

	/* One page at two addresses of one range: it would be in two
	 * segments of the same mapping. */
	memfd = memfd_create("rust_gup_dma", 0);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, page_size));
	twice = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, twice);
	ASSERT_EQ(twice + page_size, mmap(twice + page_size, page_size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, memfd, 0));
	twice[0] = 1;
	EXPECT_EQ(-EBUSY, dma_map(self->fd, twice, 2, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
				  self->provider, &refused));
	ASSERT_EQ(0, dma_map(self->fd, twice, 2, RUST_GUP_OP_PIN_FAST, 0, self->provider, &b));
	EXPECT_EQ(2, b.nr_segments);
	ASSERT_EQ(0, unhold(self->fd, b.id));
	munmap(twice, 2 * page_size);
	close(memfd);
	close(fd2);
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(self->fd));
}

/*
 * The claim is exact: two writable mappings of physically adjacent pages
 * (two halves of a THP) do not overlap, and both are allowed.
 */
TEST_F(dma, adjacent_writable_mappings_allowed)
{
	size_t huge = 2ul << 20;
	char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
	struct rust_gup_page_info info[2];
	struct rust_gup_dma_map a, b;

	ASSERT_NE(MAP_FAILED, raw);
	madvise(buf, huge, MADV_HUGEPAGE);
	memset(buf, 1, huge);
	ASSERT_EQ(0, dma_map(self->fd, buf, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->provider, &a));
	ASSERT_EQ(0, dma_map(self->fd, buf + N * page_size, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->provider, &b));
	ASSERT_EQ(1, query(self->fd, a.id, info, 1));
	ASSERT_EQ(1, query(self->fd, b.id, info + 1, 1));
	if (info[0].pfn + N == info[1].pfn) {
		TH_LOG("pfns %#llx.. and %#llx..: adjacent, both mapped writable",
		       (unsigned long long)info[0].pfn, (unsigned long long)info[1].pfn);
	} else {
		TH_LOG("no THP here: the halves are not adjacent, so this case was not exercised");
	}
	EXPECT_EQ(0, unhold(self->fd, a.id));
	EXPECT_EQ(0, unhold(self->fd, b.id));
	munmap(raw, 2 * huge);
}

/* Mapping memory for a device needs CAP_SYS_RAWIO. */
TEST_F(dma, needs_cap_sys_rawio)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rust_gup_dma_map m;

		if (drop_cap(CAP_SYS_RAWIO))
			_exit(2);
		_exit(dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m) ==
		      -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("2: capset failed; 1: not EPERM");
}

/* Bad arguments: each refused with its errno, nothing pinned. */
TEST_F(dma, bad_input)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_segment seg;
	struct rust_gup_dma_map m;
	__u64 total = 0;
	__u32 id;
	long got;

	/* No such function, and one no driver is bound to. */
	EXPECT_EQ(-ENODEV, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0,
				   RUST_GUP_PCI_ID(0xffff, 0xff, 0xff), &m));
	if (self->unbound >= 0) {
		EXPECT_EQ(-ENODEV, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->unbound, &m))
			TH_LOG("%s has no driver", self->unbound_name);
	} else {
		TH_LOG("no PCI function without a driver: that case not run");
	}
	/* Page references cannot be DMA-mapped; LONGTERM with P2PDMA never. */
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, RUST_GUP_OP_GET_FAST, 0, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
				   RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, ~0u, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, 0, 0, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, 0, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem + 1, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m));
	m = (struct rust_gup_dma_map) { .addr = (unsigned long)self->mem, .size = page_size,
		.op = RUST_GUP_OP_PIN_FAST, .client = self->provider, .id = 1 };
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &m));
	EXPECT_EQ(EINVAL, errno) TH_LOG("out fields set on input");
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* A hole. */
	ASSERT_EQ(0, munmap(self->mem, page_size));
	EXPECT_EQ(-EFAULT, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m));

	/* DMA_SEGMENTS: of a set that is not mapped, of none, past the end. */
	ASSERT_EQ(0, hold(self->fd, self->mem + page_size, page_size, RUST_GUP_OP_PIN_FAST, 0, &id, &got));
	EXPECT_EQ(-EINVAL, dma_segments(self->fd, id, 0, &seg, 1, NULL));
	EXPECT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(-ENOENT, dma_segments(self->fd, 12345, 0, &seg, 1, NULL));
	ASSERT_EQ(0, dma_map(self->fd, self->mem + page_size, 1, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m));
	EXPECT_EQ(1, dma_segments(self->fd, m.id, 0, &seg, 1, &total));
	EXPECT_EQ(0, dma_segments(self->fd, m.id, 1, &seg, 1, &total)) TH_LOG("at the end: none");
	EXPECT_EQ(-EINVAL, dma_segments(self->fd, m.id, 2, &seg, 1, NULL));
	EXPECT_EQ(-EFAULT, dma_segments(self->fd, m.id, 0, NULL, 1, NULL));
	EXPECT_EQ(0, dma_segments(self->fd, m.id, 0, NULL, 0, &total));
	EXPECT_EQ(1, total);
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_DMA_SEGMENTS, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, unhold(self->fd, m.id));

	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(self->fd));
}

/* The namespace of the NVMe controller `bdf` as /dev/nvmeXnY, in buf. */
static int nvme_namespace(const char *bdf, char *buf, size_t len)
{
	char pattern[128];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "/sys/bus/pci/devices/%s/nvme/nvme*/nvme*n1", bdf);
	if (glob(pattern, 0, NULL, &g))
		return -1;
	snprintf(buf, len, "/dev/%s", basename(g.gl_pathv[0]));
	globfree(&g);
	return 0;
}

/* An O_DIRECT read of the first `len` bytes of `dev` into `buf`: bytes
 * read, or -errno. */
static long read_direct(const char *dev, void *buf, size_t len)
{
	int fd = open(dev, O_RDONLY | O_DIRECT);
	long n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, 0);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/*
 * The reference: the block layer pins O_DIRECT buffers with
 * FOLL_PCI_P2PDMA when the queue supports P2PDMA, and the NVMe driver maps
 * them with the DMA layer. A read from the provider's own namespace lands
 * in its p2pmem; the same read from the other controller is refused by the
 * DMA layer as our DMA_MAP refuses that client, with the same errno.
 */
TEST_F(dma, o_direct_reference)
{
	char own[64], other[64];
	char *data, *check;
	struct rust_gup_dma_map m;
	long pins = pins_outstanding();
	int fd;

	ASSERT_EQ(0, nvme_namespace(self->provider_name, own, sizeof(own)));
	ASSERT_EQ(0, nvme_namespace(self->other_name, other, sizeof(other)));
	ASSERT_EQ(0, posix_memalign((void **)&data, page_size, N * page_size));
	ASSERT_EQ(0, posix_memalign((void **)&check, page_size, N * page_size));
	for (long i = 0; i < N * page_size; i++)
		data[i] = (char)(i * 7 + i / page_size);
	for (int d = 0; d < 2; d++) {
		fd = open(d ? other : own, O_WRONLY | O_DIRECT);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(N * page_size, pwrite(fd, data, N * page_size, 0));
		close(fd);
	}

	/* The provider's namespace into its p2pmem: the data arrives. */
	memset(self->p2p, 0, N * page_size);
	EXPECT_EQ(N * page_size, read_direct(own, self->p2p, N * page_size)) TH_LOG("%s", own);
	memcpy(check, self->p2p, N * page_size);
	EXPECT_EQ(0, memcmp(data, check, N * page_size));
	ASSERT_EQ(0, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
			     RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, self->provider, &m));
	ASSERT_EQ(0, unhold(self->fd, m.id));

	/* The other controller cannot reach it: both refuse. */
	EXPECT_EQ(-EREMOTEIO, read_direct(other, self->p2p, N * page_size)) TH_LOG("%s", other);
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
				      RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, self->other, &m));

	/* Into ordinary memory, both controllers are fine. */
	for (int d = 0; d < 2; d++) {
		memset(check, 0, N * page_size);
		EXPECT_EQ(N * page_size, read_direct(d ? other : own, check, N * page_size));
		EXPECT_EQ(0, memcmp(data, check, N * page_size));
	}
	EXPECT_EQ(pins, pins_outstanding());
	free(data);
	free(check);
}

/*
 * Unbinding the client's driver unmaps its mappings first (DMA mappings
 * must not outlive the binding; the debug kernel's DMA API checks WARN
 * about "pending DMA allocations" otherwise) and revokes them: their
 * segments are gone (ENODEV), their pins stay until UNPIN, their claims
 * are released. Rebinding brings the controller back for what follows.
 */
TEST_F_TIMEOUT(dma, unbind_revokes, 180)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_map w, r, again;
	struct rust_gup_page_info info[N];
	struct rust_gup_dma_segment seg;
	char ns[64];

	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->other, &w));
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &r));
	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/nvme/unbind", self->other_name));

	EXPECT_EQ(-ENODEV, dma_segments(self->fd, w.id, 0, &seg, 1, NULL));
	EXPECT_EQ(-ENODEV, dma_segments(self->fd, r.id, 0, &seg, 1, NULL));
	EXPECT_EQ(N, query(self->fd, w.id, info, N)) TH_LOG("the pages stay pinned");
	EXPECT_EQ(pins + 2 * N, pins_outstanding());
	EXPECT_EQ(-ENODEV, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &again))
		TH_LOG("%s has no driver now", self->other_name);
	/* The revoked writable mapping no longer claims the pages. */
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->provider, &again));
	EXPECT_EQ(0, unhold(self->fd, again.id));
	EXPECT_EQ(0, unhold(self->fd, w.id));
	EXPECT_EQ(0, unhold(self->fd, r.id));
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(self->fd));

	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/nvme/bind", self->other_name));
	/* Probing takes a while under TCG (some 20 s on the debug kernel). */
	for (int i = 0; i < 1200 && nvme_namespace(self->other_name, ns, sizeof(ns)); i++)
		usleep(100000);
	EXPECT_EQ(0, nvme_namespace(self->other_name, ns, sizeof(ns))) TH_LOG("%s back", self->other_name);
	EXPECT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
			     self->other, &again));
	EXPECT_EQ(0, unhold(self->fd, again.id));
}

TEST_HARNESS_MAIN
