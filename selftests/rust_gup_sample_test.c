// SPDX-License-Identifier: GPL-2.0
/*
 * The sample driver: a copy through pinned pages arrives intact, bad
 * arguments are refused, and every pin it takes is released, on success
 * and on each failure path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup_sample.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#define PAGES 32

FIXTURE(sample) {
	int fd;
	size_t size;
	char *src, *dst;
};

FIXTURE_SETUP(sample)
{
	self->fd = open(RUST_GUP_SAMPLE_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s (is rust_gup_sample loaded?)",
				      RUST_GUP_SAMPLE_DEVICE, strerror(errno));
	self->size = PAGES * getpagesize();
	self->src = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self->dst = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	ASSERT_NE(MAP_FAILED, self->dst);
	for (size_t i = 0; i < self->size; i++)
		self->src[i] = (char)(i * 7 + i / 4096);
}

FIXTURE_TEARDOWN(sample)
{
	munmap(self->src, self->size);
	munmap(self->dst, self->size);
	close(self->fd);
}

static int copy(int fd, void *src, void *dst, size_t len)
{
	struct rust_gup_sample_copy req = {
		.src = (unsigned long)src, .dst = (unsigned long)dst, .len = len,
	};

	return ioctl(fd, RUST_GUP_SAMPLE_COPY, &req) ? -errno : 0;
}

/* The destination is untouched before the copy (never faulted in). */
TEST_F(sample, copy_arrives)
{
	long before = pins_outstanding();

	ASSERT_EQ(0, copy(self->fd, self->src, self->dst, self->size));
	EXPECT_EQ(0, memcmp(self->src, self->dst, self->size));
	EXPECT_EQ(before, pins_outstanding());
}

TEST_F(sample, bad_arguments)
{
	long before = pins_outstanding();
	char *hole = self->src + 8 * getpagesize();

	EXPECT_EQ(-EINVAL, copy(self->fd, self->src, self->dst, 100));
	EXPECT_EQ(-EINVAL, copy(self->fd, self->src, self->dst, 0));
	EXPECT_EQ(-EINVAL, copy(self->fd, self->src + 1, self->dst, getpagesize()));
	EXPECT_EQ(-EFAULT, copy(self->fd, NULL, self->dst, getpagesize()));
	/* A hole in the source: its prefix gets pinned, then released. */
	ASSERT_EQ(0, munmap(hole, getpagesize()));
	EXPECT_EQ(-EFAULT, copy(self->fd, self->src, self->dst, self->size));
	/* A read-only destination: the source pins are released. */
	ASSERT_EQ(0, mprotect(self->dst, self->size, PROT_READ));
	EXPECT_EQ(-EFAULT, copy(self->fd, self->src, self->dst, getpagesize()));
	EXPECT_EQ(-ENOTTY, ioctl(self->fd, _IO('g', 0x81)) ? -errno : 0);
	EXPECT_EQ(before, pins_outstanding());
}

TEST_HARNESS_MAIN
