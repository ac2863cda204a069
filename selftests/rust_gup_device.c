// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/rust_gup as a device: the node, open and release from many threads,
 * the version and stats ioctls, and the errors for bad commands and bad
 * argument pointers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "rust_gup_harness.h"

#define MISC_MAJOR 10

static unsigned int open_files(int fd)
{
	struct rust_gup_stats stats = { .open_files = ~0u };

	if (ioctl(fd, RUST_GUP_IOC_STATS, &stats))
		return ~0u;
	return stats.open_files;
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RUST_GUP_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

/* A root-only misc character device. */
TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat(RUST_GUP_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(MISC_MAJOR, major(st.st_rdev));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
}

/* Without CAP_DAC_OVERRIDE, nobody but root may open it. */
TEST(unprivileged_open_refused)
{
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to drop privileges");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (open(RUST_GUP_DEVICE, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child: 2 setuid failed, 3 open worked, 4 wrong errno");
}

/* The task's flags (field 9 of /proc/self/stat); -1 if unreadable. */
static long task_flags(void)
{
	char buf[1024], *p;
	unsigned long flags;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	/* After the command name, in parentheses: state, then six fields. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return -1;
	return flags;
}

#define PF_SUPERPRIV 0x00000100

/*
 * Opening the device records whether the opener has CAP_IPC_LOCK (for its
 * registrations' RLIMIT_MEMLOCK) without asking for it: capable() would
 * audit every open and mark the task as having used a privilege
 * (PF_SUPERPRIV, in /proc/self/stat's flags), which it has not. A fresh
 * child (fork clears the flag) opens the device and must stay unmarked.
 */
TEST(open_asks_no_capability)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long before = task_flags(), after;
		int fd;

		if (before < 0 || (before & PF_SUPERPRIV))
			_exit(2);
		fd = open(RUST_GUP_DEVICE, O_RDWR);
		if (fd < 0)
			_exit(3);
		after = task_flags();
		close(fd);
		_exit(after >= 0 && !(after & PF_SUPERPRIV) ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 2 flags unreadable or already PF_SUPERPRIV, 3 open failed, 4 the open set PF_SUPERPRIV");
}

TEST_F(dev, version)
{
	struct rust_gup_version v;

	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_VERSION, &v));
	EXPECT_EQ(RUST_GUP_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.reserved);
	/*
	 * FEATURE_COMPAT goes with CONFIG_COMPAT, which x86_64 has exactly
	 * when it runs 32-bit processes (IA32 emulation, whose sysctl
	 * abi.vsyscall32 then exists).
	 */
	EXPECT_EQ(RUST_GUP_FEATURE_MIRROR | RUST_GUP_FEATURE_DMA_MAP | RUST_GUP_FEATURE_OWNER |
		  RUST_GUP_FEATURE_WORKER | RUST_GUP_FEATURE_PID | RUST_GUP_FEATURE_ACCESS |
		  RUST_GUP_FEATURE_REVOKE | RUST_GUP_FEATURE_MIRROR_DMA | RUST_GUP_FEATURE_MEMFD |
		  (access("/proc/sys/abi/vsyscall32", F_OK) ? 0 : RUST_GUP_FEATURE_COMPAT),
		  v.features);
}

/*
 * RUST_GUP_IOC_STATS as ABI version 5 numbered it, with a structure that
 * ended at held_pages, still works: that many bytes are written, no more.
 */
TEST_F(dev, stats_of_abi_version_5)
{
	size_t v5 = offsetof(struct rust_gup_stats, charged_pages);
	struct rust_gup_stats now, old;

	memset(&old, 0xa5, sizeof(old));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &now));
	ASSERT_EQ(0, ioctl(self->fd, _IOC(_IOC_READ, 'g', 0x41, v5), &old));
	EXPECT_EQ(now.open_files, old.open_files);
	EXPECT_EQ(now.held_sets, old.held_sets);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, old.charged_pages);
}

/*
 * RUST_GUP_IOC_STATS as ABI versions 6 to 9 numbered it, with a structure
 * that ended at charged_pages: that many bytes are written, no more.
 */
TEST_F(dev, stats_of_abi_version_9)
{
	size_t v9 = offsetof(struct rust_gup_stats, held_meta_bytes);
	struct rust_gup_stats now, old;

	memset(&old, 0xa5, sizeof(old));
	ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &now));
	ASSERT_EQ(0, ioctl(self->fd, _IOC(_IOC_READ, 'g', 0x41, v9), &old));
	EXPECT_EQ(now.open_files, old.open_files);
	EXPECT_EQ(now.charged_pages, old.charged_pages);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, old.held_meta_bytes);
}

/* Commands the module does not know, of our type and of others. */
TEST_F(dev, unknown_command_is_enotty)
{
	const unsigned long cmds[] = {
		_IO('g', 0x7f),
		_IOR('g', 0x40, __u32),		/* right number, wrong size */
		_IOW('g', 0x40, struct rust_gup_version), /* wrong direction */
		_IOR('x', 0x40, struct rust_gup_version), /* wrong type */
		0,
		~0ul,
	};

	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], NULL)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

/* Output to NULL, to kernel space, or to read-only memory: EFAULT. */
TEST_F(dev, bad_argument_pointer_is_efault)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *const ptrs[] = { NULL, (void *)-4096l, (void *)0xffff880000000000ul, ro };

	ASSERT_NE(MAP_FAILED, ro);
	for (unsigned int i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_VERSION, ptrs[i])) TH_LOG("ptr %p", ptrs[i]);
		EXPECT_EQ(EFAULT, errno) TH_LOG("ptr %p", ptrs[i]);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, RUST_GUP_IOC_STATS, ptrs[i])) TH_LOG("ptr %p", ptrs[i]);
		EXPECT_EQ(EFAULT, errno) TH_LOG("ptr %p", ptrs[i]);
	}
	munmap(ro, 4096);
}

#define THREADS 8
#define ROUNDS 500

static void *open_close_loop(void *arg)
{
	long failures = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		struct rust_gup_version v;
		int fd = open(RUST_GUP_DEVICE, O_RDWR);

		if (fd < 0) {
			failures++;
			continue;
		}
		if (ioctl(fd, RUST_GUP_IOC_VERSION, &v) || v.abi_version != RUST_GUP_ABI_VERSION)
			failures++;
		if (open_files(fd) < 2)	/* this one and the fixture's */
			failures++;
		if (close(fd))
			failures++;
	}
	return (void *)failures;
}

/*
 * Many threads open, use and close the device at once. Afterwards the
 * module counts exactly one open file again (the fixture's): every
 * per-open state was released.
 */
TEST_F(dev, concurrent_open_release)
{
	pthread_t threads[THREADS];
	long total = 0;

	ASSERT_EQ(1, open_files(self->fd));
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, open_close_loop, NULL));
	for (int i = 0; i < THREADS; i++) {
		void *failures;

		ASSERT_EQ(0, pthread_join(threads[i], &failures));
		total += (long)failures;
	}
	EXPECT_EQ(0, total);
	EXPECT_EQ(1, open_files(self->fd));
}

/* A file's state lives until the last reference goes, not until close(). */
TEST_F(dev, state_outlives_close_of_dup)
{
	int fd2 = dup(self->fd);

	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, close(self->fd));
	EXPECT_EQ(1, open_files(fd2));
	self->fd = fd2;
}

TEST_HARNESS_MAIN
