/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_gup_mr: the ioctl ABI of /dev/rust_gup_mr, the sample driver that
 * registers user memory the way RDMA memory registration (and VFIO DMA
 * mapping) does: long-term pins, charged to pinned_vm, held by the file.
 */
#ifndef _UAPI_LINUX_RUST_GUP_MR_H
#define _UAPI_LINUX_RUST_GUP_MR_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "rust_gup_abi_assert.h"

#define RUST_GUP_MR_DEVICE	"/dev/rust_gup_mr"

/* The "device" may write to the region (IB_ACCESS_REMOTE_WRITE). */
#define RUST_GUP_MR_ACCESS_WRITE	1

/**
 * struct rust_gup_mr_reg - register [addr, addr + len)
 * @addr:	page aligned
 * @len:	a non-zero multiple of the page size
 * @access:	RUST_GUP_MR_ACCESS_*
 * @key:	out: the region's key
 */
struct rust_gup_mr_reg {
	__u64 addr;
	__u64 len;
	__u32 access;
	__u32 key;
};

/**
 * struct rust_gup_mr_xfer - the "device" moves data into or out of a region
 * @key:	the region
 * @reserved:	zero
 * @offset:	bytes into the region
 * @len:	bytes to move
 * @buf:	user buffer the data comes from (MR_WRITE) or goes to (MR_READ)
 */
struct rust_gup_mr_xfer {
	__u32 key;
	__u32 reserved;
	__u64 offset;
	__u64 len;
	__u64 buf;
};

/* No padding: one layout for 64-bit and 32-bit processes. */
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mr_reg) == 24);
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_mr_xfer) == 32);

#define RUST_GUP_MR_REG		_IOWR('g', 0x90, struct rust_gup_mr_reg)
#define RUST_GUP_MR_DEREG	_IOW('g', 0x91, __u32)
#define RUST_GUP_MR_WRITE	_IOW('g', 0x92, struct rust_gup_mr_xfer)
#define RUST_GUP_MR_READ	_IOW('g', 0x93, struct rust_gup_mr_xfer)

#endif /* _UAPI_LINUX_RUST_GUP_MR_H */
