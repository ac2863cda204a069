/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The gup_test ABI as a list, expanded once against the kernel's
 * mm/gup_test.h (gup_test_abi_ref.c) and once against rust_gup's uapi
 * header (rust_gup_abi.c), so the two can be compared value by value.
 */
#include <stddef.h>

struct abi_item {
	const char *name;
	unsigned long value;
};

#define ABI_LIST(X)							\
	X(GUP_FAST_BENCHMARK) X(PIN_FAST_BENCHMARK)			\
	X(PIN_LONGTERM_BENCHMARK) X(GUP_BASIC_TEST) X(PIN_BASIC_TEST)	\
	X(DUMP_USER_PAGES_TEST) X(PIN_LONGTERM_TEST_START)		\
	X(PIN_LONGTERM_TEST_STOP) X(PIN_LONGTERM_TEST_READ)		\
	X(GUP_TEST_MAX_PAGES_TO_DUMP)					\
	X(GUP_TEST_FLAG_DUMP_PAGES_USE_PIN)				\
	X(PIN_LONGTERM_TEST_FLAG_USE_WRITE)				\
	X(PIN_LONGTERM_TEST_FLAG_USE_FAST)				\
	X(sizeof(struct gup_test))					\
	X(offsetof(struct gup_test, get_delta_usec))			\
	X(offsetof(struct gup_test, put_delta_usec))			\
	X(offsetof(struct gup_test, addr))				\
	X(offsetof(struct gup_test, size))				\
	X(offsetof(struct gup_test, nr_pages_per_call))			\
	X(offsetof(struct gup_test, gup_flags))				\
	X(offsetof(struct gup_test, test_flags))			\
	X(offsetof(struct gup_test, which_pages))			\
	X(sizeof(((struct gup_test *)0)->which_pages))			\
	X(sizeof(struct pin_longterm_test))				\
	X(offsetof(struct pin_longterm_test, addr))			\
	X(offsetof(struct pin_longterm_test, size))			\
	X(offsetof(struct pin_longterm_test, flags))

#define ABI_ITEM(expr) { #expr, (unsigned long)(expr) },
#define ABI_COUNT(expr) + 1
#define ABI_NR (0 ABI_LIST(ABI_COUNT))
