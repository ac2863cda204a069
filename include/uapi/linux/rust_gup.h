/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_gup: the ioctl ABI of /dev/rust_gup.
 *
 * This header is the single source of truth: the module gets it through
 * bindgen, the selftests include it.
 *
 * Commands use the ioctl type 'g'. Numbers 1 to 9 are the kernel's
 * mm/gup_test ABI; rust_gup's own commands start at 0x40 so they cannot
 * collide with commands gup_test may add.
 */
#ifndef _UAPI_LINUX_RUST_GUP_H
#define _UAPI_LINUX_RUST_GUP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "rust_gup_abi_assert.h"

#define RUST_GUP_DEVICE			"/dev/rust_gup"

/* Bumped for every change of this header; additions keep old numbers. */
#define RUST_GUP_ABI_VERSION		11

/*
 * Part 1: the kernel's gup_test ABI (mm/gup_test.h), with the same
 * numbers, layouts and meaning, so a program written for
 * /sys/kernel/debug/gup_test works unchanged on /dev/rust_gup. The include
 * guard is gup_test.h's own: a program may include both headers.
 *
 * Where rust_gup differs, it is stricter:
 *  - gup_flags takes only FOLL_WRITE (0x1), FOLL_FORCE (0x8), FOLL_LONGTERM
 *    (0x100, pin commands only), FOLL_PCI_P2PDMA (0x400, pin commands
 *    only, not with FOLL_LONGTERM) and, on the GUP_* commands, a redundant
 *    FOLL_GET (0x2). Anything else is -EINVAL: gup_test passes the bits to
 *    GUP, which WARNs on many of them.
 *  - addr must be page aligned, size at least one page, nr_pages_per_call
 *    non-zero, and [addr, addr + size) inside the user address space;
 *    otherwise -EINVAL. On success size is set to the bytes actually taken
 *    (a prefix when GUP stopped early, e.g. at a hole).
 *  - The long-term test (PIN_LONGTERM_TEST_*) belongs to the open file, not
 *    to the whole system, and is released when the file is. Its pins are
 *    not charged to pinned_vm, so START needs CAP_IPC_LOCK (-EPERM), as
 *    any long-term set of part 2 that is not a registration does.
 *  - Unknown commands are -ENOTTY.
 */
#ifndef __GUP_TEST_H
#define __GUP_TEST_H

#define GUP_FAST_BENCHMARK	_IOWR('g', 1, struct gup_test)
#define PIN_FAST_BENCHMARK	_IOWR('g', 2, struct gup_test)
#define PIN_LONGTERM_BENCHMARK	_IOWR('g', 3, struct gup_test)
#define GUP_BASIC_TEST		_IOWR('g', 4, struct gup_test)
#define PIN_BASIC_TEST		_IOWR('g', 5, struct gup_test)
#define DUMP_USER_PAGES_TEST	_IOWR('g', 6, struct gup_test)
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)

#define GUP_TEST_MAX_PAGES_TO_DUMP		8

#define GUP_TEST_FLAG_DUMP_PAGES_USE_PIN	0x1

struct gup_test {
	__u64 get_delta_usec;
	__u64 put_delta_usec;
	__u64 addr;
	__u64 size;
	__u32 nr_pages_per_call;
	__u32 gup_flags;
	__u32 test_flags;
	/*
	 * Each non-zero entry is the number of the page (1-based: first page is
	 * page 1, so that zero entries mean "do nothing") from the .addr base.
	 */
	__u32 which_pages[GUP_TEST_MAX_PAGES_TO_DUMP];
};

#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1
#define PIN_LONGTERM_TEST_FLAG_USE_FAST		2

struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;
};

#endif	/* __GUP_TEST_H */

/*
 * 32-bit processes on a 64-bit kernel (compat_ioctl). i386 aligns __u64 to
 * 4 bytes, so struct gup_test is 76 bytes there (80 on x86_64) and struct
 * pin_longterm_test 20 (24). The fields sit at the same offsets; only the
 * tail padding differs. The size is part of an ioctl number, so commands 1
 * to 7 have other numbers in a 32-bit process. rust_gup answers both
 * encodings, and reads and writes only the bytes the number's size names.
 * (The kernel's gup_test, whose compat_ioctl is compat_ptr_ioctl, knows
 * only the 64-bit numbers.)
 */
#define RUST_GUP_COMPAT_GUP_TEST_SIZE		76
#define RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE	20

/* The gup_flags bits gup_test passes through, with their 6.12 values. */
#define RUST_GUP_FOLL_WRITE		0x001
#define RUST_GUP_FOLL_GET		0x002
#define RUST_GUP_FOLL_FORCE		0x008
#define RUST_GUP_FOLL_LONGTERM		0x100
#define RUST_GUP_FOLL_PCI_P2PDMA	0x400

/*
 * Part 2: rust_gup's own commands. Their flags are rust_gup's, not the
 * kernel's FOLL_* values (which are not ABI).
 *
 * A field marked "out" is written by the command and must be zero on input
 * (-EINVAL otherwise), as reserved fields must: a later version may make
 * it an input. A caller that passes a structure again (the next QUERY of a
 * set, say) clears those fields first. Inputs the command rewrites on
 * return (@size of PIN and BENCH, @nr of the read commands) are not out
 * fields. Since ABI version 11; the numbers kept for earlier versions'
 * structures (PIN's of version 8, QUERY's of version 6) keep those rules,
 * and the gup_test structures of part 1 keep gup_test's.
 */

/* Feature bits of struct rust_gup_version. */
#define RUST_GUP_FEATURE_MIRROR		(1ull << 0)	/* the HMM mirror commands */
#define RUST_GUP_FEATURE_DMA_MAP	(1ull << 1)	/* DMA_MAP and DMA_SEGMENTS */
#define RUST_GUP_FEATURE_COMPAT		(1ull << 2)	/* 32-bit processes (compat_ioctl) */
#define RUST_GUP_FEATURE_OWNER		(1ull << 3)	/* remote ops on the file's owner */
#define RUST_GUP_FEATURE_WORKER		(1ull << 4)	/* RUST_GUP_F_WORKER */
#define RUST_GUP_FEATURE_PID		(1ull << 5)	/* RUST_GUP_F_PID */
#define RUST_GUP_FEATURE_ACCESS		(1ull << 6)	/* RUST_GUP_IOC_ACCESS */
#define RUST_GUP_FEATURE_REVOKE		(1ull << 7)	/* revocable P2PDMA sets */
#define RUST_GUP_FEATURE_MIRROR_DMA	(1ull << 8)	/* RUST_GUP_MIRROR_F_DMA */
#define RUST_GUP_FEATURE_MEMFD		(1ull << 9)	/* RUST_GUP_OP_PIN_MEMFD */

/**
 * struct rust_gup_version - what the loaded module implements
 * @abi_version:	RUST_GUP_ABI_VERSION of the module
 * @reserved:		zero
 * @features:		RUST_GUP_FEATURE_*
 */
struct rust_gup_version {
	__u32 abi_version;
	__u32 reserved;
	__u64 features;
};

/**
 * struct rust_gup_stats - module-wide counters, for leak checks
 * @open_files:		files open on the device, the caller's included
 * @mirrors:		HMM mirrors of all open files (RUST_GUP_IOC_MIRROR)
 * @held_sets:		page sets held by all open files (see RUST_GUP_IOC_PIN)
 * @held_pages:		pages in those sets
 * @charged_pages:	pages those sets have charged to the pinned_vm of
 *			address spaces (RUST_GUP_F_ACCOUNT), whoever's, also
 *			of owners that have exited
 * @held_meta_bytes:	bytes those sets allocated to record which pages
 *			they hold: a set of RUST_GUP_IOC_PIN, DMA_MAP or the
 *			long-term test records runs of pages at consecutive
 *			page frames, 8 bytes each (and 8 per 32 runs),
 *			where a page array takes 8 bytes per page
 *			(ABI version 10)
 */
struct rust_gup_stats {
	__u32 open_files;
	__u32 mirrors;
	__u64 held_sets;
	__u64 held_pages;
	__u64 charged_pages;
	__u64 held_meta_bytes;
};

/* How pages are taken: the GUP entry point. */
enum rust_gup_op {
	RUST_GUP_OP_PIN_FAST = 1,	/* pin_user_pages_fast() */
	RUST_GUP_OP_PIN_LOCKED,		/* pin_user_pages() under mmap_read_lock */
	RUST_GUP_OP_PIN_UNLOCKED,	/* pin_user_pages_unlocked() */
	RUST_GUP_OP_GET_FAST,		/* get_user_pages_fast() */
	RUST_GUP_OP_GET_LOCKED,		/* get_user_pages() under mmap_read_lock */
	RUST_GUP_OP_GET_UNLOCKED,	/* get_user_pages_unlocked() */
	/*
	 * The *_remote() entry points, on the address space of the file's
	 * owner (the process that opened it), whoever calls: the opener, a
	 * child that inherited the file, or a process that received it over
	 * SCM_RIGHTS. Its mmap lock is held; the range is checked against the
	 * owner's address space. -ESRCH once the owner has exited (pins taken
	 * before stay until released).
	 */
	RUST_GUP_OP_PIN_REMOTE,		/* pin_user_pages_remote() */
	RUST_GUP_OP_GET_REMOTE,		/* get_user_pages_remote() */
	/*
	 * memfd_pin_folios(): pages of a memfd (shmem or hugetlbfs) by file
	 * offset, with no mapping of it: RUST_GUP_IOC_PIN's @fd names the
	 * file and @addr is the offset; see "Folio pins of a memfd" below.
	 */
	RUST_GUP_OP_PIN_MEMFD,
};

/*
 * What for. LONGTERM and P2PDMA apply to pins only. Together they make a
 * revocable long-term registration (RUST_GUP_IOC_PIN and _DMA_MAP only;
 * elsewhere -EINVAL): see "P2PDMA sets and provider removal" below.
 */
#define RUST_GUP_F_WRITE	(1u << 0)	/* the device writes (FOLL_WRITE) */
/*
 * DIRTY: mark the pages dirty on release; needs WRITE, and a pin op: a
 * page held by reference (the GET ops) is not marked DMA-pinned, so reclaim
 * may clean it while it is held, and dirtying it then is the INCORRECT
 * case 5 of pin_user_pages.rst. DIRTY with a GET op is -EINVAL.
 */
#define RUST_GUP_F_DIRTY	(1u << 1)
/*
 * FORCE: FOLL_FORCE, on the caller's own address space only (the local
 * ops): a write breaks COW of a read-only private mapping, which the
 * caller could make writable with mprotect() anyway. With a remote op it
 * is -EPERM: it would let whoever holds the file write the read-only
 * mappings of another process, which only a debugger may, past the ptrace
 * access check that a module cannot make (see RUST_GUP_F_PID). The
 * proc_mem.force_override= policy is not consulted: it governs
 * /proc/PID/mem only, and a module cannot read it.
 */
#define RUST_GUP_F_FORCE	(1u << 2)
#define RUST_GUP_F_LONGTERM	(1u << 3)	/* FOLL_LONGTERM */
#define RUST_GUP_F_P2PDMA	(1u << 4)	/* accept PCI P2PDMA pages */
/*
 * RUST_GUP_IOC_PIN and _DMA_MAP, with LONGTERM: a memory registration, as
 * RDMA does it. The pages are charged to the pinned_vm (VmPin in
 * /proc/PID/status) of the address space they are taken from before they
 * are pinned: the caller's, or for the remote ops the owner's. Refused
 * with -ENOMEM past that task's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK
 * (the owner: had it when it opened the file). The whole range is pinned
 * or nothing is. The charge goes when the set is released, also after the
 * owner has exited.
 *
 * A set that PIN or DMA_MAP keeps long-term (LONGTERM, and every memfd
 * pin) without ACCOUNT is charged to nobody: it needs CAP_IPC_LOCK, which
 * lifts RLIMIT_MEMLOCK anyway (-EPERM otherwise), as io_uring charges
 * registered buffers only to users without it. The file may be passed to
 * another process; without the capability, what it pins long-term stays
 * within someone's RLIMIT_MEMLOCK. BENCH, which releases before it
 * returns, and short-term sets need neither.
 */
#define RUST_GUP_F_ACCOUNT	(1u << 5)
/*
 * RUST_GUP_IOC_PIN with a remote op only (elsewhere -EINVAL). WORKER: the
 * pages are taken, and a registration charged, by a kernel worker that the
 * ioctl queues and waits for, as a driver pins on behalf of a process from
 * a context of its own (VFIO's vfio_pin_pages()); -EINTR if a signal
 * arrives while waiting (what the worker then takes, it releases). PID:
 * the op works on the address space of the process whose id, in the
 * caller's pid namespace, is @pid of struct rust_gup_pin, instead of the
 * file's owner; see there.
 */
#define RUST_GUP_F_WORKER	(1u << 6)
#define RUST_GUP_F_PID		(1u << 7)
#define RUST_GUP_F_ALL		0xff

/**
 * struct rust_gup_bench - one timed take-and-release of a range
 * @addr:		start, page aligned
 * @size:		bytes; on return, the bytes actually taken
 * @op:			enum rust_gup_op
 * @flags:		RUST_GUP_F_*
 * @nr_pages_per_call:	pages per GUP call; 0 means all at once
 * @fd:			with RUST_GUP_OP_PIN_MEMFD, the memfd (@addr is then
 *			the offset in it, @nr_pages_per_call is ignored: the
 *			module pins 512 pages per memfd_pin_folios() call);
 *			otherwise zero. A reserved field, zero, before ABI
 *			version 9.
 * @get_ns:		out: time to take the pages, in nanoseconds
 * @put_ns:		out: time to release them, in nanoseconds
 * @calls:		out: GUP (or memfd_pin_folios()) calls made
 */
struct rust_gup_bench {
	__u64 addr;
	__u64 size;
	__u32 op;
	__u32 flags;
	__u32 nr_pages_per_call;
	__s32 fd;
	__u64 get_ns;
	__u64 put_ns;
	__u64 calls;
};

/**
 * struct rust_gup_pin - take a range and hold it in the open file
 * @addr:	start, page aligned
 * @size:	bytes; on return, the bytes actually taken (a prefix when GUP
 *		stopped early, e.g. at a hole; nothing taken is an error)
 * @op:		enum rust_gup_op
 * @flags:	RUST_GUP_F_*
 * @id:		out: the set's id, for RUST_GUP_IOC_QUERY and _UNPIN
 * @pid:	with RUST_GUP_F_PID, the process whose address space a remote
 *		op works on: a process id (a thread-group id, as for
 *		pidfd_open(); another thread's id names nothing) in the
 *		caller's pid namespace; otherwise zero
 * @fd:		with RUST_GUP_OP_PIN_MEMFD, the memfd; otherwise zero
 * @reserved:	zero
 *
 * ABI version 8's number, for the structure without @fd and @reserved, is
 * answered too (without RUST_GUP_OP_PIN_MEMFD).
 *
 * The set is released by RUST_GUP_IOC_UNPIN or when the file is released.
 * -EOVERFLOW, with nothing taken, when the set would leave a folio with
 * more than 2^28 references (a page mapped at many addresses and held by
 * many sets; RUST_GUP_IOC_DMA_MAP and PIN_LONGTERM_TEST_START alike), so
 * that no sequence of calls overflows a page's reference count. Calls that
 * hold pages only while they run (RUST_GUP_IOC_BENCH, the gup_test
 * commands) are -EINVAL past 2^19 pages of pins (2 GiB of 4 KiB pages);
 * any take is -EAGAIN while concurrent ones hold that much.
 *
 * RUST_GUP_F_PID needs CAP_SYS_PTRACE in the initial user namespace
 * (-EPERM otherwise, before the pid is looked up), and that is all that is
 * checked. process_vm_readv() asks ptrace_may_access() instead, which the
 * kernel does not export to modules (nor mm_access()): it lets a process
 * of the same user through without the capability, and it asks the LSM
 * (security_ptrace_access_check()), which may refuse even a caller with
 * it (Yama's ptrace_scope 3, SELinux, AppArmor, Landlock). RUST_GUP_F_PID
 * does not ask the LSM: on such a system it reaches processes that
 * process_vm_readv() and ptrace would not. The named process is then the
 * owner for the op: the range is checked against its address space, and a
 * registration is charged to it, against its RLIMIT_MEMLOCK unless it has
 * CAP_IPC_LOCK now. -ESRCH when no such process exists, or it has no user address
 * space (a kernel thread, a process that has exited), as
 * process_vm_readv() answers.
 */
struct rust_gup_pin {
	__u64 addr;
	__u64 size;
	__u32 op;
	__u32 flags;
	__u32 id;
	__u32 pid;
	__s32 fd;
	__u32 reserved;
};

/*
 * Folio pins of a memfd. RUST_GUP_IOC_PIN with RUST_GUP_OP_PIN_MEMFD pins
 * [@addr, @addr + @size) of the file @fd, a memfd or any other shmem
 * (tmpfs, SysV shm) or hugetlbfs file, with memfd_pin_folios(): pages that
 * are not there yet are allocated, as a fault would; every page is pinned
 * long-term (FOLL_PIN | FOLL_LONGTERM: moved out of ZONE_MOVABLE and CMA
 * first), with one pin per folio rather than per page, and the caller needs
 * no mapping of the file. The set is held as runs of pages, one per folio,
 * and works with QUERY, ACCESS and UNPIN as any other; pins outlive a
 * truncation of the file (they hold what was its memory).
 *
 * @addr and @size must be page aligned and the range inside the file,
 * which must be open for reading. Flags: WRITE (the device writes: the
 * file must be open for writing, not append-only, and not sealed with
 * F_SEAL_WRITE or F_SEAL_FUTURE_WRITE; while the set lives, F_SEAL_WRITE
 * cannot be added, as for a shared writable mapping), DIRTY, LONGTERM
 * (implied) and ACCOUNT (a registration, charged to the caller's
 * pinned_vm); others are -EINVAL. The file is checked as mmap() of a shared
 * mapping with the same access checks it, with its errnos. Errors: -EBADF
 * when @fd is not an open file; -EBADFD when it is neither shmem nor
 * hugetlbfs; -EACCES for a file not open for reading, or WRITE on one not
 * open for writing or append-only; -EPERM for WRITE on a write-sealed file;
 * -EINVAL for a range past the end of the file; on 6.12, -EFAULT for a
 * hugetlbfs range with a page not allocated yet (6.12's memfd_pin_folios()
 * would allocate it without reserving it; fault it in or fallocate() it
 * first); -ENOMEM, and errors of the allocation and of the migration
 * (-EBUSY). Nothing is pinned after an
 * error. RUST_GUP_IOC_DMA_MAP and _BENCH take the op too (their @fd and
 * @addr, the same way; BENCH without ACCOUNT).
 */

/* The id of the set held by PIN_LONGTERM_TEST_START. */
#define RUST_GUP_ID_LONGTERM_TEST	0

/* Zones, as in enum zone_type of the test kernel's configuration. */
#define RUST_GUP_ZONE_DMA	0
#define RUST_GUP_ZONE_DMA32	1
#define RUST_GUP_ZONE_NORMAL	2
#define RUST_GUP_ZONE_MOVABLE	3
#define RUST_GUP_ZONE_DEVICE	4
#define RUST_GUP_ZONE_OTHER	15

/*
 * Whether a page is in a CMA area (and so whether folio_is_longterm_pinnable()
 * holds) is not among them: the kernel does not export the pageblock
 * migratetype to modules. Compare @pfn with the areas' base_pfn and count
 * in /sys/kernel/debug/cma/ instead, and @zone with RUST_GUP_ZONE_MOVABLE.
 */
#define RUST_GUP_PAGE_DMA_PINNED	(1u << 0)  /* folio_maybe_dma_pinned() */
#define RUST_GUP_PAGE_P2PDMA		(1u << 1)  /* is_pci_p2pdma_page() */
#define RUST_GUP_PAGE_HUGETLB		(1u << 2)
#define RUST_GUP_PAGE_ANON		(1u << 3)
#define RUST_GUP_PAGE_DIRTY		(1u << 4)
#define RUST_GUP_PAGE_PROVIDER		(1u << 5)  /* @provider is valid */

/*
 * A PCI function: the name 0000:00:04.0 is domain 0, bus 0, devfn
 * PCI_DEVFN(4, 0). Domains above 0xffff (behind Intel VMD) have no such
 * number.
 */
#define RUST_GUP_PCI_ID(domain, bus, devfn) \
	((__u32)(domain) << 16 | (__u32)(bus) << 8 | (__u32)(devfn))
#define RUST_GUP_PCI_DOMAIN(id)		((id) >> 16)
#define RUST_GUP_PCI_BUS(id)		(((id) >> 8) & 0xff)
#define RUST_GUP_PCI_DEVFN(id)		((id) & 0xff)

/**
 * struct rust_gup_page_info - one page of a held set
 * @pfn:	page frame number
 * @zone:	RUST_GUP_ZONE_*
 * @order:	order of the folio the page belongs to
 * @flags:	RUST_GUP_PAGE_*
 * @pincount:	FOLL_PIN pins on the folio: exact for large folios; for
 *		order-0 ones the kernel keeps no separate count, and this is
 *		refcount / GUP_PIN_COUNTING_BIAS (1024)
 * @refcount:	the folio's reference count
 * @provider:	for a P2PDMA page, RUST_GUP_PCI_ID() of the PCI function
 *		whose BAR holds it (flag RUST_GUP_PAGE_PROVIDER); else zero
 */
struct rust_gup_page_info {
	__u64 pfn;
	__u32 zone;
	__u32 order;
	__u32 flags;
	__u32 pincount;
	__u32 refcount;
	__u32 provider;
};

/**
 * struct rust_gup_query - describe pages of a set held by the file
 * @id:		the set (RUST_GUP_ID_LONGTERM_TEST, or an id of RUST_GUP_IOC_PIN
 *		or RUST_GUP_IOC_DMA_MAP)
 * @nr:		in: entries at @pages; out: entries filled
 * @first:	index of the first page to describe
 * @pages:	user pointer to struct rust_gup_page_info[nr]
 * @set_pages:	out: pages in the set
 * @flags:	in: zero; out: RUST_GUP_QUERY_REVOKED for a revoked set
 *		(which has no pages)
 * @reserved:	zero
 *
 * ABI version 6's number, for the structure without @flags and @reserved,
 * is answered too.
 */
struct rust_gup_query {
	__u32 id;
	__u32 nr;
	__u64 first;
	__u64 pages;
	__u64 set_pages;
	__u32 flags;
	__u32 reserved;
};

/*
 * P2PDMA sets and provider removal. A set of RUST_GUP_IOC_PIN or _DMA_MAP
 * taken with RUST_GUP_F_P2PDMA is registered with every PCI function that
 * provides one of its P2PDMA pages. When the driver of one of them is
 * unbound (or the function removed), the set is revoked first: its DMA
 * mapping is undone and all its pins released, ordinary pages included,
 * and a registration's pinned_vm charge given back; then the unbind goes
 * on. Without this the unbind would wait until the set is released. A
 * revoked set keeps its id: QUERY reports RUST_GUP_QUERY_REVOKED and no
 * pages, DMA_SEGMENTS gives -ENODEV, UNPIN removes it. A PIN or DMA_MAP
 * racing with the unbind either completes first, and is revoked, or fails
 * with -ENODEV.
 *
 * With RUST_GUP_F_LONGTERM too, the set is a long-term registration of
 * P2PDMA memory, which GUP itself refuses (FOLL_LONGTERM with
 * FOLL_PCI_P2PDMA) because nothing could give such pins back. The pages
 * are pinned with FOLL_PCI_P2PDMA alone, so the range must be P2PDMA
 * memory only (-EINVAL otherwise): an ordinary page would be a long-term
 * pin without FOLL_LONGTERM's migration and shared-file checks.
 */
#define RUST_GUP_QUERY_REVOKED	(1u << 0)

/* RUST_GUP_IOC_ACCESS: the device writes, rather than reads. */
#define RUST_GUP_ACCESS_WRITE	(1u << 0)

/**
 * struct rust_gup_access - "device" access to a held set's pages
 * @id:		the set (RUST_GUP_ID_LONGTERM_TEST, or an id of RUST_GUP_IOC_PIN)
 * @flags:	RUST_GUP_ACCESS_WRITE or 0
 * @offset:	byte offset into the set (its pages in order) where access
 *		starts
 * @len:	bytes, all inside the set
 * @buf:	user buffer the data goes to (read) or comes from (write)
 *
 * Each page is accessed through the pin, as a device would by DMA, never
 * through a page table: the set's pages are the same whoever's address
 * space they were taken from, and after its tasks have exited.
 * -EOPNOTSUPP for a set whose pages the CPU may not access this way:
 * FOLL_GET references, RUST_GUP_F_P2PDMA pins, DMA mappings (the device
 * owns those). -EPERM when writing to pins taken without RUST_GUP_F_WRITE
 * and RUST_GUP_F_DIRTY (a write the page tables do not see must dirty the
 * page on release). -EINTR when killed. On an error, pages before the
 * failing one were accessed.
 */
struct rust_gup_access {
	__u32 id;
	__u32 flags;
	__u64 offset;
	__u64 len;
	__u64 buf;
};

/*
 * Part 3: the HMM mirror. A device that can take page faults does not pin:
 * it mirrors a range with hmm_range_fault() and an mmu interval notifier
 * and drops its entries when the CPU page table changes. A mirror belongs
 * to the open file and to the address space of the task that made it.
 */

/* How RUST_GUP_IOC_MIRROR and _MIRROR_FAULT fill entries. */
#define RUST_GUP_MIRROR_F_WRITE		(1u << 0)	/* fault writable (HMM_PFN_REQ_WRITE) */
#define RUST_GUP_MIRROR_F_SNAPSHOT	(1u << 1)	/* fault nothing: what is mapped now */
/* RUST_GUP_IOC_MIRROR only: map the mirror for @client (see below). */
#define RUST_GUP_MIRROR_F_DMA		(1u << 2)
#define RUST_GUP_MIRROR_F_ALL		0x7

/* At most this many pages (1 GiB of 4 KiB pages) per mirror. */
#define RUST_GUP_MIRROR_MAX_PAGES	(1u << 18)

/**
 * struct rust_gup_mirror - mirror a range, or fault part of a mirror again
 * @addr:	start, page aligned
 * @size:	bytes, a multiple of the page size
 * @flags:	RUST_GUP_MIRROR_F_*; WRITE and SNAPSHOT do not go together
 * @id:		RUST_GUP_IOC_MIRROR: out, the new mirror's id;
 *		RUST_GUP_IOC_MIRROR_FAULT: in, the mirror ([@addr, @addr + @size)
 *		must lie inside it)
 * @valid:	out: entries of [@addr, @addr + @size) valid after the call
 * @ns:		out: nanoseconds spent: the hmm_range_fault() passes and their
 *		commits, and for RUST_GUP_IOC_MIRROR the set-up (table, notifier)
 * @retries:	out: passes redone because the range changed meanwhile
 * @client:	with RUST_GUP_MIRROR_F_DMA, RUST_GUP_PCI_ID() of the PCI
 *		function the mirror is mapped for; otherwise zero
 *
 * RUST_GUP_IOC_MIRROR registers the mirror and fills it whole; when that
 * fails there is no mirror. RUST_GUP_IOC_MIRROR_FAULT fills part of an
 * existing one; on failure, 2 MiB chunks before the failing one stay
 * filled. Errors are hmm_range_fault()'s: -EFAULT for a range with a hole
 * or pages it cannot fault, running out of memory while faulting included
 * (in SNAPSHOT mode such pages get ERROR entries instead), -EBUSY when a
 * 2 MiB chunk kept changing for a second; -EINTR when the caller is
 * killed.
 *
 * A mirror made with RUST_GUP_MIRROR_F_DMA is mapped for @client, as an
 * RDMA ODP memory region is: every entry a fault makes valid is also
 * DMA-mapped (dma_map_page()) for the function, DMA_BIDIRECTIONAL when the
 * entry is writable, DMA_TO_DEVICE otherwise, and an invalidation unmaps
 * the entries of its range before it returns, marking the pages the
 * device could write dirty. RUST_GUP_IOC_MIRROR_DMA reads the addresses.
 * The rules are RUST_GUP_IOC_DMA_MAP's: CAP_SYS_RAWIO (-EPERM), a function
 * with a driver bound (-ENODEV), and whose unbinding unmaps every entry
 * (the mirror stays, with its entries; every RUST_GUP_IOC_MIRROR_FAULT,
 * whatever it would fill, and MIRROR_DMA then give -ENODEV, and the
 * entries are left as they are); -EBUSY for a writable entry whose page is already in a
 * mapping a device may write. A page that is not ordinary memory (PCI
 * P2PDMA, which hmm_range_fault() returns as a valid entry) is not
 * mapped: MIRROR_DMA reports it RUST_GUP_MIRROR_NO_DMA. 6.12's
 * dma_map_page() has no P2PDMA path (only scatterlists do), so mapping it
 * would give the device the CPU physical address even where a PCI bus
 * address is needed.
 */
struct rust_gup_mirror {
	__u64 addr;
	__u64 size;
	__u32 flags;
	__u32 id;
	__u64 valid;
	__u64 ns;
	__u32 retries;
	__u32 client;
};

#define RUST_GUP_MIRROR_VALID	(1u << 0)	/* HMM_PFN_VALID: maps a page */
#define RUST_GUP_MIRROR_WRITE	(1u << 1)	/* HMM_PFN_WRITE: writable */
#define RUST_GUP_MIRROR_ERROR	(1u << 2)	/* HMM_PFN_ERROR: inaccessible */

/**
 * struct rust_gup_mirror_entry - one entry of a mirror's device page table
 * @pfn:	page frame number (when VALID)
 * @flags:	RUST_GUP_MIRROR_VALID, _WRITE, _ERROR; 0 for an entry never
 *		filled or invalidated since
 * @order:	order of the CPU mapping the page is part of (9 for a
 *		PMD-mapped THP): hmm_pfn_to_map_order()
 */
struct rust_gup_mirror_entry {
	__u64 pfn;
	__u32 flags;
	__u32 order;
};

/**
 * struct rust_gup_mirror_read - read a mirror's entries
 * @id:			the mirror
 * @nr:			in: room at @entries; out: entries filled
 * @first:		index of the first entry (page) to read
 * @entries:		user pointer to struct rust_gup_mirror_entry[nr]
 * @mirror_pages:	out: pages of the mirror
 * @invalidations:	out: invalidation callbacks the mirror has seen
 */
struct rust_gup_mirror_read {
	__u32 id;
	__u32 nr;
	__u64 first;
	__u64 entries;
	__u64 mirror_pages;
	__u64 invalidations;
};

/* RUST_GUP_IOC_MIRROR_DMA: a valid entry whose page cannot be DMA-mapped. */
#define RUST_GUP_MIRROR_NO_DMA	(1u << 3)

/**
 * struct rust_gup_mirror_dma - one entry of a mirror, as its client sees it
 * @addr:	DMA address of the page (when VALID)
 * @flags:	RUST_GUP_MIRROR_VALID: the entry is valid and mapped at @addr;
 *		with RUST_GUP_MIRROR_WRITE, DMA_BIDIRECTIONAL (the device may
 *		write), without, DMA_TO_DEVICE. RUST_GUP_MIRROR_NO_DMA: the
 *		entry is valid, but its page is not mapped (not ordinary
 *		memory). 0: the entry is not valid.
 * @reserved:	zero
 *
 * RUST_GUP_IOC_MIRROR_DMA takes a struct rust_gup_mirror_read whose
 * @entries point to struct rust_gup_mirror_dma[@nr]; @mirror_pages and
 * @invalidations are filled as for RUST_GUP_IOC_MIRROR_READ. Each entry is
 * read under the mirror's lock, so an address is given only for an entry
 * valid at that moment. -EINVAL for a mirror not made with
 * RUST_GUP_MIRROR_F_DMA, -ENODEV once its client's driver was unbound.
 */
struct rust_gup_mirror_dma {
	__u64 addr;
	__u32 flags;
	__u32 reserved;
};

/* RUST_GUP_IOC_MIRROR_ACCESS: the device writes, rather than reads. */
#define RUST_GUP_MIRROR_ACCESS_WRITE	(1u << 0)

/**
 * struct rust_gup_mirror_access - "device" access through a mirror
 * @id:		the mirror
 * @flags:	RUST_GUP_MIRROR_ACCESS_WRITE or 0
 * @addr:	user address in the mirrored range where access starts
 * @len:	bytes, at most RUST_GUP_MIRROR_MAX_PAGES pages' worth
 * @buf:	user buffer the data goes to (read) or comes from (write)
 *
 * Each page is accessed through its entry under the mirror's lock, as a
 * device would by DMA, never through the CPU page table: -EAGAIN when an
 * entry is not valid (never filled, or invalidated since: fault again),
 * -EPERM when writing through a read-only entry, -EFAULT for an ERROR
 * entry, -EREMOTEIO for memory that is not ordinary RAM. A write marks the
 * pages dirty. On an error, pages before the failing one were accessed.
 */
struct rust_gup_mirror_access {
	__u32 id;
	__u32 flags;
	__u64 addr;
	__u64 len;
	__u64 buf;
};

/*
 * Part 4: DMA mapping next to GUP. A driver that DMAs to pinned memory
 * wants DMA addresses, not struct pages; for PCI P2PDMA pages only the DMA
 * layer knows the right address (a PCI bus address when the transfer
 * stays below a common switch, a CPU physical one through the host
 * bridge). RUST_GUP_IOC_DMA_MAP pins a range and maps it with
 * dma_map_sgtable() for a client PCI function; the result is a set of the
 * file, like RUST_GUP_IOC_PIN's, that QUERY describes page by page,
 * RUST_GUP_IOC_DMA_SEGMENTS reads as DMA segments, and UNPIN (or the
 * file's release) unmaps and then unpins.
 */

/**
 * struct rust_gup_dma_map - pin a range and DMA-map it for a PCI function
 * @addr:		start, page aligned
 * @size:		bytes; on return, the bytes pinned and mapped (a
 *			prefix, as for RUST_GUP_IOC_PIN)
 * @op:			a pin: RUST_GUP_OP_PIN_*
 * @flags:		RUST_GUP_F_*. WRITE | DIRTY maps DMA_BIDIRECTIONAL
 *			(the device may write; its writes are dirtied on
 *			release), no WRITE DMA_TO_DEVICE; WRITE without DIRTY
 *			is -EINVAL: what the device wrote to a file page
 *			would not be written back. P2PDMA accepts
 *			PCI peer-to-peer pages (a revocable set); LONGTERM
 *			(and ACCOUNT) makes a registration, as RDMA does;
 *			both, a revocable registration of P2PDMA memory.
 * @client:		RUST_GUP_PCI_ID() of the function that does the DMA;
 *			it must be bound to a driver: unbinding the driver
 *			unmaps the function's mappings first (their pins
 *			stay until UNPIN; DMA_SEGMENTS then gives -ENODEV)
 * @id:			out: the set's id, for QUERY, DMA_SEGMENTS and UNPIN
 * @nr_segments:	out: DMA segments of the mapping
 * @bus_segments:	out: how many of them are PCI bus addresses
 *			(RUST_GUP_DMA_BUS_ADDR)
 * @fd:			with RUST_GUP_OP_PIN_MEMFD, the memfd (@addr is then
 *			the offset in it; see "Folio pins of a memfd");
 *			otherwise zero
 * @reserved:		zero
 *
 * ABI version 8's number, for the structure without @fd and @reserved, is
 * answered too (without RUST_GUP_OP_PIN_MEMFD).
 *
 * Needs CAP_SYS_RAWIO: the memory becomes reachable by the device.
 * Errors: -ENODEV when no such function exists or no driver is bound to
 * it; -EREMOTEIO when a P2PDMA page's provider cannot be reached by the
 * client (pci_p2pdma_distance() < 0: no common upstream bridge and no
 * whitelisted host bridge), or, without RUST_GUP_F_P2PDMA, for a range
 * that starts with P2PDMA pages; -ENODEV too when the driver of a
 * provider of its P2PDMA pages is being unbound; -EBUSY, with WRITE, when a
 * page is already in a mapping (of any file) that lets a device write it: the DMA
 * API does not support overlapping writable mappings (read-only ones may
 * overlap anything); -EINTR when killed while waiting for the function
 * (its driver being bound or unbound). Nothing is pinned after an error.
 */
struct rust_gup_dma_map {
	__u64 addr;
	__u64 size;
	__u32 op;
	__u32 flags;
	__u32 client;
	__u32 id;
	__u32 nr_segments;
	__u32 bus_segments;
	__s32 fd;
	__u32 reserved;
};

/* The segment is a PCI bus address (P2PDMA below a common upstream bridge). */
#define RUST_GUP_DMA_BUS_ADDR		(1u << 0)

/**
 * struct rust_gup_dma_segment - one DMA segment of a mapping
 * @addr:	DMA address, as the client device is to use it
 * @len:	bytes
 * @flags:	RUST_GUP_DMA_BUS_ADDR or 0
 */
struct rust_gup_dma_segment {
	__u64 addr;
	__u32 len;
	__u32 flags;
};

/**
 * struct rust_gup_dma_segments - read the DMA segments of a mapped set
 * @id:			the set (a RUST_GUP_IOC_DMA_MAP id)
 * @nr:			in: room at @segments; out: segments filled
 * @first:		index of the first segment to read
 * @segments:		user pointer to struct rust_gup_dma_segment[nr]
 * @nr_segments:	out: segments of the mapping
 */
struct rust_gup_dma_segments {
	__u32 id;
	__u32 nr;
	__u64 first;
	__u64 segments;
	__u64 nr_segments;
};

/*
 * Every rust_gup structure is as large as its fields together: no padding,
 * so no byte of kernel memory is left uninitialised on the way out, and
 * one layout on every ABI, 32-bit processes' included (__u64 fields sit
 * at multiples of 8 without it). The gup_test structures end in padding
 * on x86_64, which 32-bit processes do not have (see above).
 */
#define __RUST_GUP_END(type, field) \
	(__builtin_offsetof(struct type, field) + sizeof(((struct type *)0)->field))
__RUST_GUP_ABI_ASSERT(__RUST_GUP_END(gup_test, which_pages) == RUST_GUP_COMPAT_GUP_TEST_SIZE);
__RUST_GUP_ABI_ASSERT(__RUST_GUP_END(pin_longterm_test, flags) ==
		      RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_version) == 16);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_stats) == 40);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_bench) == 56);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_pin) == 40);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_page_info) == 32);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_query) == 40);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_access) == 32);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mirror) == 48);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mirror_entry) == 16);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mirror_read) == 40);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mirror_access) == 32);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mirror_dma) == 16);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_dma_map) == 48);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_dma_segment) == 16);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_dma_segments) == 32);

#define RUST_GUP_IOC_VERSION	_IOR('g', 0x40, struct rust_gup_version)
#define RUST_GUP_IOC_STATS	_IOR('g', 0x41, struct rust_gup_stats)
#define RUST_GUP_IOC_BENCH	_IOWR('g', 0x42, struct rust_gup_bench)
#define RUST_GUP_IOC_PIN	_IOWR('g', 0x43, struct rust_gup_pin)
#define RUST_GUP_IOC_UNPIN	_IOW('g', 0x44, __u32)
#define RUST_GUP_IOC_QUERY	_IOWR('g', 0x45, struct rust_gup_query)
#define RUST_GUP_IOC_MIRROR	_IOWR('g', 0x46, struct rust_gup_mirror)
#define RUST_GUP_IOC_MIRROR_FAULT _IOWR('g', 0x47, struct rust_gup_mirror)
#define RUST_GUP_IOC_MIRROR_READ _IOWR('g', 0x48, struct rust_gup_mirror_read)
#define RUST_GUP_IOC_MIRROR_ACCESS _IOW('g', 0x49, struct rust_gup_mirror_access)
#define RUST_GUP_IOC_MIRROR_DROP _IOW('g', 0x4a, __u32)
#define RUST_GUP_IOC_DMA_MAP	_IOWR('g', 0x4b, struct rust_gup_dma_map)
#define RUST_GUP_IOC_DMA_SEGMENTS _IOWR('g', 0x4c, struct rust_gup_dma_segments)
#define RUST_GUP_IOC_ACCESS	_IOW('g', 0x4d, struct rust_gup_access)
#define RUST_GUP_IOC_MIRROR_DMA	_IOWR('g', 0x4e, struct rust_gup_mirror_read)

#endif /* _UAPI_LINUX_RUST_GUP_H */
