// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_PCI_P2PDMA against real peer-to-peer memory: the test VM's NVMe
 * controller memory buffer, which the guest's nvme driver publishes as
 * p2pmem (/sys/bus/pci/devices/BDF/p2pmem/allocate, mapped MAP_SHARED).
 *
 * Without RUST_GUP_F_P2PDMA every entry point refuses such pages with
 * EREMOTEIO; with it they pin, and the query shows P2PDMA pages in
 * ZONE_DEVICE. LONGTERM with P2PDMA is a revocable registration of
 * p2pmem for PIN and DMA_MAP, and refused before GUP is reached anywhere
 * else (the guest runs with panic_on_warn=1 and must stay up). A range
 * that spans ordinary memory and p2pmem yields the ordinary prefix without
 * the flag and all of it with the flag. QUERY names the provider.
 *
 * DMA mapping next to GUP (RUST_GUP_IOC_DMA_MAP): ordinary memory, p2pmem
 * and both in one range, for the provider itself (P2PDMA pages become PCI
 * bus addresses) and for a second NVMe controller that cannot reach the
 * provider (refused with EREMOTEIO, nothing left pinned); the DMA segments
 * are checked against the pages' pfns. Next to it, the reference: the
 * block layer's own O_DIRECT read from the provider's namespace into
 * p2pmem, which pins with FOLL_PCI_P2PDMA itself, and the same read from
 * the second controller, which the DMA layer refuses as ours does.
 *
 * Provider removal (the unbind fixtures): the provider's unbind revokes
 * every set holding its P2PDMA pages instead of waiting for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
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
	self->p2p = map_p2pmem(NULL, N * page_size);
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

/*
 * LONGTERM with P2PDMA: a revocable registration for PIN and DMA_MAP, of
 * p2pmem only; EINVAL before GUP anywhere else (GUP would WARN, and panic
 * this guest), and for a range with ordinary memory in it (which would be
 * a long-term pin without FOLL_LONGTERM). No P2PDMA for FOLL_GET. QUERY's
 * new fields are zero on the way in; ABI version 6's QUERY still works.
 */
TEST_F(p2p, new_flag_combinations)
{
	struct gup_test gup = {
		.addr = (unsigned long)self->p2p, .size = N * page_size, .nr_pages_per_call = 1,
		.gup_flags = RUST_GUP_FOLL_LONGTERM | RUST_GUP_FOLL_PCI_P2PDMA,
	};
	struct rust_gup_bench bench = {
		.addr = (unsigned long)self->p2p, .size = N * page_size, .op = RUST_GUP_OP_PIN_FAST,
		.flags = RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM,
	};
	const __u32 registration = RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT;
	struct rust_gup_query q = { 0 };
	struct { __u32 id, nr; __u64 first, pages, set_pages; } q6 = { 0 };
	char *mixed = mmap(NULL, 2 * N * page_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long pins = pins_outstanding(), got, vm_pin = vm_pin_kb();
	__u32 id;

	ASSERT_NE(MAP_FAILED, mixed);
	memset(mixed, 1, N * page_size);
	ASSERT_NE(MAP_FAILED, map_p2pmem(mixed + N * page_size, N * page_size));

	/* Not for the gup_test commands, nor the benchmark. */
	EXPECT_EQ(-1, ioctl(self->fd, PIN_FAST_BENCHMARK, &gup));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_BENCH, &bench));
	EXPECT_EQ(EINVAL, errno);
	/* Nor for FOLL_GET, nor with WORKER on a local op. */
	EXPECT_EQ(-EINVAL, hold(self->fd, self->p2p, N * page_size, RUST_GUP_OP_GET_FAST,
				RUST_GUP_F_P2PDMA, &id, &got));
	EXPECT_EQ(-EINVAL, hold(self->fd, self->p2p, N * page_size, RUST_GUP_OP_PIN_FAST,
				registration | RUST_GUP_F_WORKER, &id, &got));
	/* Ordinary memory in a registration, alone or with p2pmem. */
	EXPECT_EQ(-EINVAL, hold(self->fd, mixed, N * page_size, RUST_GUP_OP_PIN_FAST, registration,
				&id, &got));
	EXPECT_EQ(-EINVAL, hold(self->fd, mixed, 2 * N * page_size, RUST_GUP_OP_PIN_LOCKED,
				registration, &id, &got));
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(vm_pin, vm_pin_kb()) TH_LOG("the charge is given back");

	/* p2pmem alone: a registration, charged, whole. */
	for (int o = 0; o < 4; o++) {
		ASSERT_EQ(0, hold(self->fd, self->p2p, N * page_size, all_ops[o], registration, &id, &got))
			TH_LOG("op %u", all_ops[o]);
		EXPECT_EQ(N, got);
		EXPECT_EQ(vm_pin + N * page_size / 1024, vm_pin_kb());
		EXPECT_EQ(pins + N, pins_outstanding());

		q = (struct rust_gup_query) { .id = id, .flags = 1 };
		EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_QUERY, &q)) TH_LOG("flags in");
		EXPECT_EQ(EINVAL, errno);
		q = (struct rust_gup_query) { .id = id, .reserved = 1 };
		EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_QUERY, &q)) TH_LOG("reserved");
		EXPECT_EQ(EINVAL, errno);
		q6.id = id;
		EXPECT_EQ(0, ioctl(self->fd, _IOWR('g', 0x45, q6), &q6)) TH_LOG("ABI 6's QUERY");
		EXPECT_EQ(N, q6.set_pages);
		EXPECT_EQ(0, unhold(self->fd, id));
	}
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(vm_pin, vm_pin_kb());
	munmap(mixed, 2 * N * page_size);
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
	ASSERT_NE(MAP_FAILED, map_p2pmem(base + N * page_size, N * page_size));

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
	self->p2p = map_p2pmem(self->mem + N * page_size, N * page_size);
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
		ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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

/*
 * A mapping the device may write is dirtied on release: WRITE without
 * DIRTY is EINVAL, for memory and p2pmem, and leaves nothing pinned or
 * mapped. Read-only and WRITE | DIRTY mappings are made.
 */
TEST_F(dma, writable_mapping_needs_dirty)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_map m;

	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, RUST_GUP_F_WRITE,
				   self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
				   RUST_GUP_F_WRITE | RUST_GUP_F_P2PDMA, self->provider, &m));
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(self->fd));
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &m));
	ASSERT_EQ(0, unhold(self->fd, m.id));
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
			     self->provider, &m));
	ASSERT_EQ(0, unhold(self->fd, m.id));
	EXPECT_EQ(pins, pins_outstanding());
}

/* p2pmem for its own provider: every segment a PCI bus address. */
TEST_F(dma, p2pmem_for_the_provider)
{
	long pins = pins_outstanding();
	struct rust_gup_dma_map m;
	const __u32 ops[] = { RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED, RUST_GUP_OP_PIN_UNLOCKED,
			      RUST_GUP_OP_PIN_REMOTE };

	for (unsigned int o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		ASSERT_EQ(0, dma_map(self->fd, self->p2p, N, ops[o], RUST_GUP_F_P2PDMA | DEVICE_WRITES,
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
				      RUST_GUP_F_P2PDMA | DEVICE_WRITES, self->other, &m))
		TH_LOG("%s cannot reach p2pmem of %s", self->other_name, self->provider_name);
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->mem, 2 * N, RUST_GUP_OP_PIN_LOCKED,
				      RUST_GUP_F_P2PDMA, self->other, &m))
		TH_LOG("a range with ordinary memory first");
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
			     self->provider, &a));
	/* Again, for either client, from either file, or a part of it. */
	EXPECT_EQ(-EBUSY, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
				  self->provider, &refused));
	EXPECT_EQ(-EBUSY, dma_map(fd2, self->mem + 2 * page_size, 1, RUST_GUP_OP_PIN_LOCKED,
				  DEVICE_WRITES, self->other, &refused));
	EXPECT_EQ(-EBUSY, dma_map(self->fd, self->p2p - page_size, 2, RUST_GUP_OP_PIN_FAST,
				  DEVICE_WRITES | RUST_GUP_F_P2PDMA, self->provider, &refused))
		TH_LOG("a range that starts on the first one's last page");
	/* Read-only: over the writable one, and over each other. */
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &ro1));
	ASSERT_EQ(0, dma_map(fd2, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->provider, &ro2));
	/* p2pmem likewise. */
	ASSERT_EQ(0, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
			     DEVICE_WRITES | RUST_GUP_F_P2PDMA, self->provider, &b));
	EXPECT_EQ(-EBUSY, dma_map(fd2, self->p2p, 1, RUST_GUP_OP_PIN_FAST,
				  DEVICE_WRITES | RUST_GUP_F_P2PDMA, self->provider, &refused));
	ASSERT_EQ(0, unhold(self->fd, b.id));
	/* Released, the range can be mapped writable again. */
	ASSERT_EQ(0, unhold(self->fd, a.id));
	ASSERT_EQ(0, dma_map(fd2, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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
	EXPECT_EQ(-EBUSY, dma_map(self->fd, twice, 2, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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
	ASSERT_EQ(0, dma_map(self->fd, buf, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
			     self->provider, &a));
	ASSERT_EQ(0, dma_map(self->fd, buf + N * page_size, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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
	/* Page references cannot be DMA-mapped; LONGTERM with P2PDMA only
	 * p2pmem (ordinary memory, alone or with it: before it is mapped). */
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, RUST_GUP_OP_GET_FAST, 0, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, 2 * N, RUST_GUP_OP_PIN_FAST,
				   RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM, self->provider, &m));
	EXPECT_EQ(-EINVAL, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_LOCKED,
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
 * in its p2pmem; the same read from the other controller is refused, as
 * our DMA_MAP refuses that client. 6.12's NVMe driver maps with
 * dma_map_sgtable(), whose EREMOTEIO it passes on, as DMA_MAP does; 7.3's
 * maps with blk_rq_dma_map_iter_start(), which fails an unreachable peer
 * with BLK_STS_INVAL: EINVAL.
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
			     RUST_GUP_F_P2PDMA | DEVICE_WRITES, self->provider, &m));
	ASSERT_EQ(0, unhold(self->fd, m.id));

	/* The other controller cannot reach it: both refuse. */
	EXPECT_EQ(kernel_version() >= 700 ? -EINVAL : -EREMOTEIO,
		  read_direct(other, self->p2p, N * page_size)) TH_LOG("%s", other);
	EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->p2p, N, RUST_GUP_OP_PIN_FAST,
				      RUST_GUP_F_P2PDMA | DEVICE_WRITES, self->other, &m));

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
/* RUST_GUP_IOC_MIRROR with RUST_GUP_MIRROR_F_DMA for `client`, writable:
 * 0 or -errno; the id in *id. */
static int dma_mirror(int fd, void *addr, long pages, long client, __u32 *id)
{
	struct rust_gup_mirror m = {
		.addr = (unsigned long)addr, .size = pages * page_size,
		.flags = RUST_GUP_MIRROR_F_DMA | RUST_GUP_MIRROR_F_WRITE, .client = client,
	};

	if (ioctl(fd, RUST_GUP_IOC_MIRROR, &m))
		return -errno;
	*id = m.id;
	return 0;
}

/* RUST_GUP_IOC_MIRROR_READ (dma false) or _MIRROR_DMA of a mirror's first
 * `nr` entries into `out`: 0 or -errno. */
static int mirror_read(int fd, __u32 id, bool dma, void *out, __u32 nr)
{
	struct rust_gup_mirror_read r = { .id = id, .nr = nr, .entries = (unsigned long)out };

	return ioctl(fd, dma ? RUST_GUP_IOC_MIRROR_DMA : RUST_GUP_IOC_MIRROR_READ, &r) ? -errno : 0;
}

/*
 * A mirror mapped for the provider over ordinary memory and p2pmem:
 * hmm_range_fault() gives the p2pmem pages as valid entries, and the
 * mirror does not DMA-map them (RUST_GUP_MIRROR_NO_DMA): 6.12's
 * dma_map_page() has no P2PDMA path. The ordinary pages are mapped.
 */
TEST_F(dma, mirror_of_p2pmem)
{
	struct rust_gup_mirror_entry e[2 * N];
	struct rust_gup_mirror_dma d[2 * N];
	long live = dma_debug_live();
	__u32 id;

	ASSERT_EQ(0, dma_mirror(self->fd, self->mem, 2 * N, self->provider, &id));
	ASSERT_EQ(0, mirror_read(self->fd, id, false, e, 2 * N));
	ASSERT_EQ(0, mirror_read(self->fd, id, true, d, 2 * N));
	printf("# p2pmem entry: flags %#x, pfn %#llx; DMA flags %#x\n", e[N].flags,
	       (unsigned long long)e[N].pfn, d[N].flags);
	for (int i = 0; i < 2 * N; i++) {
		EXPECT_EQ(RUST_GUP_MIRROR_VALID | RUST_GUP_MIRROR_WRITE, e[i].flags) TH_LOG("%d", i);
		EXPECT_EQ(i < N ? RUST_GUP_MIRROR_VALID | RUST_GUP_MIRROR_WRITE : RUST_GUP_MIRROR_NO_DMA,
			  d[i].flags) TH_LOG("entry %d", i);
	}
	if (live >= 0)
		EXPECT_EQ(live + N, dma_debug_live()) TH_LOG("DMA API debug: live mappings");
	EXPECT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_MIRROR_DROP, &id));
	if (live >= 0)
		EXPECT_EQ(live, dma_debug_live()) TH_LOG("DMA API debug: mappings left");
}

TEST_F_TIMEOUT(dma, unbind_revokes, 180)
{
	long pins = pins_outstanding(), sets = held_sets(self->fd);
	struct rust_gup_dma_map w, r, again;
	struct rust_gup_page_info info[N];
	struct rust_gup_mirror_entry e[N];
	struct rust_gup_mirror_dma d[N];
	struct rust_gup_dma_segment seg;
	struct rust_gup_mirror m;
	char ns[64], *buf;
	__u32 mirror_id;

	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
			     self->other, &w));
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &r));
	/* And a mirror mapped for it, of memory of its own. */
	buf = mmap(NULL, N * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 2, N * page_size);
	ASSERT_EQ(0, dma_mirror(self->fd, buf, N, self->other, &mirror_id));
	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/nvme/unbind", self->other_name));

	/* The mirror's mappings went with the driver; its entries stay. */
	EXPECT_EQ(-ENODEV, mirror_read(self->fd, mirror_id, true, d, N));
	EXPECT_EQ(0, mirror_read(self->fd, mirror_id, false, e, N));
	EXPECT_EQ(RUST_GUP_MIRROR_VALID | RUST_GUP_MIRROR_WRITE, e[0].flags);
	m = (struct rust_gup_mirror) { .addr = (unsigned long)buf, .size = N * page_size,
				       .id = mirror_id };
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_MIRROR_FAULT, &m));
	EXPECT_EQ(ENODEV, errno);
	/* Also a fault that would make no entry valid: nothing is mapped
	 * after MADV_DONTNEED, and SNAPSHOT faults nothing in. */
	ASSERT_EQ(0, madvise(buf, N * page_size, MADV_DONTNEED));
	m = (struct rust_gup_mirror) { .addr = (unsigned long)buf, .size = N * page_size,
				       .flags = RUST_GUP_MIRROR_F_SNAPSHOT, .id = mirror_id };
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_MIRROR_FAULT, &m));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_MIRROR_DROP, &mirror_id));
	munmap(buf, N * page_size);

	EXPECT_EQ(-ENODEV, dma_segments(self->fd, w.id, 0, &seg, 1, NULL));
	EXPECT_EQ(-ENODEV, dma_segments(self->fd, r.id, 0, &seg, 1, NULL));
	EXPECT_EQ(N, query(self->fd, w.id, info, N)) TH_LOG("the pages stay pinned");
	EXPECT_EQ(pins + 2 * N, pins_outstanding());
	EXPECT_EQ(-ENODEV, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, 0, self->other, &again))
		TH_LOG("%s has no driver now", self->other_name);
	/* The revoked writable mapping no longer claims the pages. */
	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
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
	EXPECT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES,
			     self->other, &again));
	EXPECT_EQ(0, unhold(self->fd, again.id));
}

/*
 * Provider removal. Every p2pmem page holds a reference on its provider's
 * pagemap, and the provider's driver teardown (memunmap_pages()) waits
 * until every page is freed: a pin held across it blocks the unbind. A
 * set holding P2PDMA pages is registered with its providers and revoked
 * when one unbinds: its mapping undone, its pins released, its charge
 * returned; it stays, revoked, until UNPIN.
 *
 * Each variant holds one kind of set, then unbinds the provider's nvme
 * driver from a child process and times it. The unbind must finish while
 * the file is still open; if it has not after UNBIND_WAIT_S seconds (the
 * environment's RUST_GUP_UNBIND_WAIT_S, default 90: the debug kernel's
 * unbind of a rebound controller takes some 30 s by itself), the file is
 * closed and the test fails, saying how long the unbind then took. That
 * is how the 6.12 baseline (no revocation) is measured.
 */
enum unbind_case { PINNED, MAPPED_FOR_PROVIDER, MAPPED_FOR_OTHER, LONGTERM, MIXED };

FIXTURE(unbind) {
	int fd;
	char *mem;	/* N ordinary pages, then N pages of p2pmem */
	long provider, other;
	char provider_name[64], other_name[64];
};

FIXTURE_VARIANT(unbind) {
	enum unbind_case held;
	const char *what;
};

FIXTURE_VARIANT_ADD(unbind, pinned) { PINNED, "a P2PDMA pin" };
FIXTURE_VARIANT_ADD(unbind, mapped_for_provider) { MAPPED_FOR_PROVIDER, "DMA-mapped for the provider" };
FIXTURE_VARIANT_ADD(unbind, mapped_for_other) { MAPPED_FOR_OTHER, "nothing (the other controller: EREMOTEIO)" };
FIXTURE_VARIANT_ADD(unbind, longterm_registration) { LONGTERM, "a long-term registration, ACCOUNT" };
FIXTURE_VARIANT_ADD(unbind, mixed) { MIXED, "a P2PDMA pin of ordinary memory and p2pmem" };

/* The sysfs file of the provider's p2pmem, once it has it. */
static int wait_for_p2pmem(const char *bdf, int seconds)
{
	char path[128], ns[64];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate", bdf);
	for (int i = 0; i < seconds * 10; i++) {
		if (!access(path, F_OK) && !nvme_namespace(bdf, ns, sizeof(ns)))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Binds the nvme driver to `bdf` again, if it is unbound, and waits. */
static int rebind(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	if (access(path, F_OK))
		write_file("/sys/bus/pci/drivers/nvme/bind", bdf);
	/* Probing takes a while under TCG (some 20 s on the debug kernel). */
	return wait_for_p2pmem(bdf, 120);
}

/* The unbind fixture's set-up, which unbind_race shares. */
static void unbind_prepare(struct __test_metadata *_metadata, FIXTURE_DATA(unbind) *self)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = -1;
	self->provider = p2pmem_provider(self->provider_name, sizeof(self->provider_name));
	if (self->provider < 0)
		SKIP(return, "no p2pmem (a PCI device publishing P2PDMA memory)");
	self->other = pci_function("nvme", self->provider, self->other_name, sizeof(self->other_name));
	if (self->other < 0)
		SKIP(return, "no second NVMe controller");
	ASSERT_EQ(0, rebind(self->provider_name)) TH_LOG("%s has no p2pmem", self->provider_name);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->mem = mmap(NULL, 2 * N * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 1, N * page_size);
	ASSERT_NE(MAP_FAILED, map_p2pmem(self->mem + N * page_size, N * page_size));
}

FIXTURE_SETUP(unbind)
{
	unbind_prepare(_metadata, self);
}

static void unbind_cleanup(FIXTURE_DATA(unbind) *self)
{
	if (self->provider < 0 || self->other < 0)
		return;
	munmap(self->mem, 2 * N * page_size);
	if (self->fd >= 0)
		close(self->fd);
	/* For what follows, whatever happened. */
	rebind(self->provider_name);
}

FIXTURE_TEARDOWN(unbind)
{
	unbind_cleanup(self);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Starts unbinding the nvme driver of `bdf` in a child, which closes its
 * copy of `fd` first (an open file of the device in the child would hold
 * the pins too) and writes how long the unbind took, in ms, to the pipe
 * whose read end is returned in *rd.
 */
static pid_t start_unbind(const char *bdf, int fd, int *rd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		long start, ms;

		close(fd);
		close(p[0]);
		start = now_ms();
		ms = write_file("/sys/bus/pci/drivers/nvme/unbind", bdf) ? -1 : now_ms() - start;
		_exit(write(p[1], &ms, sizeof(ms)) == sizeof(ms) ? 0 : 1);
	}
	close(p[1]);
	*rd = p[0];
	return pid;
}

/* The unbind's time in ms once it is done, within `seconds`; -1 if not. */
static long unbind_done(int rd, int seconds)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	long ms = -1;

	if (poll(&pfd, 1, seconds * 1000) == 1 && read(rd, &ms, sizeof(ms)) != sizeof(ms))
		ms = -1;
	return ms;
}

/* RUST_GUP_IOC_QUERY of a set's size and flags: 0 or -errno. */
static int query_set(int fd, __u32 id, __u64 *pages, __u32 *flags)
{
	struct rust_gup_query q = { .id = id };

	if (ioctl(fd, RUST_GUP_IOC_QUERY, &q))
		return -errno;
	*pages = q.set_pages;
	*flags = q.flags;
	return 0;
}

TEST_F_TIMEOUT(unbind, revokes_what_it_holds, 290)
{
	const char *wait_env = getenv("RUST_GUP_UNBIND_WAIT_S");
	int wait_s = wait_env ? atoi(wait_env) : 90;
	long pins = pins_outstanding(), vm_pin = vm_pin_kb(), dma;
	long charged = charged_pages(self->fd), sets = held_sets(self->fd);
	long ms, pages = N, held_pages;
	struct rust_gup_stats st;
	struct rust_gup_dma_map m;
	struct rust_gup_dma_segment seg;
	__u32 id = 0, flags = 0;
	__u64 set_pages = 0;
	int rd, status;
	bool mapped = false, held = true;
	pid_t pid;

	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &st));
	held_pages = st.held_pages;
	switch (variant->held) {
	case PINNED:
		ASSERT_EQ(0, hold(self->fd, self->mem + N * page_size, N * page_size,
				  RUST_GUP_OP_PIN_FAST, RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, &id, &pages));
		break;
	case MAPPED_FOR_PROVIDER:
		ASSERT_EQ(0, dma_map(self->fd, self->mem + N * page_size, N, RUST_GUP_OP_PIN_FAST,
				     RUST_GUP_F_P2PDMA | DEVICE_WRITES, self->provider, &m));
		EXPECT_LT(0, m.bus_segments);
		id = m.id;
		mapped = true;
		break;
	case MAPPED_FOR_OTHER:
		/*
		 * The other controller cannot reach the CMB (no common upstream
		 * bridge, a host bridge not on the whitelist): nothing is held,
		 * and the unbind takes what it takes with nothing pinned.
		 */
		EXPECT_EQ(-EREMOTEIO, dma_map(self->fd, self->mem + N * page_size, N,
					      RUST_GUP_OP_PIN_FAST, RUST_GUP_F_P2PDMA | DEVICE_WRITES,
					      self->other, &m));
		held = false;
		break;
	case LONGTERM:
		ASSERT_EQ(0, hold(self->fd, self->mem + N * page_size, N * page_size,
				  RUST_GUP_OP_PIN_FAST, RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM |
				  RUST_GUP_F_ACCOUNT | RUST_GUP_F_WRITE, &id, &pages));
		EXPECT_EQ(vm_pin + N * page_size / 1024, vm_pin_kb());
		EXPECT_EQ(charged + N, charged_pages(self->fd));
		break;
	case MIXED:
		ASSERT_EQ(0, hold(self->fd, self->mem, 2 * N * page_size, RUST_GUP_OP_PIN_FAST,
				  RUST_GUP_F_P2PDMA | RUST_GUP_F_WRITE, &id, &pages));
		break;
	}
	if (held) {
		EXPECT_EQ(0, query_set(self->fd, id, &set_pages, &flags));
		EXPECT_EQ(0, flags);
		EXPECT_EQ(pages, set_pages);
		EXPECT_LT(pins, pins_outstanding());
	}

	pid = start_unbind(self->provider_name, self->fd, &rd);
	ASSERT_GT(pid, 0);
	ms = unbind_done(rd, wait_s);
	if (ms < 0) {
		long closed = now_ms();

		close(self->fd);
		self->fd = -1;
		ms = unbind_done(rd, 120);
		closed = now_ms() - closed;
		close(rd);
		waitpid(pid, &status, 0);
		/* The harness skips the teardown after an ASSERT. */
		rebind(self->provider_name);
		ASSERT_GE(ms, 0) TH_LOG("the unbind was blocked for %d s, and still is after the close", wait_s);
		ASSERT_GE(-1, 0) TH_LOG("the unbind was blocked for %d s with the set held; it finished %ld ms after the close",
					 wait_s, closed);
	}
	close(rd);
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ksft_print_msg("unbind with %s held: %ld ms\n", variant->what, ms);

	/* Revoked: no pages, no pins, no mapping, no charge; still there. */
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(vm_pin, vm_pin_kb());
	EXPECT_EQ(charged, charged_pages(self->fd));
	EXPECT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &st));
	EXPECT_EQ(held_pages, st.held_pages);
	/* The unbound driver's own mappings went too: what is left must not
	 * change when the revoked set goes. */
	dma = dma_debug_live();
	if (held) {
		EXPECT_EQ(0, query_set(self->fd, id, &set_pages, &flags));
		EXPECT_EQ(RUST_GUP_QUERY_REVOKED, flags);
		EXPECT_EQ(0, set_pages);
		EXPECT_EQ(sets + 1, held_sets(self->fd));
		if (mapped)
			EXPECT_EQ(-ENODEV, dma_segments(self->fd, id, 0, &seg, 1, NULL));
		EXPECT_EQ(0, unhold(self->fd, id));
	}
	EXPECT_EQ(dma, dma_debug_live()) TH_LOG("DMA API debug: a mapping was left to UNPIN");
	EXPECT_EQ(sets, held_sets(self->fd));

	/* Back, with p2pmem that pins again. */
	ASSERT_EQ(0, rebind(self->provider_name));
	ASSERT_NE(MAP_FAILED, map_p2pmem(self->mem + N * page_size, N * page_size));
	ASSERT_EQ(0, hold(self->fd, self->mem + N * page_size, N * page_size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_P2PDMA, &id, &pages));
	EXPECT_EQ(N, pages);
	EXPECT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(pins, pins_outstanding());
}

/*
 * Unbind racing PIN and DMA_MAP: a child unbinds and rebinds the provider
 * UNBIND_CYCLES times while this process pins its p2pmem (PIN, a
 * long-term registration, DMA_MAP for the provider) in a loop into 8
 * slots. A set is released only once it reports revoked, so every unbind
 * meets held sets, and one that slipped in unregistered would block it
 * for good: an unbind that does not finish within UNBIND_WAIT_S fails the
 * test, after the sets are released so that it can finish. (A DMA_MAP for
 * the provider waits for its device lock, which such an unbind holds; the
 * test kernels' hung-task panic then reports the unbind, as it did with
 * the refusal of registrations during an unbind removed.) The child
 * writes UNBIND_STARTS before each unbind and the time it took after. Each take
 * either succeeds (and is revoked at the next unbind) or fails with ENODEV
 * (the unbind has begun) or EFAULT (the memory is gone from the mapping).
 * Nothing leaks.
 */
#define UNBIND_CYCLES 3
#define UNBIND_WAIT_S 90
#define SLOTS 8
#define UNBIND_STARTS (-2L)

FIXTURE(unbind_race) {
	FIXTURE_DATA(unbind) u;
};

FIXTURE_SETUP(unbind_race)
{
	unbind_prepare(_metadata, &self->u);
}

FIXTURE_TEARDOWN(unbind_race)
{
	unbind_cleanup(&self->u);
}

/* The module's test-only knob that stretches each release of a mapping
 * or revocable set, and the stretch of the tests below. */
#define RELEASE_DELAY "/sys/module/rust_gup/parameters/test_release_delay_ms"
#define RELEASE_DELAY_MS 4000

/* Whether set `id` reports revoked. */
static bool revoked(int fd, __u32 id)
{
	__u64 pages;
	__u32 flags = 0;

	return !query_set(fd, id, &pages, &flags) && (flags & RUST_GUP_QUERY_REVOKED);
}

TEST_F_TIMEOUT(unbind_race, pins_and_dma_maps, 290)
{
	FIXTURE_DATA(unbind) *u = &self->u;
	long pins = pins_outstanding(), vm_pin = vm_pin_kb(), sets = held_sets(u->fd);
	long taken = 0, refused = 0, unbinding = 0, slowest = 0, started = 0, ms;
	__u32 ids[SLOTS] = { 0 };
	int rd, status = -1, p[2];
	bool stuck = false;
	unsigned int i;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(u->fd);
		close(p[0]);
		for (int c = 0; c < UNBIND_CYCLES; c++) {
			long start = now_ms();

			ms = UNBIND_STARTS;
			if (write(p[1], &ms, sizeof(ms)) != sizeof(ms) ||
			    write_file("/sys/bus/pci/drivers/nvme/unbind", u->provider_name))
				_exit(2);
			ms = now_ms() - start;
			if (write(p[1], &ms, sizeof(ms)) != sizeof(ms) || rebind(u->provider_name))
				_exit(3);
		}
		_exit(0);
	}
	close(p[1]);
	rd = p[0];
	for (i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
		struct rust_gup_dma_map m;
		__u32 *slot = NULL;
		long got;
		int rc;

		for (long t; (t = unbind_done(rd, 0)) != -1;) {
			started = t == UNBIND_STARTS ? now_ms() : 0;
			slowest = t > slowest ? t : slowest;
		}
		if (started && now_ms() - started > UNBIND_WAIT_S * 1000L) {
			stuck = true;
			break;
		}
		for (int s = 0; s < SLOTS && !slot; s++) {
			if (ids[s] && revoked(u->fd, ids[s])) {
				EXPECT_EQ(0, unhold(u->fd, ids[s]));
				ids[s] = 0;
			}
			if (!ids[s])
				slot = &ids[s];
		}
		if (!slot) {
			usleep(1000);
			continue;
		}
		switch (i % 3) {
		case 0:
			rc = hold(u->fd, u->mem + N * page_size, N * page_size, RUST_GUP_OP_PIN_FAST,
				  RUST_GUP_F_P2PDMA, slot, &got);
			break;
		case 1:
			rc = hold(u->fd, u->mem + N * page_size, N * page_size, RUST_GUP_OP_PIN_LOCKED,
				  RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT, slot, &got);
			break;
		default:
			rc = dma_map(u->fd, u->mem + N * page_size, N, RUST_GUP_OP_PIN_FAST,
				     RUST_GUP_F_P2PDMA, u->provider, &m);
			*slot = rc ? 0 : m.id;
			break;
		}
		if (rc == 0) {
			taken++;
			continue;
		}
		*slot = 0;
		refused++;
		unbinding += rc == -ENODEV;
		EXPECT_TRUE(rc == -ENODEV || rc == -EFAULT) TH_LOG("take %u: %s", i, strerror(-rc));
		/* Map the provider's p2pmem again once it is back. */
		if (rc == -EFAULT && map_p2pmem(u->mem + N * page_size, N * page_size) == MAP_FAILED)
			usleep(10000);
	}
	/* Release everything, which lets a stuck unbind finish. */
	for (i = 0; i < SLOTS; i++)
		if (ids[i])
			EXPECT_EQ(0, unhold(u->fd, ids[i]));
	if (stuck)
		waitpid(pid, &status, 0);
	while (read(rd, &ms, sizeof(ms)) == sizeof(ms))
		slowest = ms > slowest ? ms : slowest;
	close(rd);
	EXPECT_FALSE(stuck) TH_LOG("an unbind did not finish in %d s with sets held", UNBIND_WAIT_S);
	EXPECT_EQ(0, status) TH_LOG("the unbinding child: %d", status);
	ksft_print_msg("%d unbinds; %ld takes done, %ld refused (%ld of them ENODEV: the unbind had begun); slowest unbind %ld ms\n",
		       UNBIND_CYCLES, taken, refused, unbinding, slowest);
	EXPECT_LT(0, taken);
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(vm_pin, vm_pin_kb());
	EXPECT_EQ(sets, held_sets(u->fd));
}

/*
 * UNPIN and close racing the unbind of the client's driver: writable
 * mappings of ordinary memory for the second controller are made and
 * undone, by UNPIN or by closing the file that holds them, while a child
 * unbinds and rebinds that controller's driver UNBIND_CYCLES times. Each
 * undo is stretched to 2 s (test_release_delay_ms), so that the unbinds
 * land inside one. A mapping is undone under the registry's lock, whoever
 * undoes it, so no unbind returns while an undo of one of its device's
 * mappings is under way: no unbind's end may fall inside an undo (the
 * debug kernel's DMA API debugging would also report "pending DMA
 * allocations" then). Maps while the driver is away are ENODEV. Nothing
 * leaks.
 */
#define UNDOS 256

TEST_F_TIMEOUT(unbind_race, unmaps_and_client_unbinds, 290)
{
	FIXTURE_DATA(unbind) *u = &self->u;
	long pins = pins_outstanding(), sets = held_sets(u->fd), made = 0, refused = 0;
	long undo[UNDOS][2], unbind_end, inside = 0;
	int status = -1, p[2];
	char ns[64];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, write_file(RELEASE_DELAY, "2000")) TH_LOG("the module's test parameter");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(u->fd);
		close(p[0]);
		for (int c = 0; c < UNBIND_CYCLES; c++) {
			/* Bound for a while: the parent maps and unmaps. */
			usleep(1500 * 1000);
			if (write_file("/sys/bus/pci/drivers/nvme/unbind", u->other_name))
				_exit(2);
			unbind_end = now_ms();
			if (write(p[1], &unbind_end, sizeof(unbind_end)) != sizeof(unbind_end))
				_exit(4);
			usleep(200 * 1000);
			if (write_file("/sys/bus/pci/drivers/nvme/bind", u->other_name))
				_exit(3);
			for (int i = 0; i < 1200 && nvme_namespace(u->other_name, ns, sizeof(ns)); i++)
				usleep(100000);
		}
		_exit(0);
	}
	close(p[1]);
	for (unsigned int i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
		struct rust_gup_dma_map m;
		int fd = i % 2 ? open(RUST_GUP_DEVICE, O_RDWR) : u->fd;
		long start;
		int rc;

		ASSERT_GE(fd, 0);
		rc = dma_map(fd, u->mem, N, RUST_GUP_OP_PIN_FAST, DEVICE_WRITES, u->other, &m);
		EXPECT_TRUE(rc == 0 || rc == -ENODEV) TH_LOG("map %u: %s", i, strerror(-rc));
		start = now_ms();
		if (fd != u->fd)
			close(fd);
		else if (rc == 0)
			EXPECT_EQ(0, unhold(fd, m.id));
		if (rc) {
			refused++;
			usleep(10000);
		} else if (made < UNDOS) {
			undo[made][0] = start;
			undo[made++][1] = now_ms();
		}
	}
	write_file(RELEASE_DELAY, "0");
	while (read(p[0], &unbind_end, sizeof(unbind_end)) == sizeof(unbind_end)) {
		for (long k = 0; k < made; k++) {
			if (undo[k][0] < unbind_end && unbind_end < undo[k][1]) {
				inside++;
				TH_LOG("an unbind returned %ld ms before an undo of its mapping",
				       undo[k][1] - unbind_end);
			}
		}
	}
	close(p[0]);
	EXPECT_EQ(0, status) TH_LOG("the unbinding child: %d", status);
	ksft_print_msg("%d unbinds of the client; %ld mappings made and undone, %ld refused\n",
		       UNBIND_CYCLES, made, refused);
	EXPECT_EQ(0, inside);
	EXPECT_LT(0, made);
	EXPECT_EQ(pins, pins_outstanding());
	EXPECT_EQ(sets, held_sets(u->fd));
	EXPECT_EQ(0, nvme_namespace(u->other_name, ns, sizeof(ns))) TH_LOG("%s back", u->other_name);
}

/*
 * A mapping's release against its client's unbind: the unbind must not
 * finish while an UNPIN is still unmapping (the DMA API's debugging then
 * reports pending mappings of a driver that is gone). The module's
 * test_release_delay_ms parameter stretches the unmap to RELEASE_DELAY_MS; a
 * child UNPINs a writable mapping for the second controller, and the
 * unbind of that controller starts while the child's unmap waits. The
 * unbind must return after the UNPIN does.
 */

TEST_F_TIMEOUT(dma, unbind_waits_for_unmap, 240)
{
	long pins = pins_outstanding(), unpinned_at = -1, unbound_at, start;
	struct rust_gup_dma_map w;
	char ns[64], delay[16];
	int p[2], status;
	pid_t pid;

	ASSERT_EQ(0, dma_map(self->fd, self->mem, N, RUST_GUP_OP_PIN_FAST,
			     RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, self->other, &w));
	snprintf(delay, sizeof(delay), "%d", RELEASE_DELAY_MS);
	ASSERT_EQ(0, write_file(RELEASE_DELAY, delay)) TH_LOG("the module's test parameter");
	ASSERT_EQ(0, pipe(p));
	start = now_ms();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long t = unhold(self->fd, w.id) ? -1 : now_ms();

		_exit(write(p[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	/* Well inside the child's unmap. */
	usleep(RELEASE_DELAY_MS * 1000 / 4);
	EXPECT_EQ(0, write_file("/sys/bus/pci/drivers/nvme/unbind", self->other_name));
	unbound_at = now_ms();
	EXPECT_EQ(sizeof(unpinned_at), read(p[0], &unpinned_at, sizeof(unpinned_at)));
	close(p[0]);
	waitpid(pid, &status, 0);
	write_file(RELEASE_DELAY, "0");
	EXPECT_EQ(0, status);
	EXPECT_LT(0, unpinned_at) TH_LOG("the child's UNPIN failed");
	EXPECT_LE(unpinned_at, unbound_at)
		TH_LOG("the unbind returned %ld ms before the UNPIN that was unmapping",
		       unpinned_at - unbound_at);
	ksft_print_msg("UNPIN returned at +%ld ms, the unbind at +%ld ms (unmap delayed %d ms)\n",
		       unpinned_at - start, unbound_at - start, RELEASE_DELAY_MS);
	EXPECT_EQ(pins, pins_outstanding());

	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/nvme/bind", self->other_name));
	for (int i = 0; i < 1200 && nvme_namespace(self->other_name, ns, sizeof(ns)); i++)
		usleep(100000);
	EXPECT_EQ(0, nvme_namespace(self->other_name, ns, sizeof(ns))) TH_LOG("%s back", self->other_name);
}

/*
 * UNPIN of a set that the provider's unbind is revoking returns only once
 * the set's pins and charge are gone. A long-term registration of p2pmem,
 * charged; the unbind's notifier takes it and, stretched by
 * test_release_delay_ms to RELEASE_DELAY_MS, releases it, and the UNPIN
 * comes 1 s into that: when it returns, nothing of the set may be left.
 */
FIXTURE(unpin_revoked) {
	FIXTURE_DATA(unbind) u;
};

FIXTURE_SETUP(unpin_revoked)
{
	unbind_prepare(_metadata, &self->u);
}

FIXTURE_TEARDOWN(unpin_revoked)
{
	write_file(RELEASE_DELAY, "0");
	unbind_cleanup(&self->u);
}

/*
 * Holds a revocable registration of the fixture's p2pmem in *id, stretches
 * its revocation to RELEASE_DELAY_MS and starts the provider's unbind (its
 * pipe in *rd, its start in *start); returns 1 s into the revocation, with
 * the unbinding child's pid, or -1.
 */
static pid_t revocation_under_way(struct __test_metadata *_metadata, FIXTURE_DATA(unbind) *u,
				  __u32 *id, int *rd, long *start)
{
	char delay[16];
	long got;
	pid_t pid;

	if (hold(u->fd, u->mem + N * page_size, N * page_size, RUST_GUP_OP_PIN_FAST,
		 RUST_GUP_F_P2PDMA | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT | RUST_GUP_F_WRITE |
		 RUST_GUP_F_DIRTY, id, &got) || got != N) {
		TH_LOG("the registration: %s", strerror(errno));
		return -1;
	}
	snprintf(delay, sizeof(delay), "%d", RELEASE_DELAY_MS);
	if (write_file(RELEASE_DELAY, delay)) {
		TH_LOG("the module's test parameter");
		return -1;
	}
	*start = now_ms();
	pid = start_unbind(u->provider_name, u->fd, rd);
	usleep(1000 * 1000);
	return pid;
}

TEST_F_TIMEOUT(unpin_revoked, waits_for_the_revocation, 290)
{
	FIXTURE_DATA(unbind) *u = &self->u;
	long pins = pins_outstanding(), vm_pin = vm_pin_kb(), charged = charged_pages(u->fd);
	long ms, start, unpinned;
	__u32 id;
	int rd, status;
	pid_t pid = revocation_under_way(_metadata, u, &id, &rd, &start);

	ASSERT_GT(pid, 0);
	EXPECT_EQ(charged + N, charged_pages(u->fd));
	EXPECT_EQ(0, unhold(u->fd, id));
	unpinned = now_ms() - start;
	/* Nothing of the set is left once UNPIN has returned. */
	EXPECT_EQ(pins, pins_outstanding()) TH_LOG("pins still held after UNPIN (at +%ld ms)", unpinned);
	EXPECT_EQ(vm_pin, vm_pin_kb()) TH_LOG("still charged after UNPIN");
	EXPECT_EQ(charged, charged_pages(u->fd));
	write_file(RELEASE_DELAY, "0");
	ms = unbind_done(rd, 120);
	close(rd);
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_LE(0, ms) TH_LOG("the unbind did not finish");
	ksft_print_msg("UNPIN returned at +%ld ms; the unbind took %ld ms (release delayed %d ms)\n",
		       unpinned, ms, RELEASE_DELAY_MS);
}

/*
 * The module unloaded while a provider's unbind revokes one of its sets:
 * the file is closed 1 s into a revocation stretched to 4 s, and rmmod
 * follows at once. The bus notifier is the module's (unregistered at its
 * exit, which waits for the running callback), so rmmod returns once the
 * callback is done, the unbind completes, nothing stays pinned, and the
 * module loads again. Were the notifier the registry's, released with the
 * last mapping, a callback that outlived the file's release could run on
 * after the module was freed, or unregister itself.
 */
TEST_F_TIMEOUT(unpin_revoked, unload_during_the_revocation, 290)
{
	FIXTURE_DATA(unbind) *u = &self->u;
	long pins = pins_outstanding(), ms, start, closed, unloaded;
	char module[PATH_MAX], exe[PATH_MAX], cmd[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int rd, status;
	__u32 id;
	pid_t pid;

	ASSERT_LT(0, n);
	exe[n] = 0;
	snprintf(module, sizeof(module), "%s/rust_gup.ko", dirname(exe));
	ASSERT_EQ(0, access(module, R_OK)) TH_LOG("%s", module);
	pid = revocation_under_way(_metadata, u, &id, &rd, &start);
	ASSERT_GT(pid, 0);
	close(u->fd);
	u->fd = -1;
	closed = now_ms() - start;
	EXPECT_EQ(0, system("rmmod rust_gup")) TH_LOG("rmmod during the revocation");
	unloaded = now_ms() - start;
	ms = unbind_done(rd, 120);
	close(rd);
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_LE(0, ms) TH_LOG("the unbind did not finish");
	EXPECT_EQ(pins, pins_outstanding());
	snprintf(cmd, sizeof(cmd), "insmod %s", module);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, access(RUST_GUP_DEVICE, F_OK));
	ksft_print_msg("closed at +%ld ms, unloaded at +%ld ms; the unbind took %ld ms\n",
		       closed, unloaded, ms);
}

TEST_HARNESS_MAIN
