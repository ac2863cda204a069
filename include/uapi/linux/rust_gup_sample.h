/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_gup_sample: the ioctl ABI of /dev/rust_gup_sample, the sample
 * driver that copies between two user buffers through pinned pages.
 */
#ifndef _UAPI_LINUX_RUST_GUP_SAMPLE_H
#define _UAPI_LINUX_RUST_GUP_SAMPLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "rust_gup_abi_assert.h"

#define RUST_GUP_SAMPLE_DEVICE	"/dev/rust_gup_sample"

/**
 * struct rust_gup_sample_copy - copy @len bytes from @src to @dst
 * @src:	page-aligned user address to read
 * @dst:	page-aligned user address to write
 * @len:	bytes, a non-zero multiple of the page size
 */
struct rust_gup_sample_copy {
	__u64 src;
	__u64 dst;
	__u64 len;
};

/* No padding: one layout for 64-bit and 32-bit processes. */
__RUST_GUP_ABI_ASSERT(sizeof(struct rust_gup_sample_copy) == 24);

#define RUST_GUP_SAMPLE_COPY	_IOW('g', 0x80, struct rust_gup_sample_copy)

#endif /* _UAPI_LINUX_RUST_GUP_SAMPLE_H */
