// SPDX-License-Identifier: GPL-2.0
/* The gup_test ABI as the test kernel's own mm/gup_test.h defines it. */
#include <sys/ioctl.h>
#include <linux/types.h>

#include "mm/gup_test.h"
#include "gup_test_abi.h"

const struct abi_item gup_test_abi_ref[] = { ABI_LIST(ABI_ITEM) };
