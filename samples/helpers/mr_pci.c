// SPDX-License-Identifier: GPL-2.0
/* rust/helpers/pci.c, built once more for the rust_gup_mr module. */
#include "../../rust/helpers/pci.c"
