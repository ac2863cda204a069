// SPDX-License-Identifier: GPL-2.0

//! Module-wide counts, for `RUST_GUP_IOC_STATS`. Each counted object holds
//! a [`Counted`], so a count falls back only when the object is really
//! dropped: a test that sees the counts return to their baseline knows
//! nothing leaked.

#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crate::kernel_ext::{gup::PageSet, mm::PinnedVmCharge, uapi};

/// Files open on the device.
pub(crate) static OPEN_FILES: AtomicU64 = AtomicU64::new(0);
/// HMM mirrors of all open files.
pub(crate) static MIRRORS: AtomicU64 = AtomicU64::new(0);
/// Page sets held by all open files, and their pages.
pub(crate) static HELD_SETS: AtomicU64 = AtomicU64::new(0);
pub(crate) static HELD_PAGES: AtomicU64 = AtomicU64::new(0);
/// The bytes those sets allocated to record their pages.
pub(crate) static HELD_META_BYTES: AtomicU64 = AtomicU64::new(0);
/// Pages those sets have charged to some address space's `pinned_vm`.
pub(crate) static CHARGED_PAGES: AtomicU64 = AtomicU64::new(0);

/// Adds `n` to a module-wide count for as long as it lives.
pub(crate) struct Counted {
    counter: &'static AtomicU64,
    n: u64,
}

impl Counted {
    pub(crate) fn new(counter: &'static AtomicU64, n: u64) -> Self {
        counter.fetch_add(n, Ordering::Relaxed);
        Counted { counter, n }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.n, Ordering::Relaxed);
    }
}

/// What the pages of a set are counted and charged as: the held pages and
/// the bytes that record them, and for a registration its `pinned_vm`
/// charge. Released with the pages
/// (after them: a registration's charge is given back once its pages are
/// released, as RDMA does), by the set's owner or by its revocation.
pub(crate) struct Accounting {
    _pages: Counted,
    _meta_bytes: Counted,
    _charge: Option<(PinnedVmCharge, Counted)>,
}

impl Accounting {
    /// The accounting of `pages`, whose set neither takes nor drops pages
    /// while it lives.
    pub(crate) fn new(pages: &dyn PageSet, charge: Option<PinnedVmCharge>) -> Self {
        Accounting {
            _pages: Counted::new(&HELD_PAGES, pages.len() as u64),
            _meta_bytes: Counted::new(&HELD_META_BYTES, pages.meta_bytes() as u64),
            _charge: charge.map(|c| {
                let n = c.pages() as u64;
                (c, Counted::new(&CHARGED_PAGES, n))
            }),
        }
    }
}

/// The counts as `RUST_GUP_IOC_STATS` reports them.
pub(crate) fn stats() -> uapi::rust_gup_stats {
    let count32 = |c: &AtomicU64| u32::try_from(c.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
    uapi::rust_gup_stats {
        open_files: count32(&OPEN_FILES),
        mirrors: count32(&MIRRORS),
        held_sets: HELD_SETS.load(Ordering::Relaxed),
        held_pages: HELD_PAGES.load(Ordering::Relaxed),
        charged_pages: CHARGED_PAGES.load(Ordering::Relaxed),
        held_meta_bytes: HELD_META_BYTES.load(Ordering::Relaxed),
    }
}
