// SPDX-License-Identifier: GPL-2.0

//! pin_user_pages() without the mmap lock it must be called under: the
//! locked entry point takes the lock's guard, not the address space.
//!
//! expect: expected `&MmapReadGuard<'_, CurrentMm>`, found `&CurrentMm`

use crate::kernel_ext::{
    gup::{PinnedPages, ShortTerm, TakePages, UserPageRange},
    mm::CurrentMm,
};
use kernel::prelude::*;

fn unlocked(mm: &CurrentMm, pins: &mut PinnedPages<ShortTerm>, range: UserPageRange) -> Result {
    pins.take_locked(mm, range, 8).map(|_| ())
}
