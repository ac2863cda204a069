// SPDX-License-Identifier: GPL-2.0
/* rust_gup's C helpers, built once more for the memory-registration sample. */
#include "../rust/helpers.c"
