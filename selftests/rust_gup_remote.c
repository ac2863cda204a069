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
 *   before stay, QUERY still describes them, RUST_GUP_IOC_ACCESS still
 *   reads their data, and closing the file releases them and the charge;
 * - RUST_GUP_F_WORKER has a kernel worker take the pages: nothing in the
 *   remote path depends on the calling task; the caller's wait for it is
 *   interruptible, and the worker releases what it took if nobody waits;
 * - RUST_GUP_F_PID names a process that never opened the device, for a
 *   caller with CAP_SYS_PTRACE only; a thread's id or a kernel thread's
 *   names nothing;
 * - owner exit racing remote pins, in a loop, leaks nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/rust_gup.h>

#include "rust_gup_harness.h"
#include "rust_gup_util.h"

#define N 16

/* What a caller writes through a pin: into page 1, at byte MARK_AT. */
#define MARK "written through the pin"
#define MARK_AT 100

static long page_size;

/* What a caller reports back to the test over a pipe. */
struct report {
	int local;	/* its own PIN_FAST of the address: 0 or -errno */
	int remote;	/* its PIN_REMOTE: 0 or -errno */
	__u32 id;	/* the remote pin's set */
	long pages;	/* pages it took */
	long vm_pin_before, vm_pin_after;	/* its own VmPin, kB */
	int read;	/* RUST_GUP_IOC_ACCESS read of page 3's first byte: 0 or -errno */
	char seen;	/* what it read: the owner's 4 (see fresh_pages()) */
	int wrote;	/* RUST_GUP_IOC_ACCESS write of MARK: 0 or -errno */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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
	if (!r.remote) {
		r.read = set_access(fd, r.id, 0, 3 * page_size, &r.seen, 1);
		r.wrote = set_access(fd, r.id, 1, page_size + MARK_AT, MARK, sizeof(MARK));
	}
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
	long pins, charged;
};

FIXTURE_SETUP(remote)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->pins = pins_outstanding();
	self->fd = open(RUST_GUP_DEVICE, O_RDWR);
	ASSERT_GE(self->fd, 0);
	self->charged = charged_pages(self->fd);
	ASSERT_GE(self->charged, 0);
}

FIXTURE_TEARDOWN(remote)
{
	EXPECT_EQ(self->charged, charged_pages(self->fd));
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
	/* It reads the owner's data through the pin; it may not write
	 * without RUST_GUP_F_DIRTY. */
	EXPECT_EQ(0, r.read);
	EXPECT_EQ(4, r.seen);
	EXPECT_EQ(-EPERM, r.wrote);
	EXPECT_EQ(2, mem[page_size + MARK_AT]);
	/* The set outlives the child: it belongs to the file. */
	expect_same_pages(_metadata, self->fd, r.id, mem);
	EXPECT_EQ(0, unhold(self->fd, r.id));
	munmap(mem, N * page_size);
}

/*
 * A write through the child's pin (RUST_GUP_F_WRITE and _DIRTY), as a
 * device's DMA would make it, is in the parent's memory.
 */
TEST_F(remote, child_writes_through_the_pin)
{
	struct report r;
	char *mem = child_pins(_metadata, self->fd,
			       RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY, &r);

	ASSERT_EQ(0, r.remote);
	ASSERT_EQ(N, r.pages);
	EXPECT_EQ(0, r.read);
	EXPECT_EQ(4, r.seen);
	ASSERT_EQ(0, r.wrote);
	EXPECT_STREQ(MARK, mem + page_size + MARK_AT);
	expect_same_pages(_metadata, self->fd, r.id, mem);
	EXPECT_EQ(0, unhold(self->fd, r.id));
	munmap(mem, N * page_size);
}

/*
 * RUST_GUP_F_WORKER: a kernel worker takes the owner's pages and charges
 * the owner, for a child that asks; the same pages, the same charge, and
 * none on the child.
 */
TEST_F(remote, worker_pins_the_owners_memory)
{
	long before = vm_pin_kb();
	struct report r;
	char *mem = child_pins(_metadata, self->fd, RUST_GUP_F_WORKER | RUST_GUP_F_LONGTERM |
			       RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY | RUST_GUP_F_ACCOUNT, &r);

	EXPECT_EQ(-EFAULT, r.local);
	ASSERT_EQ(0, r.remote);
	ASSERT_EQ(N, r.pages);
	TH_LOG("VmPin: owner %ld -> %ld kB, caller %ld -> %ld kB", before, vm_pin_kb(),
	       r.vm_pin_before, r.vm_pin_after);
	EXPECT_EQ(before + N * page_size / 1024, vm_pin_kb());
	EXPECT_EQ(r.vm_pin_before, r.vm_pin_after);
	EXPECT_EQ(self->charged + N, charged_pages(self->fd));
	ASSERT_EQ(0, r.wrote);
	EXPECT_STREQ(MARK, mem + page_size + MARK_AT);
	expect_same_pages(_metadata, self->fd, r.id, mem);
	EXPECT_EQ(0, unhold(self->fd, r.id));
	EXPECT_EQ(before, vm_pin_kb());
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
	EXPECT_EQ(4, r.seen);
	EXPECT_EQ(-EPERM, r.wrote);
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
 * After the owner has exited, remote pins fail with ESRCH, from a kernel
 * worker too. The pins taken before stay until the file is closed: QUERY
 * still describes them, DMA-pinned, their data is still read through them,
 * and the owner's charge is held until then.
 */
TEST_F(remote, owner_exit)
{
	struct rust_gup_page_info info[N];
	int sock[2], status, fd;
	char *data = malloc(N * page_size);
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
	EXPECT_EQ(-ESRCH, hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_PIN_REMOTE,
			       RUST_GUP_F_WORKER | RUST_GUP_F_LONGTERM, &id, &got));
	ASSERT_EQ(N, query(fd, r.id, info, N));
	for (int i = 0; i < N; i++) {
		EXPECT_TRUE(info[i].flags & RUST_GUP_PAGE_DMA_PINNED) TH_LOG("page %d", i);
	}
	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, set_access(fd, r.id, 0, 0, data, N * page_size));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(i + 1, data[i * page_size]) TH_LOG("page %d", i);
		EXPECT_EQ(i + 1, data[(i + 1) * page_size - 1]) TH_LOG("page %d", i);
	}
	EXPECT_EQ(self->pins + N, pins_outstanding());
	EXPECT_EQ(self->charged + N, charged_pages(self->fd));
	close(fd);
	free(data);
}

/*
 * A process that never opened the device, named by its pid: with
 * CAP_SYS_PTRACE, a remote long-term registration of its memory is taken
 * and charged to it; a write through the pin is in its memory; after it
 * exits, the data is still read through the set, and closing gives the
 * charge back.
 */
TEST_F(remote, pid_named_process)
{
	int to_target[2], to_test[2], status;
	long mine = vm_pin_kb(), theirs;
	unsigned long addr;
	char *data = malloc(N * page_size);
	__u32 id, other;
	long got;
	pid_t target;

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, pipe(to_target));
	ASSERT_EQ(0, pipe(to_test));
	target = fork_helper();
	ASSERT_GE(target, 0);
	if (target == 0) {
		char *mem = fresh_pages(), go;

		close(self->fd);	/* it has no file of the device */
		addr = (unsigned long)mem;
		if (!mem || write_all(to_test[1], &addr, sizeof(addr)) ||
		    read_all(to_target[0], &go, 1))
			_exit(1);
		/* The test wrote through its pin: check it here. */
		_exit(strcmp(mem + page_size + MARK_AT, MARK) ? 2 : 0);
	}
	close(to_test[1]);
	close(to_target[0]);
	ASSERT_EQ(0, read_all(to_test[0], &addr, sizeof(addr)));
	theirs = vm_pin_kb_of(target);

	ASSERT_EQ(0, hold_pid(self->fd, target, (void *)addr, N * page_size,
			      RUST_GUP_OP_PIN_REMOTE, RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE |
			      RUST_GUP_F_DIRTY | RUST_GUP_F_ACCOUNT, &id, &got));
	ASSERT_EQ(N, got);
	TH_LOG("VmPin: target %ld -> %ld kB, caller %ld -> %ld kB", theirs,
	       vm_pin_kb_of(target), mine, vm_pin_kb());
	EXPECT_EQ(theirs + N * page_size / 1024, vm_pin_kb_of(target));
	EXPECT_EQ(mine, vm_pin_kb());
	ASSERT_EQ(0, set_access(self->fd, id, 1, page_size + MARK_AT, MARK, sizeof(MARK)));
	ASSERT_EQ(0, write_all(to_target[1], "!", 1));
	ASSERT_EQ(target, waitpid(target, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the target did not see the write");

	/* It has exited: the set is still there, and so is the charge. */
	EXPECT_EQ(-ESRCH, hold_pid(self->fd, target, (void *)addr, N * page_size,
				   RUST_GUP_OP_GET_REMOTE, 0, &other, &got));
	ASSERT_EQ(0, set_access(self->fd, id, 0, 0, data, N * page_size));
	EXPECT_EQ(4, data[3 * page_size]);
	EXPECT_STREQ(MARK, data + page_size + MARK_AT);
	EXPECT_EQ(self->charged + N, charged_pages(self->fd));
	EXPECT_EQ(0, unhold(self->fd, id));
	EXPECT_EQ(self->charged, charged_pages(self->fd));
	close(to_target[1]);
	close(to_test[0]);
	free(data);
}

/*
 * Without CAP_SYS_PTRACE, RUST_GUP_F_PID is refused before the pid is
 * looked up: for another process, for the caller itself, and for a pid
 * that names nothing.
 */
TEST_F(remote, pid_without_cap_sys_ptrace)
{
	int status;
	pid_t pid = fork_helper();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char *mem = fresh_pages();
		pid_t pids[] = { getppid(), getpid(), 1 << 30 };
		__u32 id;
		long got;
		int fd;

		if (!mem || drop_cap(CAP_SYS_PTRACE))
			_exit(1);
		fd = open(RUST_GUP_DEVICE, O_RDWR);
		if (fd < 0)
			_exit(2);
		for (int i = 0; i < 3; i++)
			if (hold_pid(fd, pids[i], mem, N * page_size, RUST_GUP_OP_PIN_REMOTE,
				     RUST_GUP_F_LONGTERM, &id, &got) != -EPERM)
				_exit(10 + i);
		/* The owner path needs no capability. */
		if (hold(fd, mem, N * page_size, RUST_GUP_OP_PIN_REMOTE, RUST_GUP_F_LONGTERM,
			 &id, &got))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("10 + i: case i was not EPERM");
}

static void *sleeper(void *arg)
{
	int *fds = arg;
	pid_t tid = gettid();
	char go;

	if (write(fds[1], &tid, sizeof(tid)) == sizeof(tid))
		(void)!read(fds[0], &go, 1);
	return NULL;
}

/*
 * Only a process id names a process: another thread's id names nothing
 * (as for pidfd_open()), nor does a kernel thread, which has no user
 * address space.
 */
TEST_F(remote, pid_of_a_thread_or_kernel_thread)
{
	int to_main[2], to_thread[2], fds[2];
	char *mem = fresh_pages();
	pthread_t thread;
	__u32 id;
	long got;
	pid_t tid;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, pipe(to_main));
	ASSERT_EQ(0, pipe(to_thread));
	fds[0] = to_thread[0];
	fds[1] = to_main[1];
	ASSERT_EQ(0, pthread_create(&thread, NULL, sleeper, fds));
	ASSERT_EQ(sizeof(tid), read(to_main[0], &tid, sizeof(tid)));
	ASSERT_NE(getpid(), tid);
	EXPECT_EQ(-ESRCH, hold_pid(self->fd, tid, mem, N * page_size, RUST_GUP_OP_PIN_REMOTE,
				   RUST_GUP_F_LONGTERM, &id, &got));
	/* kthreadd */
	EXPECT_EQ(-ESRCH, hold_pid(self->fd, 2, mem, N * page_size, RUST_GUP_OP_GET_REMOTE, 0,
				   &id, &got));
	/* The process's own id does name it. */
	ASSERT_EQ(0, hold_pid(self->fd, getpid(), mem, N * page_size, RUST_GUP_OP_PIN_REMOTE,
			      RUST_GUP_F_LONGTERM, &id, &got));
	EXPECT_EQ(N, got);
	expect_same_pages(_metadata, self->fd, id, mem);
	EXPECT_EQ(0, unhold(self->fd, id));
	ASSERT_EQ(1, write(to_thread[1], "!", 1));
	pthread_join(thread, NULL);
	munmap(mem, N * page_size);
}

static void on_alarm(int sig)
{
}

/*
 * The wait for a kernel worker is interruptible: a signal (not only a
 * fatal one) ends it with EINTR, while the worker goes on to its end and
 * then releases what it took, and its charge. Pinning in the caller, a
 * signal that does not kill would not stop GUP: this tells the two apart.
 */
TEST_F_TIMEOUT(remote, worker_wait_is_interruptible, 300)
{
	size_t size = 256ul << 20;
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval at = { .it_value = { .tv_usec = 100000 } };
	char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct rust_gup_stats s;
	double t0, t1;
	int err, i;
	__u32 id;
	long got;

	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &at, NULL));
	t0 = now_s();
	err = hold(self->fd, mem, size, RUST_GUP_OP_PIN_REMOTE, RUST_GUP_F_WORKER |
		   RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE | RUST_GUP_F_ACCOUNT, &id, &got);
	t1 = now_s();
	signal(SIGALRM, SIG_DFL);
	EXPECT_EQ(-EINTR, err) TH_LOG("a 256 MiB remote pin through a worker, SIGALRM after "
				      "0.1 s: %s after %.2f s", strerror(-err), t1 - t0);
	if (!err)
		EXPECT_EQ(0, unhold(self->fd, id));
	/* The worker finishes, then lets everything go. */
	for (i = 0; i < 1200; i++) {
		ASSERT_EQ(0, ioctl(self->fd, RUST_GUP_IOC_STATS, &s));
		if (pins_outstanding() == self->pins && s.charged_pages == self->charged)
			break;
		usleep(100000);
	}
	printf("# EINTR after %.2f s; the worker's pins and charge gone %.1f s later\n",
	       t1 - t0, now_s() - t1);
	EXPECT_LT(i, 1200) TH_LOG("the worker's pins or charge stayed");
	EXPECT_EQ(self->charged, (long)s.charged_pages);
	munmap(mem, size);
}

/*
 * The module's unload waits for a kernel worker's job that nobody waits
 * for any more: a 256 MiB worker pin interrupted by SIGALRM, its file
 * closed, then rmmod at once. The job runs the module's code until it has
 * released its pins; rmmod must wait for it (the workqueue is the
 * module's own), not free the module under it. Reloads the module after.
 * Not part of the "remote" category (it unloads the module): the "module"
 * category runs it.
 */
TEST(unload_while_a_worker_runs)
{
	size_t size = 256ul << 20;
	char exe[256], ko[300], cmd[320];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	long pins = pins_outstanding();
	int status, rc;
	double t0, t1;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root");
	ASSERT_GT(n, 0);
	exe[n] = 0;
	snprintf(ko, sizeof(ko), "%s/rust_gup.ko", dirname(exe));
	if (access(ko, R_OK))
		SKIP(return, "no %s to load again", ko);

	pid = fork_helper();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_alarm };
		struct itimerval at = { .it_value = { .tv_usec = 100000 } };
		char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		int fd = open(RUST_GUP_DEVICE, O_RDWR);
		__u32 id;
		long got;

		if (mem == MAP_FAILED || fd < 0 || sigaction(SIGALRM, &sa, NULL) ||
		    setitimer(ITIMER_REAL, &at, NULL))
			_exit(1);
		if (hold(fd, mem, size, RUST_GUP_OP_PIN_REMOTE, RUST_GUP_F_WORKER |
			 RUST_GUP_F_LONGTERM | RUST_GUP_F_WRITE, &id, &got) != -EINTR)
			_exit(2);
		_exit(0);	/* closes the file; the job goes on */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("1: no setup, 2: the pin was not interrupted");
	t0 = now_s();
	rc = system("rmmod rust_gup");
	t1 = now_s();
	printf("# rmmod took %.2f s, the worker's job still running when it began\n", t1 - t0);
	EXPECT_EQ(0, rc);
	EXPECT_EQ(pins, pins_outstanding()) TH_LOG("pins left after the unload");
	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	ASSERT_EQ(0, system(cmd));
}

#define RACE_ROUNDS 200

/*
 * Owner exit against remote pins, in a loop: an owner hands its file over
 * and exits after a random delay while the test pins its memory as fast as
 * it can, in turn: long-term, registered, through a worker. Every pin
 * either succeeds whole or fails with ESRCH; after the owner's exit all
 * fail with ESRCH; closing the file releases everything and gives every
 * charge back.
 */
TEST_F_TIMEOUT(remote, owner_exit_races_remote_pins, 300)
{
	static const __u32 flags[] = {
		RUST_GUP_F_LONGTERM,
		RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT | RUST_GUP_F_WRITE,
		RUST_GUP_F_WORKER | RUST_GUP_F_LONGTERM | RUST_GUP_F_ACCOUNT,
		RUST_GUP_F_WORKER,
	};
	long pinned = 0, refused = 0;

	srand(1);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		int sock[2], status, fd, err = 0;
		unsigned int delay_us = rand() % 4000;
		unsigned long addr;
		pid_t owner;

		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
		owner = fork_helper();
		ASSERT_GE(owner, 0);
		if (owner == 0) {
			char *mem = fresh_pages();

			fd = open(RUST_GUP_DEVICE, O_RDWR);
			addr = (unsigned long)mem;
			if (!mem || fd < 0 || send_fd(sock[1], fd) ||
			    write_all(sock[1], &addr, sizeof(addr)))
				_exit(1);
			usleep(delay_us);
			_exit(0);
		}
		close(sock[1]);
		fd = recv_fd(sock[0]);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, read_all(sock[0], &addr, sizeof(addr)));
		for (int i = 0; err != -ESRCH; i++) {
			__u32 id;
			long got;

			err = hold(fd, (void *)addr, N * page_size, RUST_GUP_OP_PIN_REMOTE,
				   flags[i % 4], &id, &got);
			if (!err) {
				ASSERT_EQ(N, got) TH_LOG("round %d, pin %d", round, i);
				pinned++;
				/* Keep some, release others. */
				if (i % 3 == 0)
					ASSERT_EQ(0, unhold(fd, id));
			} else {
				ASSERT_EQ(-ESRCH, err) TH_LOG("round %d, pin %d: %s", round, i,
							      strerror(-err));
				refused++;
			}
			ASSERT_LT(i, 100000) TH_LOG("the owner did not exit");
		}
		ASSERT_EQ(owner, waitpid(owner, &status, 0));
		ASSERT_EQ(0, WEXITSTATUS(status));
		close(fd);
		close(sock[0]);
	}
	printf("# %d rounds: %ld remote pins taken, %ld refused with ESRCH\n", RACE_ROUNDS,
	       pinned, refused);
	EXPECT_EQ(self->charged, charged_pages(self->fd));
}

TEST_HARNESS_MAIN
