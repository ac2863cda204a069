// SPDX-License-Identifier: GPL-2.0
/*
 * The memory-registration sample (samples/rust_gup_mr.rs): a registered
 * region is charged to VmPin; what the "device" writes into it through the
 * long-term pins shows in the process's memory, and what the process
 * writes, the device reads; read-only regions refuse device writes; and
 * every pin and charge goes on deregister or close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup_mr.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#define PAGES 16

FIXTURE(mr) {
	int fd;
	size_t size;
	char *buf;
};

FIXTURE_SETUP(mr)
{
	self->fd = open(RUST_GUP_MR_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s (is rust_gup_mr loaded?)", RUST_GUP_MR_DEVICE,
				      strerror(errno));
	self->size = PAGES * getpagesize();
	self->buf = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, '.', self->size);
}

FIXTURE_TEARDOWN(mr)
{
	munmap(self->buf, self->size);
	close(self->fd);
}

static int reg(int fd, void *addr, size_t len, __u32 access, __u32 *key)
{
	struct rust_gup_mr_reg r = { .addr = (unsigned long)addr, .len = len, .access = access };

	*key = 0;
	if (ioctl(fd, RUST_GUP_MR_REG, &r))
		return -errno;
	*key = r.key;
	return 0;
}

static int xfer(int fd, unsigned long cmd, __u32 key, size_t offset, void *buf, size_t len)
{
	struct rust_gup_mr_xfer x = {
		.key = key, .offset = offset, .len = len, .buf = (unsigned long)buf,
	};

	return ioctl(fd, cmd, &x) ? -errno : 0;
}

TEST_F(mr, device_and_process_share_the_region)
{
	const char msg[] = "written by the device, across a page boundary";
	size_t at = getpagesize() - 10;
	long vm_pin = vm_pin_kb(), pins = pins_outstanding();
	char back[sizeof(msg)];
	__u32 key, dereg;

	ASSERT_EQ(0, reg(self->fd, self->buf, self->size, RUST_GUP_MR_ACCESS_WRITE, &key));
	EXPECT_EQ(vm_pin + (long)self->size / 1024, vm_pin_kb());
	EXPECT_EQ(pins + PAGES, pins_outstanding());

	ASSERT_EQ(0, xfer(self->fd, RUST_GUP_MR_WRITE, key, at, (void *)msg, sizeof(msg)));
	EXPECT_EQ(0, memcmp(self->buf + at, msg, sizeof(msg)));
	EXPECT_EQ('.', self->buf[at - 1]);

	memcpy(self->buf + 3 * getpagesize(), "from the process", 17);
	ASSERT_EQ(0, xfer(self->fd, RUST_GUP_MR_READ, key, 3 * getpagesize(), back, 17));
	EXPECT_STREQ("from the process", back);

	dereg = key;
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_MR_DEREG, &dereg));
	EXPECT_EQ(vm_pin, vm_pin_kb());
	EXPECT_EQ(pins, pins_outstanding());
}

TEST_F(mr, read_only_region_refuses_device_writes)
{
	char byte = 'x';
	__u32 key;

	ASSERT_EQ(0, reg(self->fd, self->buf, self->size, 0, &key));
	EXPECT_EQ(-EPERM, xfer(self->fd, RUST_GUP_MR_WRITE, key, 0, &byte, 1));
	EXPECT_EQ(0, xfer(self->fd, RUST_GUP_MR_READ, key, 0, &byte, 1));
	EXPECT_EQ('.', byte);
	EXPECT_EQ('.', self->buf[0]);
}

TEST_F(mr, bad_arguments)
{
	char byte;
	__u32 key, none = 99;

	EXPECT_EQ(-EINVAL, reg(self->fd, self->buf, 100, 0, &key));
	EXPECT_EQ(-EINVAL, reg(self->fd, self->buf, self->size, 2, &key));
	EXPECT_EQ(-EINVAL, reg(self->fd, self->buf + 1, self->size, 0, &key));
	ASSERT_EQ(0, reg(self->fd, self->buf, self->size, RUST_GUP_MR_ACCESS_WRITE, &key));
	EXPECT_EQ(-EINVAL, xfer(self->fd, RUST_GUP_MR_READ, key, self->size, &byte, 1));
	EXPECT_EQ(-EINVAL, xfer(self->fd, RUST_GUP_MR_READ, key, ~0ul, &byte, 2));
	EXPECT_EQ(-ENOENT, xfer(self->fd, RUST_GUP_MR_READ, key + 1, 0, &byte, 1));
	EXPECT_EQ(-EFAULT, xfer(self->fd, RUST_GUP_MR_WRITE, key, 0, NULL, 1));
	EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_MR_DEREG, &none));
	EXPECT_EQ(ENOENT, errno);
}

/* Closing the file deregisters everything: pins and charge. */
TEST_F(mr, close_releases)
{
	long vm_pin = vm_pin_kb(), pins = pins_outstanding();
	int fd2 = open(RUST_GUP_MR_DEVICE, O_RDWR);
	__u32 key;

	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, reg(fd2, self->buf, self->size, RUST_GUP_MR_ACCESS_WRITE, &key));
	ASSERT_EQ(0, reg(fd2, self->buf, self->size, 0, &key));
	EXPECT_EQ(pins + 2 * PAGES, pins_outstanding());
	ASSERT_EQ(0, close(fd2));
	EXPECT_EQ(vm_pin, vm_pin_kb());
	EXPECT_EQ(pins, pins_outstanding());
}

TEST_HARNESS_MAIN
