// SPDX-License-Identifier: GPL-2.0

//! The page sets an open file holds, whatever holds their pages: pins or
//! references as GUP took them, or pins DMA-mapped for a device. All are
//! released when the file is.

#![forbid(unsafe_code)]

use kernel::{
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::ids::{self, IdTable};
use crate::kernel_ext::{
    dma::{DmaMapped, DmaSegment},
    gup::{CpuPages, GotPages, LongTerm, PageSet, PinKind, PinnedPages},
    mm::PinnedVmCharge,
    uapi,
};
use crate::stats::{Counted, CHARGED_PAGES, HELD_PAGES, HELD_SETS};
use crate::take::{with_held, Held};

/// How many sets one file may hold at once, besides the long-term test's.
const MAX_SETS: usize = 1024;

/// What a file holds, as the commands that read a set see it.
pub(crate) trait HeldSet: Send + Sync {
    /// The pages the set holds.
    fn pages(&self) -> &dyn PageSet;

    /// CPU access to the pages, for a set of pins of ordinary memory that
    /// no device owns; `None` for others.
    fn cpu(&self) -> Option<&dyn CpuPages>;

    /// The DMA segments of a set mapped for a device (`None` for one that
    /// is not); `ENODEV` once the unbind of the device's driver revoked
    /// them.
    fn dma_segments(&self) -> Option<Result<&[DmaSegment]>>;
}

/// What holds the pages of a set.
pub(crate) trait Holding: Send + Sync + 'static {
    fn pages(&self) -> &dyn PageSet;

    fn cpu(&self) -> Option<&dyn CpuPages> {
        None
    }

    fn dma_segments(&self) -> Option<Result<&[DmaSegment]>> {
        None
    }
}

impl<K: PinKind + 'static> Holding for PinnedPages<K> {
    fn pages(&self) -> &dyn PageSet {
        self
    }

    fn cpu(&self) -> Option<&dyn CpuPages> {
        PinnedPages::cpu(self)
    }
}

impl Holding for GotPages {
    fn pages(&self) -> &dyn PageSet {
        self
    }
}

impl<K: PinKind + 'static> Holding for DmaMapped<K> {
    fn pages(&self) -> &dyn PageSet {
        self.pins()
    }

    fn dma_segments(&self) -> Option<Result<&[DmaSegment]>> {
        Some(self.segments())
    }
}

/// A set: its holding and what it is counted and charged as. Fields drop
/// in order: the pages are released (after the DMA mapping, if any, is
/// undone) before a registration's charge is given back, as RDMA does.
pub(crate) struct Set<H> {
    pub(crate) holding: H,
    _charge: Option<(PinnedVmCharge, Counted)>,
    _sets: Counted,
    _pages: Counted,
}

impl<H: Holding> Set<H> {
    /// `holding` as a set, with the charge made for it, if any.
    pub(crate) fn new(holding: H, charge: Option<PinnedVmCharge>) -> Result<Arc<Self>> {
        let pages = holding.pages().len() as u64;
        Ok(Arc::new(
            Set {
                holding,
                _charge: charge.map(|c| {
                    let n = c.pages() as u64;
                    (c, Counted::new(&CHARGED_PAGES, n))
                }),
                _sets: Counted::new(&HELD_SETS, 1),
                _pages: Counted::new(&HELD_PAGES, pages),
            },
            GFP_KERNEL,
        )?)
    }
}

impl<H: Holding> HeldSet for Set<H> {
    fn pages(&self) -> &dyn PageSet {
        self.holding.pages()
    }

    fn cpu(&self) -> Option<&dyn CpuPages> {
        self.holding.cpu()
    }

    fn dma_segments(&self) -> Option<Result<&[DmaSegment]>> {
        self.holding.dma_segments()
    }
}

/// Pages as GUP took them, as a set.
pub(crate) fn held_set(held: Held, charge: Option<PinnedVmCharge>) -> Result<Arc<dyn HeldSet>> {
    Ok(with_held!(held, h => Set::new(h, charge)?))
}

/// The long-term test's set (`PIN_LONGTERM_TEST_START`).
pub(crate) type LongtermTest = Set<PinnedPages<LongTerm>>;

/// What one open file holds: the long-term test's set (id 0) and the sets
/// of `RUST_GUP_IOC_PIN` and `_DMA_MAP`; see [`IdTable`] for why they are
/// reference counted.
#[derive(Default)]
pub(crate) struct FileSets {
    pub(crate) longterm_test: Option<Arc<LongtermTest>>,
    sets: IdTable<dyn HeldSet, MAX_SETS>,
}

impl FileSets {
    /// `ENOSPC` when the file holds as many sets as it may.
    pub(crate) fn check_room(&self) -> Result {
        self.sets.check_room()
    }

    /// A reference to set `id`, made by `RUST_GUP_IOC_PIN` or `_DMA_MAP`.
    pub(crate) fn get(&self, id: u32) -> Result<Arc<dyn HeldSet>> {
        self.sets.get(id)
    }

    /// Like [`Self::get`], and id 0 names the long-term test's set.
    pub(crate) fn get_any(&self, id: u32) -> Result<Arc<dyn HeldSet>> {
        if id == uapi::RUST_GUP_ID_LONGTERM_TEST {
            let test: Arc<dyn HeldSet> = self.longterm_test.clone().ok_or(ENOENT)?;
            return Ok(test);
        }
        self.get(id)
    }

    /// Takes set `id` out, for the caller to drop outside the lock.
    pub(crate) fn remove(&mut self, id: u32) -> Option<Arc<dyn HeldSet>> {
        self.sets.remove(id)
    }
}

/// Adds `set` to the file's sets and calls `report` with its id outside
/// the lock; if that fails, the set goes again.
pub(crate) fn publish(
    sets: &Mutex<FileSets>,
    set: Arc<dyn HeldSet>,
    report: impl FnOnce(u32) -> Result,
) -> Result {
    ids::publish(sets, |s| &mut s.sets, set, report)
}
