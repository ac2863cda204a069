// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit process on /dev/rust_gup (built with gcc -m32 only).
 *
 * i386 aligns __u64 to 4 bytes, so struct gup_test is 76 bytes here and
 * struct pin_longterm_test 20, against 80 and 24 on x86_64: commands 1 to 7
 * have other numbers. rust_gup answers them, reads and writes only the
 * caller's bytes, and also answers the 64-bit numbers. Each gup_test
 * command also goes to the kernel's C gup_test, and the answers are
 * compared: C's compat_ptr_ioctl() knows only the 64-bit numbers, so it
 * refuses the 32-bit ones with EINVAL, and with the 64-bit numbers both
 * devices answer alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#ifndef __i386__
#error "rust_gup_compat is the 32-bit (gcc -m32) test"
#endif

#define C_GUP_TEST "/sys/kernel/debug/gup_test"
#define NR_PAGES 16

_Static_assert(sizeof(struct gup_test) == RUST_GUP_COMPAT_GUP_TEST_SIZE, "i386 layout");
_Static_assert(sizeof(struct pin_longterm_test) == RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE,
	       "i386 layout");

static const struct {
	const char *name;
	unsigned long cmd;
	__u32 gup_flags;
} gup_cmds[] = {
	{ "GUP_FAST_BENCHMARK", GUP_FAST_BENCHMARK, 0 },
	{ "PIN_FAST_BENCHMARK", PIN_FAST_BENCHMARK, RUST_GUP_FOLL_WRITE },
	{ "PIN_LONGTERM_BENCHMARK", PIN_LONGTERM_BENCHMARK, RUST_GUP_FOLL_WRITE },
	{ "GUP_BASIC_TEST", GUP_BASIC_TEST, 0 },
	{ "PIN_BASIC_TEST", PIN_BASIC_TEST, 0 },
	{ "DUMP_USER_PAGES_TEST", DUMP_USER_PAGES_TEST, 0 },
};

/* The 64-bit number of a command: the same with the x86_64 size. */
static unsigned long native_cmd(unsigned long cmd, unsigned int size)
{
	return (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | (size << _IOC_SIZESHIFT);
}

static const char *result(int ret)
{
	return ret ? strerrorname_np(errno) : "success";
}

FIXTURE(compat)
{
	int fd;
	int c_fd;	/* the kernel's gup_test, or -1 */
	char *buf;
	size_t size;
	long pins;
};

FIXTURE_SETUP(compat)
{
	self->size = NR_PAGES * getpagesize();
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
	self->c_fd = open(C_GUP_TEST, O_RDWR);
	self->buf = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 'a', self->size);
	self->pins = pins_outstanding();
}

FIXTURE_TEARDOWN(compat)
{
	close(self->fd);
	if (self->c_fd >= 0)
		close(self->c_fd);
	munmap(self->buf, self->size);
	EXPECT_EQ(self->pins, pins_outstanding());
}

/* A gup_test structure as the 64-bit numbers carry it: 80 bytes, the same
 * fields at the same offsets, 4 bytes of padding at the end. */
struct gup_test64 {
	struct gup_test gup;
	__u32 tail;
};

/* Command i of gup_cmds on fd, with its number (32-bit or 64-bit): the
 * result, 0 or an errno, and the structure as it came back. */
static int gup_cmd(int fd, unsigned int i, unsigned long cmd, char *buf, size_t size,
		   struct gup_test64 *arg)
{
	*arg = (struct gup_test64){
		.gup = {
			.addr = (uintptr_t)buf, .size = size, .nr_pages_per_call = 4,
			.gup_flags = gup_cmds[i].gup_flags, .which_pages = { 1 },
			.get_delta_usec = ~0ull, .put_delta_usec = ~0ull,
		},
		.tail = 0xdeadbeef,
	};
	return ioctl(fd, cmd, arg) ? errno : 0;
}

/*
 * Commands 1 to 6 on both devices. The numbers a 32-bit build has: rust_gup
 * takes the pages and says so, the C gup_test refuses them (EINVAL). The
 * 64-bit numbers: both take the pages, and say the same of them.
 */
TEST_F(compat, gup_test_commands)
{
	if (self->c_fd < 0)
		SKIP(return, "no %s to compare with (CONFIG_GUP_TEST)", C_GUP_TEST);
	for (unsigned int i = 0; i < sizeof(gup_cmds) / sizeof(gup_cmds[0]); i++) {
		unsigned long cmd = gup_cmds[i].cmd, cmd64 = native_cmd(cmd, 80);
		struct gup_test64 rust, c, rust64, c64;
		int ret = gup_cmd(self->fd, i, cmd, self->buf, self->size, &rust);
		int c_ret = gup_cmd(self->c_fd, i, cmd, self->buf, self->size, &c);
		int ret64 = gup_cmd(self->fd, i, cmd64, self->buf, self->size, &rust64);
		int c_ret64 = gup_cmd(self->c_fd, i, cmd64, self->buf, self->size, &c64);

		printf("# %-22s %#lx: rust_gup %s, C %s; %#lx: rust_gup %s, C %s\n",
		       gup_cmds[i].name, cmd, errname(ret), errname(c_ret), cmd64,
		       errname(ret64), errname(c_ret64));
		EXPECT_EQ(0, ret) TH_LOG("%s", gup_cmds[i].name);
		EXPECT_EQ(self->size, rust.gup.size);
		EXPECT_NE(~0ull, rust.gup.get_delta_usec);
		EXPECT_NE(~0ull, rust.gup.put_delta_usec);
		EXPECT_EQ(0xdeadbeef, rust.tail) TH_LOG("%s: past the caller's 76 bytes",
							gup_cmds[i].name);
		EXPECT_EQ(EINVAL, c_ret) TH_LOG("%s: C gup_test knows the 32-bit number now",
						gup_cmds[i].name);
		EXPECT_EQ(0, ret64) TH_LOG("%s, 64-bit number", gup_cmds[i].name);
		EXPECT_EQ(c_ret64, ret64) TH_LOG("%s, 64-bit number", gup_cmds[i].name);
		EXPECT_EQ(c64.gup.size, rust64.gup.size) TH_LOG("%s", gup_cmds[i].name);
		EXPECT_EQ(c64.gup.which_pages[0], rust64.gup.which_pages[0]);
		EXPECT_NE(~0ull, rust64.gup.get_delta_usec);
		EXPECT_NE(~0ull, c64.gup.get_delta_usec);
	}
}

/* PIN_LONGTERM_TEST_START/READ/STOP with the 32-bit numbers. */
TEST_F(compat, longterm_test)
{
	struct pin_longterm_test lt = {
		.addr = (uintptr_t)self->buf, .size = self->size,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	char *copy = malloc(self->size);
	__u64 dest = (uintptr_t)copy;
	int ret;

	ASSERT_NE(NULL, copy);
	memset(copy, 0, self->size);
	ret = ioctl(self->fd, PIN_LONGTERM_TEST_START, &lt);
	ASSERT_EQ(0, ret) TH_LOG("PIN_LONGTERM_TEST_START (%#lx): %s",
				 (unsigned long)PIN_LONGTERM_TEST_START, result(ret));
	EXPECT_EQ(self->pins + NR_PAGES, pins_outstanding());
	EXPECT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_READ, &dest));
	EXPECT_EQ(0, memcmp(copy, self->buf, self->size));
	EXPECT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
	printf("# PIN_LONGTERM_TEST_START %#lx: rust_gup success\n",
	       (unsigned long)PIN_LONGTERM_TEST_START);
	free(copy);
	if (self->c_fd < 0)
		SKIP(return, "no %s to compare with (CONFIG_GUP_TEST)", C_GUP_TEST);
	/* The C gup_test does not know the 32-bit number. */
	ret = ioctl(self->c_fd, PIN_LONGTERM_TEST_START, &lt) ? errno : 0;
	printf("# PIN_LONGTERM_TEST_START %#lx: C gup_test %s\n",
	       (unsigned long)PIN_LONGTERM_TEST_START, errname(ret));
	if (!ret)
		ioctl(self->c_fd, PIN_LONGTERM_TEST_STOP);
	EXPECT_EQ(EINVAL, ret);
}

/*
 * The structure ends on a page whose successor is PROT_NONE: writing back
 * more than the caller's 76 (or 20) bytes would fault, and the command
 * fail with EFAULT.
 */
TEST_F(compat, only_the_callers_bytes)
{
	long page = getpagesize();
	char *area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct gup_test *gup;
	struct pin_longterm_test *lt;

	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, mprotect(area + page, page, PROT_NONE));
	gup = (struct gup_test *)(area + page - sizeof(*gup));
	*gup = (struct gup_test) {
		.addr = (uintptr_t)self->buf, .size = self->size, .nr_pages_per_call = 1,
	};
	EXPECT_EQ(0, ioctl(self->fd, PIN_FAST_BENCHMARK, gup)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(self->size, gup->size);

	lt = (struct pin_longterm_test *)(area + page - sizeof(*lt));
	*lt = (struct pin_longterm_test) { .addr = (uintptr_t)self->buf, .size = self->size };
	EXPECT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_START, lt)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, ioctl(self->fd, PIN_LONGTERM_TEST_STOP));
	munmap(area, 2 * page);
}

/*
 * The 64-bit numbers work from a 32-bit process too, on an 80-byte
 * structure, and the 4 bytes past the 76 come back as they were.
 */
TEST_F(compat, native_numbers)
{
	struct {
		struct gup_test gup;
		__u32 tail;
	} arg = {
		.gup = { .addr = (uintptr_t)self->buf, .size = self->size, .nr_pages_per_call = 512 },
		.tail = 0xdeadbeef,
	};
	unsigned long cmd = native_cmd(GUP_FAST_BENCHMARK, sizeof(arg));

	ASSERT_EQ(80, sizeof(arg));
	ASSERT_NE(GUP_FAST_BENCHMARK, cmd);
	EXPECT_EQ(0, ioctl(self->fd, cmd, &arg)) TH_LOG("%#lx: %s", cmd, strerror(errno));
	EXPECT_EQ(self->size, arg.gup.size);
	EXPECT_EQ(0xdeadbeef, arg.tail);
	/* Any other size is not a gup_test command. */
	EXPECT_EQ(-1, ioctl(self->fd, native_cmd(GUP_FAST_BENCHMARK, 72), &arg));
	EXPECT_EQ(ENOTTY, errno);
}

/* rust_gup's own commands: one layout, the same numbers as in 64-bit. */
TEST_F(compat, own_commands)
{
	struct rust_gup_version version;
	struct rust_gup_page_info info[NR_PAGES];
	__u32 id;
	long pages;

	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_VERSION, &version));
	EXPECT_EQ(RUST_GUP_ABI_VERSION, version.abi_version);
	EXPECT_NE(0, version.features & RUST_GUP_FEATURE_COMPAT);
	ASSERT_EQ(0, hold(self->fd, self->buf, self->size, RUST_GUP_OP_PIN_FAST,
			  RUST_GUP_F_WRITE, &id, &pages));
	EXPECT_EQ(NR_PAGES, pages);
	EXPECT_EQ(NR_PAGES, query(self->fd, id, info, NR_PAGES));
	for (int i = 0; i < NR_PAGES; i++)
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED);
	EXPECT_EQ(self->pins + NR_PAGES, pins_outstanding());
	EXPECT_EQ(0, unhold(self->fd, id));
}

TEST_HARNESS_MAIN
