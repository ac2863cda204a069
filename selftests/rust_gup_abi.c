// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI of /dev/rust_gup, for 64-bit and 32-bit processes.
 *
 * 1. The kernel's gup_test ABI unchanged: every ioctl number, flag, struct
 *    size and field offset equals the one in the test kernel's
 *    mm/gup_test.h (linked in from gup_test_abi_ref.c), in this build's
 *    ABI.
 * 2. rust_gup's own numbers and layouts (the uapi headers assert that
 *    its structures have no padding). The 64-bit build prints them, and
 *    the gup_test items, as tables (--table) when the selftests are built;
 *    the 32-bit build
 *    (rust_gup_abi32) compares its own against that table: each must be
 *    the same, but for the gup_test structures, which lose their 4 bytes
 *    of tail padding in a 32-bit process (and so the numbers of commands 1
 *    to 7 differ in their size field; see the uapi header).
 */
#include <string.h>
#include <sys/ioctl.h>
#include <linux/rust_gup.h>
#include <linux/rust_gup_mr.h>
#include <linux/rust_gup_sample.h>

#include "kselftest.h"
#include "gup_test_abi.h"

extern const struct abi_item gup_test_abi_ref[];
static const struct abi_item ours[] = { ABI_LIST(ABI_ITEM) };

#define OFF(X, type, field) X(offsetof(struct type, field))
#define RUST_GUP_ABI_LIST(X)						\
	X(RUST_GUP_ABI_VERSION) X(RUST_GUP_COMPAT_GUP_TEST_SIZE)	\
	X(RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE)			\
	X(RUST_GUP_IOC_VERSION) X(RUST_GUP_IOC_STATS)			\
	X(RUST_GUP_IOC_BENCH) X(RUST_GUP_IOC_PIN) X(RUST_GUP_IOC_UNPIN)	\
	X(RUST_GUP_IOC_QUERY) X(RUST_GUP_IOC_MIRROR)			\
	X(RUST_GUP_IOC_MIRROR_FAULT) X(RUST_GUP_IOC_MIRROR_READ)	\
	X(RUST_GUP_IOC_MIRROR_ACCESS) X(RUST_GUP_IOC_MIRROR_DROP)	\
	X(RUST_GUP_IOC_DMA_MAP) X(RUST_GUP_IOC_DMA_SEGMENTS)		\
	X(RUST_GUP_IOC_ACCESS) X(RUST_GUP_IOC_MIRROR_DMA)		\
	X(RUST_GUP_MR_REG) X(RUST_GUP_MR_DEREG) X(RUST_GUP_MR_WRITE)	\
	X(RUST_GUP_MR_READ) X(RUST_GUP_SAMPLE_COPY)			\
	X(sizeof(struct rust_gup_version))				\
	OFF(X, rust_gup_version, abi_version) OFF(X, rust_gup_version, features) \
	X(sizeof(struct rust_gup_stats))				\
	OFF(X, rust_gup_stats, mirrors) OFF(X, rust_gup_stats, held_sets)	\
	OFF(X, rust_gup_stats, held_pages)					\
	OFF(X, rust_gup_stats, charged_pages)				\
	OFF(X, rust_gup_stats, held_meta_bytes)				\
	X(sizeof(struct rust_gup_bench))				\
	OFF(X, rust_gup_bench, size) OFF(X, rust_gup_bench, op)		\
	OFF(X, rust_gup_bench, flags) OFF(X, rust_gup_bench, nr_pages_per_call) \
	OFF(X, rust_gup_bench, get_ns) OFF(X, rust_gup_bench, put_ns)		\
	OFF(X, rust_gup_bench, calls)					\
	X(sizeof(struct rust_gup_pin))					\
	OFF(X, rust_gup_pin, size) OFF(X, rust_gup_pin, op) OFF(X, rust_gup_pin, id) \
	OFF(X, rust_gup_pin, pid) OFF(X, rust_gup_pin, fd)		\
	X(sizeof(struct rust_gup_access))				\
	OFF(X, rust_gup_access, offset) OFF(X, rust_gup_access, len)	\
	OFF(X, rust_gup_access, buf)					\
	X(sizeof(struct rust_gup_page_info))				\
	OFF(X, rust_gup_page_info, zone) OFF(X, rust_gup_page_info, refcount)	\
	OFF(X, rust_gup_page_info, provider)				\
	X(sizeof(struct rust_gup_query))				\
	OFF(X, rust_gup_query, first) OFF(X, rust_gup_query, pages)		\
	OFF(X, rust_gup_query, set_pages)					\
	X(sizeof(struct rust_gup_mirror))				\
	OFF(X, rust_gup_mirror, flags) OFF(X, rust_gup_mirror, valid)		\
	OFF(X, rust_gup_mirror, ns) OFF(X, rust_gup_mirror, retries)		\
	OFF(X, rust_gup_mirror, client)					\
	X(sizeof(struct rust_gup_mirror_entry))				\
	OFF(X, rust_gup_mirror_entry, flags)				\
	X(sizeof(struct rust_gup_mirror_read))				\
	OFF(X, rust_gup_mirror_read, first) OFF(X, rust_gup_mirror_read, entries) \
	OFF(X, rust_gup_mirror_read, invalidations)			\
	X(sizeof(struct rust_gup_mirror_access))			\
	OFF(X, rust_gup_mirror_access, addr) OFF(X, rust_gup_mirror_access, len) \
	OFF(X, rust_gup_mirror_access, buf)				\
	X(sizeof(struct rust_gup_mirror_dma))				\
	OFF(X, rust_gup_mirror_dma, flags)				\
	X(sizeof(struct rust_gup_dma_map))				\
	OFF(X, rust_gup_dma_map, op) OFF(X, rust_gup_dma_map, client)		\
	OFF(X, rust_gup_dma_map, bus_segments) OFF(X, rust_gup_dma_map, fd)	\
	X(sizeof(struct rust_gup_dma_segment))				\
	OFF(X, rust_gup_dma_segment, len) OFF(X, rust_gup_dma_segment, flags)	\
	X(sizeof(struct rust_gup_dma_segments))				\
	OFF(X, rust_gup_dma_segments, first)				\
	OFF(X, rust_gup_dma_segments, segments)				\
	OFF(X, rust_gup_dma_segments, nr_segments)				\
	X(sizeof(struct rust_gup_mr_reg)) OFF(X, rust_gup_mr_reg, access)	\
	X(sizeof(struct rust_gup_mr_xfer)) OFF(X, rust_gup_mr_xfer, offset) \
	OFF(X, rust_gup_mr_xfer, buf)					\
	X(sizeof(struct rust_gup_sample_copy))				\
	OFF(X, rust_gup_sample_copy, len)

#define RUST_GUP_ABI_NR (0 RUST_GUP_ABI_LIST(ABI_COUNT))
static const struct abi_item rust_gup_abi[] = { RUST_GUP_ABI_LIST(ABI_ITEM) };

#ifdef __i386__
/* The 64-bit build's values, in RUST_GUP_ABI_LIST order (see Makefile). */
static const unsigned long long abi64[] = {
#include ABI64_TABLE
};
static const unsigned long long gup_test_abi64[] = {
#include GUP_TEST_ABI64_TABLE
};

/*
 * What a 32-bit process must see of a gup_test item, given its 64-bit
 * value: the numbers of commands 1 to 7 and the structures' sizes carry
 * the 32-bit sizes; everything else is the same.
 */
static unsigned long long gup_test_expect32(const char *name, unsigned long long v64)
{
	static const char *const struct_cmds[] = {
		"GUP_FAST_BENCHMARK", "PIN_FAST_BENCHMARK", "PIN_LONGTERM_BENCHMARK",
		"GUP_BASIC_TEST", "PIN_BASIC_TEST", "DUMP_USER_PAGES_TEST",
	};
	unsigned long long size_field = (unsigned long long)_IOC_SIZEMASK << _IOC_SIZESHIFT;

	if (!strcmp(name, "sizeof(struct gup_test)"))
		return RUST_GUP_COMPAT_GUP_TEST_SIZE;
	if (!strcmp(name, "sizeof(struct pin_longterm_test)"))
		return RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE;
	for (unsigned int i = 0; i < sizeof(struct_cmds) / sizeof(struct_cmds[0]); i++)
		if (!strcmp(name, struct_cmds[i]))
			return (v64 & ~size_field) |
			       ((unsigned long long)RUST_GUP_COMPAT_GUP_TEST_SIZE << _IOC_SIZESHIFT);
	if (!strcmp(name, "PIN_LONGTERM_TEST_START"))
		return (v64 & ~size_field) |
		       ((unsigned long long)RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE << _IOC_SIZESHIFT);
	return v64;
}
#endif

int main(int argc, char **argv)
{
#ifndef __i386__
	if (argc == 3 && !strcmp(argv[1], "--table")) {
		int gup = !strcmp(argv[2], "gup_test");

		for (int i = 0; i < (gup ? ABI_NR : RUST_GUP_ABI_NR); i++)
			printf("%#llxull, /* %s */\n",
			       (unsigned long long)(gup ? ours : rust_gup_abi)[i].value,
			       (gup ? ours : rust_gup_abi)[i].name);
		return 0;
	}
#endif
	ksft_print_header();
#ifdef __i386__
	ksft_set_plan(2 * ABI_NR + RUST_GUP_ABI_NR);
#else
	ksft_set_plan(ABI_NR);
#endif
	for (int i = 0; i < ABI_NR; i++)
		ksft_test_result(ours[i].value == gup_test_abi_ref[i].value,
				 "%s: rust_gup %#lx, mm/gup_test.h %#lx\n", ours[i].name,
				 ours[i].value, gup_test_abi_ref[i].value);
#ifdef __i386__
	for (int i = 0; i < ABI_NR; i++) {
		unsigned long long want = gup_test_expect32(ours[i].name, gup_test_abi64[i]);

		ksft_test_result(ours[i].value == want,
				 "32-bit %s: %#lx, 64-bit %#llx, expected %#llx\n", ours[i].name,
				 ours[i].value, gup_test_abi64[i], want);
	}
	for (int i = 0; i < RUST_GUP_ABI_NR; i++)
		ksft_test_result(rust_gup_abi[i].value == abi64[i],
				 "32-bit %s: %#lx, 64-bit %#llx\n", rust_gup_abi[i].name,
				 rust_gup_abi[i].value, abi64[i]);
#endif
	ksft_finished();
}
