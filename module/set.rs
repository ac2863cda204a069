// SPDX-License-Identifier: GPL-2.0

//! The page sets an open file holds, whatever holds their pages: pins or
//! references as GUP took them, pins DMA-mapped for a device, or P2PDMA
//! pins (mapped or not) that the unbind of a provider's driver revokes.
//! All are released when the file is.

#![forbid(unsafe_code)]

use core::ops::Deref;
use kernel::{
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::ids::{self, IdTable};
use crate::kernel_ext::{
    dma::{DmaMapped, DmaSegment, MapPins, Revocable, RevocableGuard},
    gup::{CpuPages, GotPages, LongTerm, NoPages, PageSet, PinKind, PinnedPages},
    memfd::MemfdPins,
    mm::PinnedVmCharge,
    uapi,
};
use crate::stats::{Accounting, Counted, HELD_SETS};
use crate::take::{with_held, ForSet};

/// How many sets one file may hold at once, besides the long-term test's.
const MAX_SETS: usize = 1024;

/// The pages of a set, borrowed: a revocable set's stay locked while this
/// lives, and no user memory is to be touched meanwhile (the unbind of a
/// provider may be waiting).
pub(crate) enum Pages<'a> {
    Held(&'a dyn PageSet),
    Revocable(RevocableGuard<'a, Accounting>),
}

impl<'a> Deref for Pages<'a> {
    type Target = dyn PageSet + 'a;

    fn deref(&self) -> &Self::Target {
        match self {
            Pages::Held(pages) => *pages,
            Pages::Revocable(guard) => match guard.as_ref() {
                Some(state) => state.holding.pages(),
                None => &NoPages,
            },
        }
    }
}

/// The first DMA segments of `all` from `first` on, copied to `out`: how
/// many, and how many `all` has. `EINVAL` past the end.
fn copy_segments(
    all: &[DmaSegment],
    first: usize,
    out: &mut [DmaSegment],
) -> Result<(usize, usize)> {
    let wanted = all.get(first..).ok_or(EINVAL)?;
    let n = wanted.len().min(out.len());
    out[..n].copy_from_slice(&wanted[..n]);
    Ok((n, all.len()))
}

/// What a file holds, as the commands that read a set see it.
pub(crate) trait HeldSet: Send + Sync {
    /// The pages the set holds; none once revoked.
    fn pages(&self) -> Pages<'_>;

    /// Whether the unbind of a provider's driver revoked the set.
    fn revoked(&self) -> bool;

    /// CPU access to the pages, for a set of pins of ordinary memory that
    /// no device owns; `None` for others.
    fn cpu(&self) -> Option<&dyn CpuPages>;

    /// Copies DMA segments, from `first` on, to `out`: how many, and how
    /// many the set has. `EINVAL` for a set that is not mapped for a device
    /// or past the end, `ENODEV` once the unbind of the device's driver (or
    /// of a provider's) revoked them.
    fn dma_segments(&self, first: usize, out: &mut [DmaSegment]) -> Result<(usize, usize)>;
}

/// What holds the pages of a set, apart from its accounting.
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

impl Holding for MemfdPins {
    fn pages(&self) -> &dyn PageSet {
        self
    }

    fn cpu(&self) -> Option<&dyn CpuPages> {
        Some(self)
    }
}

impl<P: MapPins> Holding for DmaMapped<P> {
    fn pages(&self) -> &dyn PageSet {
        self.pins()
    }

    fn dma_segments(&self) -> Option<Result<&[DmaSegment]>> {
        Some(self.segments())
    }
}

/// A holding that nothing revokes, with its accounting. Fields drop in
/// order: the pages are released (after the DMA mapping, if any, is
/// undone) before the charge is given back.
pub(crate) struct Accounted<H> {
    pub(crate) holding: H,
    _accounting: Accounting,
}

/// A set: what holds its pages, counted as a set.
pub(crate) struct Set<H> {
    pub(crate) holding: H,
    _sets: Counted,
}

impl<H> Set<H> {
    fn new(holding: H) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Set {
                holding,
                _sets: Counted::new(&HELD_SETS, 1),
            },
            GFP_KERNEL,
        )?)
    }
}

impl<H: Holding> Set<Accounted<H>> {
    /// `holding` as a set, with the charge made for it, if any.
    pub(crate) fn accounted(holding: H, charge: Option<PinnedVmCharge>) -> Result<Arc<Self>> {
        let accounting = Accounting::new(holding.pages(), charge);
        Self::new(Accounted {
            holding,
            _accounting: accounting,
        })
    }
}

impl<H: Holding> HeldSet for Set<Accounted<H>> {
    fn pages(&self) -> Pages<'_> {
        Pages::Held(self.holding.holding.pages())
    }

    fn revoked(&self) -> bool {
        false
    }

    fn cpu(&self) -> Option<&dyn CpuPages> {
        self.holding.holding.cpu()
    }

    fn dma_segments(&self, first: usize, out: &mut [DmaSegment]) -> Result<(usize, usize)> {
        copy_segments(
            self.holding.holding.dma_segments().ok_or(EINVAL)??,
            first,
            out,
        )
    }
}

impl Set<Revocable<Accounting>> {
    /// P2PDMA pins, held revocably, as a set.
    pub(crate) fn revocable(holding: Revocable<Accounting>) -> Result<Arc<Self>> {
        Self::new(holding)
    }
}

impl HeldSet for Set<Revocable<Accounting>> {
    fn pages(&self) -> Pages<'_> {
        Pages::Revocable(self.holding.lock())
    }

    fn revoked(&self) -> bool {
        self.holding.lock().is_none()
    }

    /// P2PDMA pages are no memory the CPU may rely on.
    fn cpu(&self) -> Option<&dyn CpuPages> {
        None
    }

    fn dma_segments(&self, first: usize, out: &mut [DmaSegment]) -> Result<(usize, usize)> {
        let state = self.holding.lock();
        let state = state.as_ref().ok_or(ENODEV)?;
        copy_segments(
            state.holding.mapped().ok_or(EINVAL)?.segments()?,
            first,
            out,
        )
    }
}

/// Pages taken for a new set, as a set.
pub(crate) fn held_set(taken: ForSet) -> Result<Arc<dyn HeldSet>> {
    Ok(match taken {
        ForSet::Held(held, charge) => with_held!(held, h => Set::accounted(h, charge)?),
        ForSet::Revocable(revocable) => Set::revocable(revocable)?,
    })
}

/// The long-term test's set (`PIN_LONGTERM_TEST_START`).
pub(crate) type LongtermTest = Set<Accounted<PinnedPages<LongTerm>>>;

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
