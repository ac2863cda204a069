// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_LONGTERM registrations, as RDMA memory registration does them:
 * charged to the owner's pinned_vm (VmPin), limited by RLIMIT_MEMLOCK
 * without CAP_IPC_LOCK, all or nothing, and released on unregister, on
 * close and when the owner dies.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "kselftest_harness.h"
#include "rust_gup_util.h"

#define NR_PAGES 16

static long page_size;

/* VmPin of this process, in kB. */
static long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int reg(int fd, void *addr, long pages, __u32 *id)
{
	struct rust_gup_pin pin = {
		.addr = (unsigned long)addr, .size = pages * page_size,
		.op = RUST_GUP_OP_PIN_FAST,
		.flags = RUST_GUP_F_WRITE | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT,
	};

	*id = 0;
	if (ioctl(fd, RUST_GUP_IOC_PIN, &pin))
		return -errno;
	*id = pin.id;
	return pin.size == (unsigned long)pages * page_size ? 0 : -ERANGE;
}

static int unreg(int fd, __u32 id)
{
	return ioctl(fd, RUST_GUP_IOC_UNPIN, &id) ? -errno : 0;
}

/* Drops CAP_IPC_LOCK from the effective set of this process. */
static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data);
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
	ASSERT_EQ(0, unreg(self->fd, a));
	EXPECT_EQ(before + 2 * NR_PAGES * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, unreg(self->fd, b));
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

			if (set_memlock(NR_PAGES * page_size) || (!with_cap && drop_cap_ipc_lock()))
				_exit(10);
			if (reg(self->fd, self->buf, NR_PAGES, &id))
				_exit(11);
			if (vm_pin_kb() != NR_PAGES * page_size / 1024)
				_exit(12);
			if (with_cap) {
				/* Past the limit, allowed by CAP_IPC_LOCK. */
				if (reg(self->fd, self->buf + NR_PAGES * page_size, 1, &extra))
					_exit(13);
				_exit(unreg(self->fd, extra) || unreg(self->fd, id) ? 14 : 0);
			}
			if (reg(self->fd, self->buf + NR_PAGES * page_size, 1, &extra) != -ENOMEM)
				_exit(15);
			if (vm_pin_kb() != NR_PAGES * page_size / 1024)
				_exit(16);	/* the refused one left a charge */
			if (pins_outstanding() != pins + NR_PAGES)
				_exit(17);	/* the refused one left pins */
			if (unreg(self->fd, id) || vm_pin_kb() != 0)
				_exit(18);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("with_cap=%d: child step %d failed",
							  with_cap, WEXITSTATUS(status));
	}
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

TEST_HARNESS_MAIN
