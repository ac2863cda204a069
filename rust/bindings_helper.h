/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of rust_gup's own bindgen pass (see Kbuild): the headers the 6.12
 * kernel crate has no bindings for, and the project's uapi header.
 *
 * bindgen cannot evaluate function-like macros such as _IOR(), so each
 * ioctl number is also given as a constant; the build strips the
 * RUST_CONST_HELPER_ prefix, as the kernel's own bindings do.
 */
#include <linux/miscdevice.h>

#include "../include/uapi/linux/rust_gup.h"

const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_VERSION = RUST_GUP_IOC_VERSION;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_STATS = RUST_GUP_IOC_STATS;
