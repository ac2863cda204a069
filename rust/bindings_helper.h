/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of rust_gup's own bindgen pass (see Kbuild): the headers the
 * kernel crate has no bindings for (bindgen_parameters and, on 6.12,
 * bindgen_parameters.6.12 choose what is made from them), the project's C helpers, and its uapi
 * headers.
 *
 * bindgen cannot evaluate function-like macros such as _IOR(), so each
 * ioctl number is also given as a constant; the build strips the
 * RUST_CONST_HELPER_ prefix, as the kernel's own bindings do.
 */
#include <linux/fs.h>
#include <linux/hmm.h>
#include <linux/miscdevice.h>
#include <linux/mmu_notifier.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>

#include "../include/uapi/linux/rust_gup.h"
#include "../include/uapi/linux/rust_gup_mr.h"
#include "../include/uapi/linux/rust_gup_sample.h"
#include "helpers/helpers.h"

/* __bitwise fmode_t values, which bindgen leaves out. */
const unsigned int RUST_CONST_HELPER_FMODE_READ = (__force unsigned int)FMODE_READ;
const unsigned int RUST_CONST_HELPER_FMODE_WRITE = (__force unsigned int)FMODE_WRITE;

const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_VERSION = RUST_GUP_IOC_VERSION;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_STATS = RUST_GUP_IOC_STATS;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_BENCH = RUST_GUP_IOC_BENCH;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_PIN = RUST_GUP_IOC_PIN;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_UNPIN = RUST_GUP_IOC_UNPIN;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_QUERY = RUST_GUP_IOC_QUERY;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR = RUST_GUP_IOC_MIRROR;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR_FAULT = RUST_GUP_IOC_MIRROR_FAULT;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR_READ = RUST_GUP_IOC_MIRROR_READ;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR_ACCESS = RUST_GUP_IOC_MIRROR_ACCESS;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR_DROP = RUST_GUP_IOC_MIRROR_DROP;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_MIRROR_DMA = RUST_GUP_IOC_MIRROR_DMA;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_DMA_MAP = RUST_GUP_IOC_DMA_MAP;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_DMA_SEGMENTS = RUST_GUP_IOC_DMA_SEGMENTS;
const __u32 RUST_CONST_HELPER_RUST_GUP_IOC_ACCESS = RUST_GUP_IOC_ACCESS;
const __u32 RUST_CONST_HELPER_RUST_GUP_SAMPLE_COPY = RUST_GUP_SAMPLE_COPY;
const __u32 RUST_CONST_HELPER_RUST_GUP_MR_REG = RUST_GUP_MR_REG;
const __u32 RUST_CONST_HELPER_RUST_GUP_MR_DEREG = RUST_GUP_MR_DEREG;
const __u32 RUST_CONST_HELPER_RUST_GUP_MR_WRITE = RUST_GUP_MR_WRITE;
const __u32 RUST_CONST_HELPER_RUST_GUP_MR_READ = RUST_GUP_MR_READ;
const __u32 RUST_CONST_HELPER_GUP_FAST_BENCHMARK = GUP_FAST_BENCHMARK;
const __u32 RUST_CONST_HELPER_PIN_FAST_BENCHMARK = PIN_FAST_BENCHMARK;
const __u32 RUST_CONST_HELPER_PIN_LONGTERM_BENCHMARK = PIN_LONGTERM_BENCHMARK;
const __u32 RUST_CONST_HELPER_GUP_BASIC_TEST = GUP_BASIC_TEST;
const __u32 RUST_CONST_HELPER_PIN_BASIC_TEST = PIN_BASIC_TEST;
const __u32 RUST_CONST_HELPER_DUMP_USER_PAGES_TEST = DUMP_USER_PAGES_TEST;
const __u32 RUST_CONST_HELPER_PIN_LONGTERM_TEST_START = PIN_LONGTERM_TEST_START;
const __u32 RUST_CONST_HELPER_PIN_LONGTERM_TEST_STOP = PIN_LONGTERM_TEST_STOP;
const __u32 RUST_CONST_HELPER_PIN_LONGTERM_TEST_READ = PIN_LONGTERM_TEST_READ;
