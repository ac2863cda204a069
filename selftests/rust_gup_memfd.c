// SPDX-License-Identifier: GPL-2.0
/*
 * Folio pins of a memfd (RUST_GUP_IOC_PIN with RUST_GUP_OP_PIN_MEMFD, over
 * memfd_pin_folios()): of shmem with small pages and with THP, of
 * hugetlbfs, across the module's chunks; one pin per folio, counted and
 * released; the data through the pins; the same pages as GUP of a shared
 * mapping of the file; seals, truncation, registrations; files that are
 * no memfd and every bad argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define HUGE_PAGES 512

static long page_size;

/* RUST_GUP_IOC_PIN of [offset, offset + size) of memfd: 0 or -errno. */
static int pin_memfd(int fd, int memfd, size_t offset, size_t size, __u32 flags, __u32 *id,
		     long *pages)
{
	struct rust_gup_pin pin = {
		.addr = offset, .size = size, .op = RUST_GUP_OP_PIN_MEMFD, .flags = flags,
		.fd = memfd,
	};

	return pin_set(fd, &pin, id, pages);
}

/* Command cmd with another structure size. */
static unsigned long with_size(unsigned long cmd, unsigned long size)
{
	return (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | size << _IOC_SIZESHIFT;
}

/* Byte i of a file's test pattern. */
static char pattern(size_t i)
{
	return (char)(i / 4096 * 7 + i);
}

/* A memfd of size bytes filled with the pattern through write(). */
static int filled_memfd(unsigned int flags, size_t size)
{
	int memfd = memfd_create("rust_gup_memfd", flags);
	char *buf = malloc(size);

	if (memfd < 0 || !buf)
		return -1;
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	/* The size first: shmem's within_size THP policy looks at it. */
	if (ftruncate(memfd, size) || pwrite(memfd, buf, size, 0) != (ssize_t)size) {
		close(memfd);
		memfd = -1;
	}
	free(buf);
	return memfd;
}

/* Checks that set id holds [offset, offset + len) of the pattern. */
static void expect_pattern(struct __test_metadata *_metadata, int fd, __u32 id, size_t offset,
			   size_t len)
{
	char *copy = malloc(len);

	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, set_access(fd, id, 0, 0, copy, len));
	for (size_t i = 0; i < len; i++) {
		if (copy[i] != pattern(offset + i)) {
			EXPECT_EQ(pattern(offset + i), copy[i]) TH_LOG("byte %zu", offset + i);
			break;
		}
	}
	free(copy);
}

FIXTURE(memfd) {
	int fd;
	char thp[32];
};

FIXTURE_SETUP(memfd)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
	/* Small shmem pages unless a test asks for THP; restored after. */
	ASSERT_EQ(0, shmem_thp(self->thp, sizeof(self->thp)));
	ASSERT_EQ(0, write_file(SHMEM_THP, "never"));
}

FIXTURE_TEARDOWN(memfd)
{
	write_file(SHMEM_THP, self->thp);
	close(self->fd);
}

/*
 * Small shmem pages: one pin per page, counted and released; the pins hold
 * the file's data and are long-term ones.
 */
TEST_F(memfd, shmem_pages_are_pinned)
{
	const size_t offset = 16 * page_size, size = 256 * page_size;
	struct rust_gup_page_info info[256];
	int memfd = filled_memfd(0, 2 << 20);
	long acq = vmstat("nr_foll_pin_acquired"), rel = vmstat("nr_foll_pin_released"), pages;
	__u32 id;

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, offset, size, 0, &id, &pages));
	EXPECT_EQ(256, pages);
	EXPECT_EQ(256, vmstat("nr_foll_pin_acquired") - acq);
	ASSERT_EQ(256, query(self->fd, id, info, 256));
	for (int i = 0; i < 256; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
		EXPECT_FALSE(info[i].flags & (RUST_GUP_PAGE_ANON | RUST_GUP_PAGE_HUGETLB));
		EXPECT_EQ(0, info[i].order);
		EXPECT_EQ(1, info[i].pincount);
		EXPECT_NE(RUST_GUP_ZONE_MOVABLE, info[i].zone);
	}
	expect_pattern(_metadata, self->fd, id, offset, size);
	/* The file need not stay open: the set keeps what it pinned. */
	ASSERT_EQ(0, close(memfd));
	expect_pattern(_metadata, self->fd, id, offset, size);
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(256, vmstat("nr_foll_pin_released") - rel);
}

/*
 * THP-backed shmem: one pin per folio, however many of its pages the range
 * has, also where the range crosses the module's chunks (512 pages per
 * memfd_pin_folios() call) inside a folio; then the smaller folios after
 * the huge ones (order 0 on 6.12; 7.3's shmem may make them mTHP). The
 * pages are the ones GUP finds through a shared mapping.
 */
TEST_F(memfd, thp_shmem_is_pinned_per_folio)
{
	/* Three huge folios, then 16 pages in smaller ones (within_size: a
	 * huge page only where it fits in the file). */
	const size_t size = 3 * HUGE_PAGES * page_size + 16 * page_size;
	const size_t offset = page_size, len = size - offset;
	const long nr = len / page_size;
	struct rust_gup_page_info *info = calloc(nr, sizeof(*info));
	struct rust_gup_page_info *gup = calloc(nr, sizeof(*gup));
	long held, pages, folios = 0;
	int memfd;
	char *map;
	__u32 id, gid;

	ASSERT_NE(NULL, info);
	ASSERT_NE(NULL, gup);
	ASSERT_EQ(0, write_file(SHMEM_THP, "within_size"));
	memfd = filled_memfd(0, size);
	ASSERT_GE(memfd, 0);
	held = pins_outstanding();
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, offset, len, 0, &id, &pages));
	EXPECT_EQ(nr, pages);
	ASSERT_EQ(nr, query(self->fd, id, info, nr));
	ASSERT_EQ(9, info[0].order) TH_LOG("shmem gave no THP: the test needs one");
	for (long i = 0; i < nr; i++) {
		/* Pages 1-511 of the first folio, the second and third whole. */
		int huge = i < 3 * HUGE_PAGES - 1;
		__u64 head = info[i].pfn & ~((1ull << info[i].order) - 1);

		if (huge) {
			EXPECT_EQ(9, info[i].order) TH_LOG("page %ld", i);
		} else {
			EXPECT_LT(info[i].order, 9) TH_LOG("page %ld", i);
		}
		EXPECT_EQ(1, info[i].pincount) TH_LOG("page %ld", i);
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED);
		if (i && huge && (i + 1) % HUGE_PAGES)
			EXPECT_EQ(info[i - 1].pfn + 1, info[i].pfn) TH_LOG("page %ld", i);
		folios += !i || head != (info[i - 1].pfn & ~((1ull << info[i - 1].order) - 1));
	}
	/* One pin per folio held (a folio that two chunks reach is pinned
	 * twice, and the second pin dropped at once). */
	printf("# %ld pages in %ld folios\n", nr, folios);
	EXPECT_LE(4, folios);
	EXPECT_EQ(folios, pins_outstanding() - held);
	expect_pattern(_metadata, self->fd, id, offset, len);

	/* GUP through a shared mapping finds the same pages. */
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, hold(self->fd, map + offset, len, RUST_GUP_OP_PIN_FAST, 0, &gid, &pages));
	ASSERT_EQ(nr, query(self->fd, gid, gup, nr));
	for (long i = 0; i < nr; i++) {
		EXPECT_EQ(gup[i].pfn, info[i].pfn) TH_LOG("page %ld", i);
		EXPECT_EQ(gup[i].order, info[i].order) TH_LOG("page %ld", i);
		EXPECT_EQ(gup[i].zone, info[i].zone) TH_LOG("page %ld", i);
	}
	ASSERT_EQ(0, unhold(self->fd, gid));
	munmap(map, size);
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(held, pins_outstanding());
	close(memfd);
	free(info);
	free(gup);
}

/* A /proc/meminfo counter, or -1. */
static long meminfo(const char *name)
{
	char line[128];
	long value = -1;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			value = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return value;
}

/*
 * hugetlbfs: one pin per huge page; a device's write through the pins
 * reaches the file. Pages not there yet are allocated by the pin on 7.3;
 * on 6.12, whose memfd_pin_folios() would allocate them without a
 * reservation, such a range is EFAULT until they are. The reservation
 * count is right afterwards.
 */
TEST_F(memfd, hugetlb_is_pinned_per_folio)
{
	const size_t huge = HUGE_PAGES * page_size, size = 2 * huge;
	const size_t offset = huge / 2, len = huge;
	const long nr = len / page_size;
	struct rust_gup_page_info *info = calloc(nr, sizeof(*info));
	int memfd = memfd_create("rust_gup_memfd", MFD_HUGETLB);
	char *data = malloc(len), *map;
	long rsvd = meminfo("HugePages_Rsvd"), acq, pages;
	__u32 id;

	ASSERT_NE(NULL, info);
	ASSERT_NE(NULL, data);
	ASSERT_GE(memfd, 0);
	ASSERT_GE(rsvd, 0);
	ASSERT_EQ(0, ftruncate(memfd, size));
	if (kernel_version() < 613) {
		EXPECT_EQ(-EFAULT, pin_memfd(self->fd, memfd, offset, len, 0, &id, &pages));
		ASSERT_EQ(0, fallocate(memfd, 0, 0, size));
	}
	acq = vmstat("nr_foll_pin_acquired");
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, offset, len,
			       RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &id, &pages));
	EXPECT_EQ(nr, pages);
	/* The second half of one huge page, the first half of the next. */
	EXPECT_EQ(2, vmstat("nr_foll_pin_acquired") - acq);
	ASSERT_EQ(nr, query(self->fd, id, info, nr));
	for (long i = 0; i < nr; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_HUGETLB) TH_LOG("page %ld", i);
		EXPECT_EQ(9, info[i].order);
		EXPECT_EQ(1, info[i].pincount);
	}
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(offset + i);
	ASSERT_EQ(0, set_access(self->fd, id, 1, 0, data, len));
	ASSERT_EQ(0, unhold(self->fd, id));
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(map + offset, data, len));
	munmap(map, size);
	close(memfd);
	EXPECT_EQ(rsvd, meminfo("HugePages_Rsvd"));
	free(data);
	free(info);
}

/*
 * Seals: a pin the device writes needs a file it may write, as a shared
 * writable mapping does, and keeps F_SEAL_WRITE from being added while it
 * lives; read-only pins take a write-sealed file.
 */
TEST_F(memfd, seals)
{
	const size_t size = 64 * page_size;
	const unsigned int seals[] = { F_SEAL_WRITE, F_SEAL_FUTURE_WRITE };
	long pages;
	__u32 id;

	for (unsigned int s = 0; s < 2; s++) {
		int memfd = filled_memfd(MFD_ALLOW_SEALING, size);

		ASSERT_GE(memfd, 0);
		ASSERT_EQ(0, fcntl(memfd, F_ADD_SEALS, seals[s]));
		EXPECT_EQ(-EPERM, pin_memfd(self->fd, memfd, 0, size, RUST_GUP_F_WRITE, &id, &pages))
			TH_LOG("seal %#x", seals[s]);
		ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, size, 0, &id, &pages));
		expect_pattern(_metadata, self->fd, id, 0, size);
		ASSERT_EQ(0, unhold(self->fd, id));
		close(memfd);
	}

	int memfd = filled_memfd(MFD_ALLOW_SEALING, size);

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, size, RUST_GUP_F_WRITE, &id, &pages));
	EXPECT_EQ(-1, fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EBUSY, errno);
	/* Seals that do not stop writes are fine. */
	EXPECT_EQ(0, fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(0, fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE));
	close(memfd);
}

/*
 * Truncating the file leaves the pins, and the memory they hold, until
 * they are released; a range past the end of the file is EINVAL.
 */
TEST_F(memfd, truncated_file)
{
	const size_t size = 2 << 20, len = 256 * page_size;
	struct rust_gup_page_info info[256];
	long acq = vmstat("nr_foll_pin_acquired"), rel = vmstat("nr_foll_pin_released"), pages;
	int memfd = filled_memfd(0, size);
	__u32 id, id2;

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, len, 0, &id, &pages));
	ASSERT_EQ(0, ftruncate(memfd, 0));
	ASSERT_EQ(256, query(self->fd, id, info, 256));
	for (int i = 0; i < 256; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
	}
	expect_pattern(_metadata, self->fd, id, 0, len);
	EXPECT_EQ(-EINVAL, pin_memfd(self->fd, memfd, 0, len, 0, &id2, &pages));
	ASSERT_EQ(0, ftruncate(memfd, len));
	EXPECT_EQ(-EINVAL, pin_memfd(self->fd, memfd, page_size, len, 0, &id2, &pages));
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(vmstat("nr_foll_pin_acquired") - acq, vmstat("nr_foll_pin_released") - rel);
	close(memfd);
}

/* A registration is charged to the caller's pinned_vm until released. */
TEST_F(memfd, registration_is_charged)
{
	const size_t size = 128 * page_size;
	struct rust_gup_stats before, during;
	int memfd = filled_memfd(0, size);
	long kb = vm_pin_kb(), pages;
	__u32 id;

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &before));
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, size, RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT,
			       &id, &pages));
	EXPECT_EQ(kb + (long)(size / 1024), vm_pin_kb());
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &during));
	EXPECT_EQ(before.held_sets + 1, during.held_sets);
	EXPECT_EQ(before.held_pages + 128, during.held_pages);
	EXPECT_EQ(before.charged_pages + 128, during.charged_pages);
	ASSERT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(kb, vm_pin_kb());
	close(memfd);
}

/* Files whose pages memfd_pin_folios() does not pin, and bad descriptors. */
TEST_F(memfd, not_a_memfd)
{
	int pipes[2], null = open("/dev/null", O_RDWR), memfd = filled_memfd(0, 1 << 20);
	char path[64];
	long pages;
	__u32 id;
	int ro;

	ASSERT_EQ(0, pipe(pipes));
	ASSERT_GE(null, 0);
	ASSERT_GE(memfd, 0);
	EXPECT_EQ(-EBADFD, pin_memfd(self->fd, pipes[0], 0, page_size, 0, &id, &pages));
	EXPECT_EQ(-EBADFD, pin_memfd(self->fd, null, 0, page_size, 0, &id, &pages));
	EXPECT_EQ(-EBADFD, pin_memfd(self->fd, self->fd, 0, page_size, 0, &id, &pages));
	EXPECT_EQ(-EBADF, pin_memfd(self->fd, -1, 0, page_size, 0, &id, &pages));
	EXPECT_EQ(-EBADF, pin_memfd(self->fd, 1 << 20, 0, page_size, 0, &id, &pages));
	/* The memfd opened read-only: read pins only, as mmap() allows. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro = open(path, O_RDONLY);
	ASSERT_GE(ro, 0);
	EXPECT_EQ(-EACCES, pin_memfd(self->fd, ro, 0, page_size, RUST_GUP_F_WRITE, &id, &pages));
	ASSERT_EQ(0, pin_memfd(self->fd, ro, 0, page_size, 0, &id, &pages));
	ASSERT_EQ(0, unhold(self->fd, id));
	close(ro);
	close(memfd);
	close(null);
	close(pipes[0]);
	close(pipes[1]);
}

/*
 * The checks of mmap() of a shared mapping, with its errnos: a file open
 * write-only cannot be mapped at all (EACCES), so it is not pinned, read
 * or write; an append-only file cannot be mapped shared and writable
 * (EACCES), so it is not pinned WRITE, but is pinned for reading. Nothing
 * is read or pinned on the way.
 */
TEST_F(memfd, pinned_as_mmap_would_map)
{
	int memfd = filled_memfd(0, 1 << 20), wo, attr;
	long acq = vmstat("nr_foll_pin_acquired"), pages;
	char path[64];
	__u32 id;

	ASSERT_GE(memfd, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	wo = open(path, O_WRONLY);
	ASSERT_GE(wo, 0);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, page_size, PROT_READ, MAP_SHARED, wo, 0));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-EACCES, pin_memfd(self->fd, wo, 0, page_size, 0, &id, &pages));
	EXPECT_EQ(-EACCES, pin_memfd(self->fd, wo, 0, page_size,
				     RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &id, &pages));
	close(wo);

	ASSERT_EQ(0, ioctl(memfd, FS_IOC_GETFLAGS, &attr));
	attr |= FS_APPEND_FL;
	ASSERT_EQ(0, ioctl(memfd, FS_IOC_SETFLAGS, &attr)) TH_LOG("chattr +a: %m");
	EXPECT_EQ(MAP_FAILED, mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-EACCES, pin_memfd(self->fd, memfd, 0, page_size, RUST_GUP_F_WRITE, &id, &pages));
	EXPECT_EQ(-EACCES, pin_memfd(self->fd, memfd, 0, page_size,
				     RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY | RUST_GUP_F_LONGTERM |
				     RUST_GUP_F_ACCOUNT, &id, &pages));
	EXPECT_EQ(acq, vmstat("nr_foll_pin_acquired"));
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, page_size, 0, &id, &pages));
	EXPECT_EQ(1, pages);
	ASSERT_EQ(0, unhold(self->fd, id));
	attr &= ~FS_APPEND_FL;
	ASSERT_EQ(0, ioctl(memfd, FS_IOC_SETFLAGS, &attr));
	ASSERT_EQ(0, pin_memfd(self->fd, memfd, 0, page_size, RUST_GUP_F_WRITE, &id, &pages));
	ASSERT_EQ(0, unhold(self->fd, id));
	close(memfd);
}

/* Every bad argument of the op gets EINVAL, and nothing is pinned. */
TEST_F(memfd, bad_input)
{
	int memfd = filled_memfd(0, 1 << 20);
	long acq = vmstat("nr_foll_pin_acquired"), pages;
	const struct {
		const char *what;
		__u64 offset, size;
		__u32 flags, pid, reserved;
	} bad[] = {
		{ "unaligned offset", 1, 4096, 0, 0, 0 },
		{ "unaligned size", 0, 4095, 0, 0, 0 },
		{ "empty", 0, 0, 0, 0, 0 },
		{ "past the end", 0, 2 << 20, 0, 0, 0 },
		{ "offset past the end", 1 << 20, 4096, 0, 0, 0 },
		{ "wrapping", -4096ull, 8192, 0, 0, 0 },
		{ "past loff_t", 1ull << 63, 4096, 0, 0, 0 },
		{ "DIRTY without WRITE", 0, 4096, RUST_GUP_F_DIRTY, 0, 0 },
		{ "FORCE", 0, 4096, RUST_GUP_F_FORCE, 0, 0 },
		{ "P2PDMA", 0, 4096, RUST_GUP_F_P2PDMA, 0, 0 },
		{ "WORKER", 0, 4096, RUST_GUP_F_WORKER, 0, 0 },
		{ "PID", 0, 4096, RUST_GUP_F_PID, 0, 0 },
		{ "unknown flag", 0, 4096, 1u << 31, 0, 0 },
		{ "a pid", 0, 4096, 0, 1, 0 },
		{ "reserved", 0, 4096, 0, 0, 1 },
	};
	struct rust_gup_bench bench = {
		.size = 4096, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd,
		.flags = RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT,
	};
	struct rust_gup_dma_map dma = { .size = 4096, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd };
	struct rust_gup_pin other = { .size = 4096, .op = RUST_GUP_OP_PIN_FAST, .fd = memfd };
	__u32 id;

	ASSERT_GE(memfd, 0);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rust_gup_pin pin = {
			.addr = bad[i].offset, .size = bad[i].size, .op = RUST_GUP_OP_PIN_MEMFD,
			.flags = bad[i].flags, .pid = bad[i].pid, .fd = memfd,
			.reserved = bad[i].reserved,
		};

		EXPECT_EQ(-EINVAL, pin_set(self->fd, &pin, &id, &pages)) TH_LOG("%s", bad[i].what);
	}
	/* An fd with the other ops; the op with ABI version 8's numbers, which
	 * have no fd; a registration for BENCH, which releases at once. */
	other.addr = (unsigned long)&other & ~(page_size - 1);
	EXPECT_EQ(-EINVAL, pin_set(self->fd, &other, &id, &pages));
	struct rust_gup_pin v8 = { .size = 4096, .op = RUST_GUP_OP_PIN_MEMFD, .fd = memfd };

	EXPECT_EQ(-1, ioctl(self->fd, with_size(RUST_GUP_IOC_PIN,
						__builtin_offsetof(struct rust_gup_pin, fd)), &v8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, with_size(RUST_GUP_IOC_DMA_MAP,
						__builtin_offsetof(struct rust_gup_dma_map, fd)),
			    &dma));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_BENCH, &bench));
	EXPECT_EQ(EINVAL, errno);
	dma.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &dma));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(acq, vmstat("nr_foll_pin_acquired"));
	close(memfd);
}

/*
 * RUST_GUP_IOC_BENCH pins and releases a memfd's range, timed, in chunks
 * of 512 pages; nothing stays pinned.
 */
TEST_F(memfd, bench)
{
	const size_t size = 1024 * page_size + 16 * page_size;
	int memfd = filled_memfd(0, size);
	long held = pins_outstanding();
	struct rust_gup_bench b = {
		.addr = 16 * page_size, .size = 1024 * page_size, .op = RUST_GUP_OP_PIN_MEMFD,
		.flags = RUST_GUP_F_WRITE, .fd = memfd,
	};

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_BENCH, &b));
	EXPECT_EQ(1024 * page_size, b.size);
	EXPECT_EQ(2, b.calls);
	EXPECT_GT(b.get_ns, 0);
	EXPECT_EQ(held, pins_outstanding());
	close(memfd);
}

/* RUST_GUP_IOC_DMA_SEGMENTS of a whole mapping into segs: how many, or -1. */
static long all_segments(int fd, __u32 id, struct rust_gup_dma_segment *segs, __u32 nr)
{
	struct rust_gup_dma_segments s = {
		.id = id, .nr = nr, .segments = (unsigned long)segs,
	};

	if (ioctl(fd, RUST_GUP_IOC_DMA_SEGMENTS, &s) || s.nr != s.nr_segments)
		return -1;
	return s.nr;
}

/*
 * DMA_MAP of memfd pins: THP shmem and hugetlb, mapped for an NVMe
 * controller, give the same DMA segments as GUP's pins of a shared mapping
 * of the same range, and UNPIN undoes both.
 */
TEST_F(memfd, dma_map_is_the_same_as_gup)
{
	const size_t huge = HUGE_PAGES * page_size, size = 2 * huge + 16 * page_size;
	/* From inside the first huge folio into the small pages after the
	 * second (hugetlb: into the third huge page). */
	const size_t offset = 64 * page_size, len = size - offset - 4 * page_size;
	struct rust_gup_dma_segment a[1024], b[1024];
	char name[64];
	long client = pci_function("nvme", -1, name, sizeof(name)), held = pins_outstanding();

	ASSERT_GE(client, 0) TH_LOG("no NVMe controller to map for");
	ASSERT_EQ(0, write_file(SHMEM_THP, "within_size"));
	for (int hugetlb = 0; hugetlb <= 1; hugetlb++) {
		/* hugetlbfs sizes are whole huge pages. */
		size_t file_size = hugetlb ? 3 * huge : size;
		int memfd = hugetlb ? memfd_create("rust_gup_memfd", MFD_HUGETLB) :
				      filled_memfd(0, size);
		struct rust_gup_dma_map m = {
			.addr = offset, .size = len, .op = RUST_GUP_OP_PIN_MEMFD,
			.flags = DEVICE_WRITES, .client = client, .fd = memfd,
		};
		/* Read-only: mappings for a device to read may overlap. */
		struct rust_gup_dma_map g = {
			.size = len, .op = RUST_GUP_OP_PIN_FAST, .client = client,
		};
		long na, nb;
		char *map;

		ASSERT_GE(memfd, 0);
		if (hugetlb)
			ASSERT_EQ(0, ftruncate(memfd, file_size));
		map = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		ASSERT_NE(MAP_FAILED, map);
		memset(map, 0x5a, file_size);
		g.addr = (unsigned long)map + offset;
		ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &m)) TH_LOG("%s: %s",
			  hugetlb ? "hugetlb" : "shmem", strerror(errno));
		EXPECT_EQ(len, m.size);
		ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_DMA_MAP, &g));
		na = all_segments(self->fd, m.id, a, 1024);
		nb = all_segments(self->fd, g.id, b, 1024);
		ASSERT_GT(na, 0);
		EXPECT_EQ(m.nr_segments, na);
		EXPECT_EQ(nb, na) TH_LOG("%s", hugetlb ? "hugetlb" : "shmem");
		for (long i = 0; i < na && i < nb; i++) {
			EXPECT_EQ(b[i].addr, a[i].addr) TH_LOG("segment %ld", i);
			EXPECT_EQ(b[i].len, a[i].len) TH_LOG("segment %ld", i);
		}
		/* A huge folio is one physical run: far fewer segments than pages. */
		EXPECT_LT(na, (long)(len / page_size / 8));
		ASSERT_EQ(0, unhold(self->fd, g.id));
		ASSERT_EQ(0, unhold(self->fd, m.id));
		munmap(map, file_size);
		close(memfd);
	}
	EXPECT_EQ(held, pins_outstanding());
}

TEST_HARNESS_MAIN
