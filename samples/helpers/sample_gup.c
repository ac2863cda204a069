// SPDX-License-Identifier: GPL-2.0
/* rust/helpers/gup.c, built once more for the rust_gup_sample module. */
#include "../../rust/helpers/gup.c"
