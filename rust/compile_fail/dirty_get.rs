// SPDX-License-Identifier: GPL-2.0

//! FOLL_GET references dirtied on release (pin_user_pages.rst, case 5:
//! "INCORRECT"): `GotPages` takes `GetOptions`, which cannot hold
//! `Access::WriteDirty`, not the pins' `GupOptions`.
//!
//! expect: expected `GetOptions`, found `GupOptions`

use crate::kernel_ext::gup::{Access, GotPages, GupOptions, Layout};
use kernel::prelude::*;

fn dirtied_references() -> Result<GotPages> {
    GotPages::new(GupOptions::new(Access::WriteDirty), Layout::Runs)
}
