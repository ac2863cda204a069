/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_gup: the ioctl ABI of /dev/rust_gup.
 *
 * This header is the single source of truth: the module gets it through
 * bindgen, the selftests include it.
 *
 * Commands use the ioctl type 'g'. Numbers 1 to 9 are reserved for the
 * kernel's mm/gup_test ABI; rust_gup's own commands start at 0x40 so they
 * cannot collide with commands gup_test may add.
 */
#ifndef _UAPI_LINUX_RUST_GUP_H
#define _UAPI_LINUX_RUST_GUP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RUST_GUP_DEVICE			"/dev/rust_gup"

/* Bumped for every change of this header; additions keep old numbers. */
#define RUST_GUP_ABI_VERSION		1

/**
 * struct rust_gup_version - what the loaded module implements
 * @abi_version:	RUST_GUP_ABI_VERSION of the module
 * @reserved:		zero
 * @features:		RUST_GUP_FEATURE_* bits
 */
struct rust_gup_version {
	__u32 abi_version;
	__u32 reserved;
	__u64 features;
};

/**
 * struct rust_gup_stats - module-wide counters, for leak checks
 * @open_files:		files open on the device, the caller's included
 * @reserved:		zero
 */
struct rust_gup_stats {
	__u32 open_files;
	__u32 reserved;
};

#define RUST_GUP_IOC_VERSION	_IOR('g', 0x40, struct rust_gup_version)
#define RUST_GUP_IOC_STATS	_IOR('g', 0x41, struct rust_gup_stats)

#endif /* _UAPI_LINUX_RUST_GUP_H */
