// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup's uapi header carries the kernel's gup_test ABI unchanged: every
 * ioctl number, flag, struct size and field offset equals the one in the
 * test kernel's mm/gup_test.h (linked in from gup_test_abi_ref.c).
 */
#include <sys/ioctl.h>
#include <linux/rust_gup.h>

#include "kselftest.h"
#include "gup_test_abi.h"

extern const struct abi_item gup_test_abi_ref[];
static const struct abi_item ours[] = { ABI_LIST(ABI_ITEM) };

int main(void)
{
	ksft_print_header();
	ksft_set_plan(ABI_NR);
	for (int i = 0; i < ABI_NR; i++)
		ksft_test_result(ours[i].value == gup_test_abi_ref[i].value,
				 "%s: rust_gup %#lx, mm/gup_test.h %#lx\n", ours[i].name,
				 ours[i].value, gup_test_abi_ref[i].value);
	ksft_finished();
}
