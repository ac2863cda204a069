// SPDX-License-Identifier: GPL-2.0

//! The forms the other cases break, written the right way: this one must
//! build, so that each failure comes from its rule and not from a case
//! that cannot compile at all.
//!
//! expect: builds

use crate::kernel_ext::{
    gup::{
        Access, GetOptions, GotPages, GupOptions, Layout, LongTerm, MaybeP2pdma, PinnedPages,
        ShortTerm, TakePages, UserPageRange,
    },
    mm::{AddressSpace, CurrentMm},
};
use kernel::prelude::*;

/// Short-term pins for one operation, taken with the fast entry point.
fn short_term(mm: &CurrentMm, range: UserPageRange) -> Result {
    PinnedPages::<ShortTerm>::scoped(GupOptions::new(Access::WriteDirty), 8, |pins| {
        pins.take_fast(mm, range, 8)?;
        let mut buf = [0u8; 8];
        pins.read(0, 0, &mut buf)
    })
}

/// Long-term pins kept by their owner, taken under the mmap lock.
fn long_term(mm: &CurrentMm, range: UserPageRange) -> Result<PinnedPages<LongTerm>> {
    let mut pins = PinnedPages::<LongTerm>::new(GupOptions::new(Access::Write), Layout::Runs)?;
    let lock = mm.mmap_read_lock_killable()?;
    pins.take_locked(&lock, range, 8)?;
    Ok(pins)
}

/// P2PDMA pins, for one operation.
fn p2pdma(mm: &CurrentMm, range: UserPageRange) -> Result {
    PinnedPages::<MaybeP2pdma>::scoped(GupOptions::new(Access::Read), 8, |pins| {
        pins.take_fast(mm, range, 8).map(|_| ())
    })
}

/// Page references, which are never dirtied.
fn got(mm: &CurrentMm, range: UserPageRange) -> Result<GotPages> {
    let mut pages = GotPages::new(
        GetOptions::new(GupOptions::new(Access::Write))?,
        Layout::Runs,
    )?;
    pages.take_fast(mm, range, 8)?;
    Ok(pages)
}
