/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the rust_gup selftests.
 */
#ifndef RUST_GUP_UTIL_H
#define RUST_GUP_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/kernel-page-flags.h>
#include <linux/rust_gup.h>

/* Flags of a DMA mapping the device writes: the pages are dirtied on
 * release (WRITE without DIRTY is refused). */
#define DEVICE_WRITES	(RUST_GUP_F_WRITE | RUST_GUP_F_DIRTY)

/* An errno's name ("EINVAL"), "success" for 0. */
static inline const char *errname(int err)
{
	const char *name = err ? strerrorname_np(err) : "success";

	return name ? name : "?";
}

/* The running kernel's version as major * 100 + minor (612, 703), or -1. */
static inline int kernel_version(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return -1;
	return major * 100 + minor;
}

/*
 * A counter from /proc/vmstat, exact: the per-CPU deltas are folded in
 * first (writing vm.stat_refresh, root only), or a reading may lag by the
 * per-CPU batch. -1 if it cannot be read.
 */
static inline long vmstat(const char *name)
{
	char key[64];
	long value, found = -1;
	int refresh = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	FILE *f;

	if (refresh < 0)
		return -1;
	if (write(refresh, "1", 1) != 1) {
		close(refresh);
		return -1;
	}
	close(refresh);
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &value) == 2)
		if (!strcmp(key, name))
			found = value;
	fclose(f);
	return found;
}

/*
 * Where pages are, as the kernel's own interfaces say (root only), for
 * checks that must not take the module's word for it.
 */

/* The page frame of the page at addr, from /proc/self/pagemap (an open
 * descriptor); 0 if none is present. */
static inline unsigned long long pagemap_pfn(int pagemap, const void *addr)
{
	unsigned long long entry;

	if (pread(pagemap, &entry, sizeof(entry),
		  (unsigned long)addr / getpagesize() * sizeof(entry)) != sizeof(entry))
		return 0;
	/* Present, and bits 0-54 the frame. */
	return entry >> 63 ? entry & ((1ull << 55) - 1) : 0;
}

#define PMD_BYTES (2ul << 20)	/* x86_64's PMD mapping: a 2 MiB THP */

/*
 * How many of the whole 2 MiB-aligned blocks of [addr, addr + size) are
 * each one transparent huge page (first and last page present with
 * KPF_THP, from /proc/kpageflags, 511 frames apart), with the number of
 * such blocks in *total; -1 if pagemap or kpageflags cannot be read.
 */
static inline int thp_blocks(const void *addr, size_t size, int *total)
{
	unsigned long start = ((unsigned long)addr + PMD_BYTES - 1) & ~(PMD_BYTES - 1);
	unsigned long end = ((unsigned long)addr + size) & ~(PMD_BYTES - 1);
	int pagemap = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY), huge = 0;

	*total = 0;
	if (pagemap < 0 || kpf < 0)
		huge = -1;
	for (unsigned long block = start; huge >= 0 && block < end; block += PMD_BYTES) {
		unsigned long long head = pagemap_pfn(pagemap, (void *)block);
		unsigned long long tail = pagemap_pfn(pagemap, (void *)(block + PMD_BYTES - 1));
		unsigned long long flags[2] = { 0, 0 };

		if (head && tail == head + PMD_BYTES / getpagesize() - 1 &&
		    pread(kpf, &flags[0], sizeof(flags[0]), head * 8) == 8 &&
		    pread(kpf, &flags[1], sizeof(flags[1]), tail * 8) == 8)
			huge += (flags[0] & flags[1]) >> KPF_THP & 1;
		++*total;
	}
	if (pagemap >= 0)
		close(pagemap);
	if (kpf >= 0)
		close(kpf);
	return huge;
}

/* Whether [addr, addr + size), 2 MiB-aligned, is all transparent huge pages. */
static inline bool thp_backed(const void *addr, size_t size)
{
	int total, huge = thp_blocks(addr, size, &total);

	return total > 0 && huge == total;
}

/* The span of the Movable zones, from /proc/zoneinfo: [start, end) page
 * frames; both 0 when there is none (a boot without movablecore=). One
 * node, as in the test VM. */
static inline void movable_span(unsigned long long *start, unsigned long long *end)
{
	char line[256], zone[32] = "";
	unsigned long long value, spanned = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	*start = *end = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %*d, zone %31s", zone) == 1) {
			spanned = 0;
			continue;
		}
		if (strcmp(zone, "Movable"))
			continue;
		if (sscanf(line, " spanned %llu", &value) == 1)
			spanned = value;
		else if (sscanf(line, " start_pfn: %llu", &value) == 1 && spanned) {
			*start = value;
			*end = value + spanned;
		}
	}
	if (f)
		fclose(f);
}

/* FOLL_PIN pins taken and not yet released, system-wide. */
static inline long pins_outstanding(void)
{
	long acquired = vmstat("nr_foll_pin_acquired");

	return acquired - vmstat("nr_foll_pin_released");
}

/* Field `name` ("name:   N kB") of a /proc file, in kB; -1 if not found. */
static inline long proc_kb(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long kb = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	if (f)
		fclose(f);
	return kb;
}

/* VmPin of process pid (its mm->pinned_vm), in kB; -1 if not found. */
static inline long vm_pin_kb_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_kb(path, "VmPin");
}

/* VmPin of this process, in kB; -1 if not found. */
static inline long vm_pin_kb(void)
{
	return vm_pin_kb_of(getpid());
}

/*
 * RUST_GUP_IOC_ACCESS: len bytes at offset in set id to buf, or with
 * write from buf to the set. 0 or -errno.
 */
static inline int set_access(int fd, __u32 id, int write, size_t offset, void *buf, size_t len)
{
	struct rust_gup_access a = {
		.id = id, .flags = write ? RUST_GUP_ACCESS_WRITE : 0, .offset = offset,
		.len = len, .buf = (unsigned long)buf,
	};

	return ioctl(fd, RUST_GUP_IOC_ACCESS, &a) ? -errno : 0;
}

/* Pages the sets of all open files have charged (RUST_GUP_IOC_STATS). */
static inline long charged_pages(int fd)
{
	struct rust_gup_stats s;

	return ioctl(fd, RUST_GUP_IOC_STATS, &s) ? -1 : (long)s.charged_pages;
}

/*
 * RUST_GUP_IOC_PIN with pin, whose id and size the module fills in: 0 or
 * -errno; *id gets the set's id and *pages the pages taken (0 on failure).
 */
static inline int pin_set(int fd, struct rust_gup_pin *pin, __u32 *id, long *pages)
{
	*id = 0;
	*pages = 0;
	if (ioctl(fd, RUST_GUP_IOC_PIN, pin))
		return -errno;
	*id = pin->id;
	*pages = pin->size / getpagesize();
	return 0;
}

/* RUST_GUP_IOC_PIN of [addr, addr + size): as pin_set(). */
static inline int hold(int fd, void *addr, size_t size, __u32 op, __u32 flags, __u32 *id,
		       long *pages)
{
	struct rust_gup_pin pin = {
		.addr = (unsigned long)addr, .size = size, .op = op, .flags = flags,
	};

	return pin_set(fd, &pin, id, pages);
}

/*
 * The same on the address space of process pid (RUST_GUP_F_PID, with a
 * remote op).
 */
static inline int hold_pid(int fd, pid_t pid, void *addr, size_t size, __u32 op, __u32 flags,
			   __u32 *id, long *pages)
{
	struct rust_gup_pin pin = {
		.addr = (unsigned long)addr, .size = size, .op = op,
		.flags = flags | RUST_GUP_F_PID, .pid = pid,
	};

	return pin_set(fd, &pin, id, pages);
}

/* RUST_GUP_IOC_UNPIN: 0 or -errno. */
static inline int unhold(int fd, __u32 id)
{
	return ioctl(fd, RUST_GUP_IOC_UNPIN, &id) ? -errno : 0;
}

/* RUST_GUP_IOC_QUERY of pages [0, nr) of a set: entries filled or -errno. */
static inline int query(int fd, __u32 id, struct rust_gup_page_info *info, __u32 nr)
{
	struct rust_gup_query q = { .id = id, .nr = nr, .pages = (unsigned long)info };

	if (ioctl(fd, RUST_GUP_IOC_QUERY, &q))
		return -errno;
	return q.nr;
}

/* Writes value to a sysfs or debugfs file: 0, or -errno (-EIO if short). */
static inline int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = strlen(value), n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	close(fd);
	return n == len ? 0 : -EIO;
}

#define SHMEM_THP "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

/* The bracketed word of a sysfs knob ("always [madvise] never"), into mode. */
static inline int sysfs_choice(const char *path, char *mode, size_t len)
{
	char line[256], *open, *close_;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	open = strchr(line, '[');
	close_ = open ? strchr(open, ']') : NULL;
	if (!close_)
		return -EINVAL;
	*close_ = 0;
	snprintf(mode, len, "%s", open + 1);
	return 0;
}

/* The shmem THP knob's mode. */
static inline int shmem_thp(char *mode, size_t len)
{
	return sysfs_choice(SHMEM_THP, mode, len);
}

/* Drops capability cap (CAP_IPC_LOCK, ...) from this process's effective set. */
static inline int drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	return syscall(SYS_capset, &hdr, data);
}

/*
 * Live mappings the DMA API's debugging tracks (CONFIG_DMA_API_DEBUG), all
 * devices together; -1 on a kernel without it.
 */
static inline long dma_debug_live(void)
{
	long total = -1, free = -1;
	FILE *f;

	f = fopen("/sys/kernel/debug/dma-api/nr_total_entries", "r");
	if (f && fscanf(f, "%ld", &total) != 1)
		total = -1;
	if (f)
		fclose(f);
	f = fopen("/sys/kernel/debug/dma-api/num_free_entries", "r");
	if (f && fscanf(f, "%ld", &free) != 1)
		free = -1;
	if (f)
		fclose(f);
	return total < 0 || free < 0 ? -1 : total - free;
}

/* RUST_GUP_PCI_ID() of a "dddd:bb:dd.f" name; -1 if it is not one. */
static inline long pci_id(const char *name)
{
	unsigned int domain, bus, dev, fn;
	char end;

	if (sscanf(name, "%x:%x:%x.%x%c", &domain, &bus, &dev, &fn, &end) != 4 ||
	    domain > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
		return -1;
	return RUST_GUP_PCI_ID(domain, bus, dev << 3 | fn);
}

/*
 * A PCI function other than `not` that is bound to driver `driver` (or,
 * for NULL, to no driver at all): its name in buf; -1 if there is none.
 */
static inline long pci_function(const char *driver, long not, char *buf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	long id = -1;

	while (d && id < 0 && (e = readdir(d))) {
		char path[512], link[512];
		ssize_t n;
		long this = pci_id(e->d_name);

		if (this < 0 || this == not)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0 ? driver != NULL : !driver || strcmp(basename((link[n] = 0, link)), driver))
			continue;
		snprintf(buf, len, "%.32s", e->d_name);
		id = this;
	}
	if (d)
		closedir(d);
	return id;
}

/* A file descriptor passed over a Unix socket (SCM_RIGHTS), with one byte. */
static inline int send_fd(int sock, int fd)
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

static inline int recv_fd(int sock)
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
 * Maps size bytes of p2pmem (the PCI P2PDMA memory a device publishes, in
 * the test VM the NVMe CMB) at `at`, or anywhere if NULL; MAP_FAILED if
 * there is none.
 */
static inline void *map_p2pmem(void *at, size_t size)
{
	glob_t g;
	void *p;
	int fd;

	if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g))
		return MAP_FAILED;
	fd = open(g.gl_pathv[0], O_RDWR);
	globfree(&g);
	if (fd < 0)
		return MAP_FAILED;
	p = mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
	close(fd);
	return p;
}

/*
 * fail-nth (/proc/thread-self/fail-nth, CONFIG_FAULT_INJECTION): the
 * debugfs knobs make sleeping, highmem and order-0 allocations eligible,
 * and the injections silent (no stack in the log); restore_fault_knobs()
 * puts back what set_fault_knobs() found.
 */
struct fault_knob {
	const char *path;
	const char *value;
	char saved[32];
	bool changed;
};

static struct fault_knob fault_knobs[] __attribute__((unused)) = {
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
};

#define NR_KNOBS (sizeof(fault_knobs) / sizeof(fault_knobs[0]))

static inline int set_fault_knobs(void)
{
	for (unsigned int i = 0; i < NR_KNOBS; i++) {
		struct fault_knob *k = &fault_knobs[i];
		int fd = open(k->path, O_RDONLY);
		ssize_t n;

		if (fd < 0)
			return -errno;
		n = read(fd, k->saved, sizeof(k->saved) - 1);
		close(fd);
		if (n <= 0)
			return -EIO;
		k->saved[n] = 0;
		if (write_file(k->path, k->value))
			return -EIO;
		k->changed = true;
	}
	return 0;
}

static inline void restore_fault_knobs(void)
{
	/* In reverse: verbose goes back last. */
	for (unsigned int i = NR_KNOBS; i-- > 0;) {
		if (fault_knobs[i].changed)
			write_file(fault_knobs[i].path, fault_knobs[i].saved);
		fault_knobs[i].changed = false;
	}
}

static inline int fail_nth_set(int fd, unsigned int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%u", n);

	return pwrite(fd, b, len, 0) == len ? 0 : -1;
}

static inline long fail_nth_get(int fd)
{
	char b[16];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);

	if (n <= 0)
		return -1;
	b[n] = 0;
	return strtol(b, NULL, 10);
}

#endif /* RUST_GUP_UTIL_H */
