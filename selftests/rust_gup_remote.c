// SPDX-License-Identifier: GPL-2.0
/*
 * Remote pins on the owner's address space.
 *
 * A file of /dev/rust_gup records its owner when it is opened: the
 * opener's address space, its thread-group leader and whether it had
 * CAP_IPC_LOCK. RUST_GUP_OP_PIN_REMOTE and _GET_REMOTE work on that
 * address space whoever calls, as VFIO and RDMA pin memory recorded at
 * registration time from another context:
 *
 * - a child that inherited the file pins its parent's memory: memory the
 *   parent mapped after the fork, which the child does not have, so its
 *   own pins of the same address fail (EFAULT). The parent sees the
 *   child's set with its own pfns, DMA-pinned;
 * - so does a process that received the file over SCM_RIGHTS;
 * - RUST_GUP_F_ACCOUNT charges the owner's VmPin, never the caller's, and
 *   the owner's RLIMIT_MEMLOCK applies, with the owner's CAP_IPC_LOCK as
 *   it was at open: a privileged caller does not lift it;
 * - once the owner has exited, remote pins fail with ESRCH; the pins taken
 *   before stay, QUERY still describes them, and closing the file releases
 *   them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/rust_gup.h>

#include "kselftest_harness.h"
#include "rust_gup_util.h"

#define N 16

static long page_size;

/* What a caller reports back to the test over a pipe. */
struct report {
	int local;	/* its own PIN_FAST of the address: 0 or -errno */
	int remote;	/* its PIN_REMOTE: 0 or -errno */
	__u32 id;	/* the remote pin's set */
	long pages;	/* pages it took */
	long vm_pin_before, vm_pin_after;	/* its own VmPin, kB */
};

static int send_fd(int sock, int fd)
{
	char data = 0, control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char data, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/*
 * fork() for a helper process: it dies with the test (a failed assertion
 * leaves the test early), so no helper is left blocked on a socket.
 */
static pid_t fork_helper(void)
{
	pid_t pid = fork();

	if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL))
		_exit(99);
	return pid;
}

static int read_all(int fd, void *buf, size_t len)
{
	return read(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/*
 * In the caller: pins [addr, addr + N pages) of the owner through fd with
 * flags, after trying its own PIN_FAST of the address, and reports.
 */
static struct report caller_pins(int fd, unsigned long addr, __u32 flags)
{
	struct report r = { .vm_pin_before = vm_pin_kb() };
	__u32 id;
	long got;

	r.local = hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_PIN_FAST, 0, &id, &got);
	if (!r.local)
		unhold(fd, id);
	r.remote = hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_PIN_REMOTE, flags,
			&r.id, &r.pages);
	r.vm_pin_after = vm_pin_kb();
	return r;
}

/* A fresh mapping of N pages, each filled with its index. */
static char *fresh_pages(void)
{
	char *p = mmap(NULL, N * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (int i = 0; i < N; i++)
		memset(p + i * page_size, i + 1, page_size);
	return p;
}

/* Set `id` is pinned and holds the same pages as the caller's own `mem`. */
static void expect_same_pages(struct __test_metadata *_metadata, int fd, __u32 id, char *mem)
{
	struct rust_gup_page_info theirs[N], mine[N];
	__u32 own;
	long got;

	ASSERT_EQ(N, query(fd, id, theirs, N));
	ASSERT_EQ(0, hold(fd, mem, N * page_size, RUST_GUP_OP_PIN_FAST, 0, &own, &got));
	ASSERT_EQ(N, query(fd, own, mine, N));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(mine[i].pfn, theirs[i].pfn) TH_LOG("page %d", i);
		EXPECT_TRUE(theirs[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
	}
	EXPECT_EQ(0, unhold(fd, own));
}

/*
 * Forks a child, which inherits fd, then maps N fresh pages (after the
 * fork: the child does not have them) and has the child pin them with
 * caller_pins(flags). Returns the mapping, and the child's report in *r.
 */
static char *child_pins(struct __test_metadata *_metadata, int fd, __u32 flags, struct report *r)
{
	int to_child[2], to_parent[2], status;
	unsigned long addr;
	char *mem;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_helper();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (read_all(to_child[0], &addr, sizeof(addr)))
			_exit(1);
		*r = caller_pins(fd, addr, flags);
		_exit(write_all(to_parent[1], r, sizeof(*r)) ? 2 : 0);
	}
	/* The child's ends: a child that fails early is then seen as EOF. */
	close(to_child[0]);
	close(to_parent[1]);
	mem = fresh_pages();
	ASSERT_NE(NULL, mem);
	addr = (unsigned long)mem;
	ASSERT_EQ(0, write_all(to_child[1], &addr, sizeof(addr)));
	ASSERT_EQ(0, read_all(to_parent[0], r, sizeof(*r)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	close(to_child[1]);
	close(to_parent[0]);
	return mem;
}

FIXTURE(remote) {
	int fd;
	long pins;
};

FIXTURE_SETUP(remote)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->pins = pins_outstanding();
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(remote)
{
	close(self->fd);
	EXPECT_EQ(self->pins, pins_outstanding());
}

/*
 * A child that inherited the file pins, long-term, memory the parent mapped
 * after the fork: the owner's pages, not its own (it has none there).
 */
TEST_F(remote, child_pins_the_owners_memory)
{
	struct report r;
	char *mem = child_pins(_metadata, self->fd, RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE, &r);

	EXPECT_EQ(-EFAULT, r.local);
	ASSERT_EQ(0, r.remote);
	ASSERT_EQ(N, r.pages);
	/* The set outlives the child: it belongs to the file. */
	expect_same_pages(_metadata, self->fd, r.id, mem);
	EXPECT_EQ(0, unhold(self->fd, r.id));
	munmap(mem, N * page_size);
}

/*
 * A process that did not inherit the file, and got it over SCM_RIGHTS,
 * pins the owner's memory the same way.
 */
TEST_F(remote, scm_rights_receiver_pins_the_owners_memory)
{
	int sock[2], status, fd;
	unsigned long addr;
	struct report r;
	char *mem;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	pid = fork_helper();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(self->fd);	/* only the file it is sent */
		fd = recv_fd(sock[1]);
		if (fd < 0 || read_all(sock[1], &addr, sizeof(addr)))
			_exit(1);
		r = caller_pins(fd, addr, RUST_GUP_F_LONGTERM);
		_exit(write_all(sock[1], &r, sizeof(r)) ? 2 : 0);
	}
	close(sock[1]);
	/* Opened after the fork: the receiver never had it. */
	fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(fd, 0);
	mem = fresh_pages();
	ASSERT_NE(NULL, mem);
	addr = (unsigned long)mem;
	ASSERT_EQ(0, send_fd(sock[0], fd));
	ASSERT_EQ(0, write_all(sock[0], &addr, sizeof(addr)));
	ASSERT_EQ(0, read_all(sock[0], &r, sizeof(r)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	EXPECT_EQ(-EFAULT, r.local);
	ASSERT_EQ(0, r.remote);
	ASSERT_EQ(N, r.pages);
	expect_same_pages(_metadata, fd, r.id, mem);
	close(fd);
	munmap(mem, N * page_size);
}

/* A remote registration is charged to the owner's VmPin, not the caller's. */
TEST_F(remote, account_charges_the_owner)
{
	long before = vm_pin_kb();
	struct report r;
	char *mem = child_pins(_metadata, self->fd, RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE |
			       RUST_GUP_F_DIRTY | RUST_GUP_F_ACCOUNT, &r);

	ASSERT_EQ(0, r.remote);
	TH_LOG("VmPin: owner %ld -> %ld kB, caller %ld -> %ld kB", before, vm_pin_kb(),
	       r.vm_pin_before, r.vm_pin_after);
	EXPECT_EQ(before + N * page_size / 1024, vm_pin_kb());
	EXPECT_EQ(r.vm_pin_before, r.vm_pin_after);
	EXPECT_EQ(0, unhold(self->fd, r.id));
	EXPECT_EQ(before, vm_pin_kb());
	munmap(mem, N * page_size);
}

/*
 * The owner's RLIMIT_MEMLOCK applies to a remote registration, and its
 * CAP_IPC_LOCK as it was at open: an owner without it gets ENOMEM past its
 * limit, even from a caller with CAP_IPC_LOCK and no limit of its own.
 * Nothing is left pinned or charged.
 */
TEST_F(remote, account_past_the_owners_limit)
{
	int sock[2], status;
	pid_t owner;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	owner = fork_helper();
	ASSERT_GE(owner, 0);
	if (owner == 0) {
		/* The owner: N pages of memlock, no CAP_IPC_LOCK. */
		close(sock[0]);
		struct rlimit rl = { N * page_size, RLIM_INFINITY };
		unsigned long addr;
		long vm_pin[2];
		char *mem, go;
		int fd;

		if (setrlimit(RLIMIT_MEMLOCK, &rl) || drop_cap(CAP_IPC_LOCK))
			_exit(1);
		fd = open(RUST_GUP_DEVICE, O_RDWR);
		mem = mmap(NULL, 4 * N * page_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (fd < 0 || mem == MAP_FAILED)
			_exit(2);
		addr = (unsigned long)mem;
		if (send_fd(sock[1], fd) || write_all(sock[1], &addr, sizeof(addr)))
			_exit(3);
		/* Report VmPin when asked, twice, then wait to be killed. */
		for (int i = 0; i < 2; i++) {
			if (read_all(sock[1], &go, 1))
				_exit(4);
			vm_pin[i] = vm_pin_kb();
			if (write_all(sock[1], &vm_pin[i], sizeof(vm_pin[i])))
				_exit(5);
		}
		pause();
		_exit(0);
	}
	close(sock[1]);
	{
		/* The caller: the test, with CAP_IPC_LOCK and no limit. */
		struct rust_gup_pin pin = {
			.size = 4 * N * page_size, .op = RUST_GUP_OP_PIN_REMOTE,
			.flags = RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT,
		};
		long pins = pins_outstanding(), vm_pin;
		unsigned long addr;
		int fd = recv_fd(sock[0]);

		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, read_all(sock[0], &addr, sizeof(addr)));
		pin.addr = addr;
		EXPECT_EQ(-1, ioctl(fd, RUST_GUP_IOC_PIN, &pin));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(pins, pins_outstanding());
		ASSERT_EQ(0, write_all(sock[0], "?", 1));
		ASSERT_EQ(0, read_all(sock[0], &vm_pin, sizeof(vm_pin)));
		EXPECT_EQ(0, vm_pin) TH_LOG("the owner's VmPin after the refused registration");

		/* Within the limit it is taken, and charged to the owner. */
		pin.size = N * page_size;
		ASSERT_EQ(0, ioctl(fd, RUST_GUP_IOC_PIN, &pin));
		ASSERT_EQ(0, write_all(sock[0], "?", 1));
		ASSERT_EQ(0, read_all(sock[0], &vm_pin, sizeof(vm_pin)));
		EXPECT_EQ(N * page_size / 1024, vm_pin);
		close(fd);
	}
	kill(owner, SIGKILL);
	ASSERT_EQ(owner, waitpid(owner, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("owner exited with %d", WEXITSTATUS(status));
}

/*
 * After the owner has exited, remote pins fail with ESRCH. The pins taken
 * before stay (QUERY still describes them, DMA-pinned) until the file is
 * closed.
 */
TEST_F(remote, owner_exit)
{
	struct rust_gup_page_info info[N];
	int sock[2], status, fd;
	unsigned long addr;
	struct report r;
	__u32 id;
	long got;
	pid_t owner;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	owner = fork_helper();
	ASSERT_GE(owner, 0);
	if (owner == 0) {
		char *mem = fresh_pages();

		close(sock[0]);
		fd = open(RUST_GUP_DEVICE, O_RDWR);
		if (!mem || fd < 0)
			_exit(1);
		/* A registration of its own, through the remote op. */
		r = caller_pins(fd, (unsigned long)mem, RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT);
		addr = (unsigned long)mem;
		if (r.remote || send_fd(sock[1], fd) || write_all(sock[1], &addr, sizeof(addr)) ||
		    write_all(sock[1], &r, sizeof(r)))
			_exit(2);
		_exit(0);
	}
	close(sock[1]);
	fd = recv_fd(sock[0]);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, read_all(sock[0], &addr, sizeof(addr)));
	ASSERT_EQ(0, read_all(sock[0], &r, sizeof(r)));
	ASSERT_EQ(owner, waitpid(owner, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(N * page_size / 1024, r.vm_pin_after - r.vm_pin_before);

	EXPECT_EQ(-ESRCH, hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_PIN_REMOTE,
			       RUST_GUP_F_LONGTERM, &id, &got));
	EXPECT_EQ(-ESRCH, hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_GET_REMOTE, 0,
			       &id, &got));
	ASSERT_EQ(N, query(fd, r.id, info, N));
	for (int i = 0; i < N; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
	}
	EXPECT_EQ(self->pins + N, pins_outstanding());
	close(fd);
}

TEST_HARNESS_MAIN
