// SPDX-License-Identifier: GPL-2.0

//! Bounds on the page references the layer takes: no sequence of takes
//! can bring a folio's reference count near overflow.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//! (`GUP_PIN_COUNTING_BIAS`).
//!
//! GUP notices an overflowed count only once it is negative: the next take
//! of the folio hits `WARN_ON_ONCE(folio_ref_count(folio) < 0)` (or `<= 0`)
//! in `try_get_folio()`/`try_grab_folio()` and fails. A FOLL_PIN of a small
//! folio adds `GUP_PIN_COUNTING_BIAS` (1024) to its count, one of a large
//! folio 1 (and 1 to its pin count), a FOLL_GET 1 per page, the zero page
//! included. One page can be taken without limit: mapped at many addresses
//! (a shared file page mapped side by side, a KSM page, the zero page), in
//! sets kept across calls, through files opened many times. A few dozen
//! sets of one page mapped a few thousand times reach 2^31.
//!
//! Two bounds keep every count below `i32::MAX`, whatever user space does:
//!
//! - **Kept sets are checked per folio.** A holder that keeps pages past a
//!   call (runs: PIN, DMA_MAP, registrations, revocable sets, the long-term
//!   test; memfd folio pins) checks each folio of each GUP call once the
//!   call returns: one whose count is then above [`MAX_FOLIO_REFS`] (2^28)
//!   fails the take with `EOVERFLOW`, and everything it took is released.
//!   A check that passes saw the count with all kept references in it (of
//!   every module), so the kept references to one folio never exceed 2^28.
//! - **Unchecked references are reserved.** The references of a GUP call
//!   before its check, and those of holders that keep pages for one call
//!   only (page arrays: the gup_test commands, BENCH, scoped pins, which
//!   are not checked page by page: it would cost the benchmark's cheapest
//!   cells, THP pages 512 per call, a measurable amount per page), are
//!   reserved first, at their worst case (1024 per page pinned, 1 per page
//!   referenced), against a module-wide budget of [`MAX_UNCHECKED_REFS`]
//!   (2^29) references: [`UncheckedRefs`]. Each module that compiles the
//!   layer has its own (three in this tree: rust_gup and the two samples).
//!
//! A count is then at most 2^28 + 3 * 2^29 plus what the rest of the
//! kernel holds, 2^28 short of overflow. The check costs one C call per
//! GUP call, one read of a count per folio (per page of small folios,
//! which GUP itself wrote) and a compare per page; the budget two atomic
//! operations per take.

use super::bindings;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

/// The most references a folio may have after a kept set's take: 2^18
/// pins of one small page, `i32::MAX / 8`.
pub(crate) const MAX_FOLIO_REFS: i32 = 1 << 28;

/// The most references a module's takes may hold unchecked at once: the
/// worst case of 2 GiB of 4 KiB pages pinned by page arrays.
pub(crate) const MAX_UNCHECKED_REFS: usize = 1 << 29;

/// The references one page of a take adds to its folio at most: a FOLL_PIN
/// of a small folio.
pub(crate) const PIN_REFS_PER_PAGE: usize = bindings::GUP_PIN_COUNTING_BIAS as usize;

/// The references one page of a take adds to its folio: a FOLL_GET.
pub(crate) const GET_REFS_PER_PAGE: usize = 1;

/// The references reserved, module-wide.
static UNCHECKED: AtomicUsize = AtomicUsize::new(0);

/// `EOVERFLOW`, which the 6.12 `kernel::error::code` does not name: a
/// folio with as many references as a take may leave.
pub(crate) fn eoverflow() -> Error {
    Error::from_errno(-(bindings::EOVERFLOW as i32))
}

/// A reservation of references that a take may add to folios without
/// checking them, against the module-wide budget; given back when
/// dropped.
///
/// # Invariants
///
/// `refs` references are counted in `UNCHECKED` for this value.
pub(crate) struct UncheckedRefs {
    refs: usize,
}

impl UncheckedRefs {
    /// An empty reservation.
    const fn none() -> Self {
        // INVARIANT: nothing counted.
        UncheckedRefs { refs: 0 }
    }

    /// Reserves `refs` references: `EINVAL` when they are more than the
    /// whole budget (a page array of more than 2 GiB of 4 KiB pins),
    /// `EAGAIN` when concurrent takes hold the rest of it.
    pub(crate) fn new(refs: usize) -> Result<Self> {
        let mut this = Self::none();
        this.grow(refs)?;
        Ok(this)
    }

    /// Reserves `refs` more: `EINVAL` when the reservation would be more
    /// than the whole budget, `EAGAIN` as for [`Self::new`]; on failure the
    /// reservation is unchanged.
    pub(crate) fn grow(&mut self, refs: usize) -> Result {
        // `self.refs <= MAX_UNCHECKED_REFS` (it is counted): no underflow.
        if refs > MAX_UNCHECKED_REFS - self.refs {
            return Err(EINVAL);
        }
        UNCHECKED
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(refs).filter(|&n| n <= MAX_UNCHECKED_REFS)
            })
            .map_err(|_| EAGAIN)?;
        // INVARIANT: counted just above.
        self.refs += refs;
        Ok(())
    }
}

impl Drop for UncheckedRefs {
    fn drop(&mut self) {
        if self.refs != 0 {
            UNCHECKED.fetch_sub(self.refs, Ordering::Relaxed);
        }
    }
}

/// Whether a folio of `pages`, the held pages of one GUP call, has more
/// references than a take may leave ([`MAX_FOLIO_REFS`]). One C call for
/// all of them: a read of a count per folio, two compares per page inside
/// a huge one.
///
/// # Safety
///
/// The pages are held.
pub(crate) unsafe fn pages_over_limit(pages: &mut [*mut bindings::page]) -> bool {
    // SAFETY: the pages are held, as the caller guarantees; the helper
    // reads `pages.len()` entries.
    unsafe {
        bindings::rust_gup_folios_max_refs(pages.as_mut_ptr(), pages.len() as kernel::ffi::c_ulong)
            > MAX_FOLIO_REFS
    }
}

/// Whether `folio`, held, has more references than a take may leave.
///
/// # Safety
///
/// The folio is held.
pub(crate) unsafe fn folio_over_limit(folio: *mut bindings::folio) -> bool {
    // SAFETY: the folio is held, as the caller guarantees.
    unsafe { bindings::rust_gup_folio_ref_count(folio) > MAX_FOLIO_REFS }
}
