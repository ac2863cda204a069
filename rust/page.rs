// SPDX-License-Identifier: GPL-2.0

//! What the layer says about a page it holds, and CPU access to the
//! contents of ordinary pages.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/highmem.h`](srctree/include/linux/highmem.h).
//!
//! The 6.12 `kernel::page::Page` owns the pages it describes (it is an
//! allocation); the pages here belong to user space and are only held, by
//! a pin or a reference, so this module works on borrowed page pointers.

use super::{
    bindings,
    pci::{eremoteio, P2pdmaPage, PciAddress},
};
use core::ptr::{addr_of, NonNull};
use kernel::{
    ffi::{c_ulong, c_void},
    page::PAGE_SIZE,
    prelude::*,
};

/// The zone a page is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Zone {
    Dma,
    Dma32,
    Normal,
    Movable,
    Device,
    /// One the project does not name (`ZONE_HIGHMEM` on 32-bit kernels).
    Other,
}

impl Zone {
    fn from_zonenum(zone: i32) -> Self {
        let Ok(zone) = bindings::zone_type::try_from(zone) else {
            return Zone::Other;
        };
        match zone {
            #[cfg(CONFIG_ZONE_DMA)]
            bindings::zone_type_ZONE_DMA => Zone::Dma,
            #[cfg(CONFIG_ZONE_DMA32)]
            bindings::zone_type_ZONE_DMA32 => Zone::Dma32,
            bindings::zone_type_ZONE_NORMAL => Zone::Normal,
            bindings::zone_type_ZONE_MOVABLE => Zone::Movable,
            #[cfg(CONFIG_ZONE_DEVICE)]
            bindings::zone_type_ZONE_DEVICE => Zone::Device,
            _ => Zone::Other,
        }
    }
}

/// A held page, described: a snapshot, as the page's counts and flags
/// change under it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageInfo {
    pub(crate) pfn: u64,
    pub(crate) zone: Zone,
    /// The order of the folio the page belongs to.
    pub(crate) order: u32,
    /// `folio_maybe_dma_pinned()`.
    pub(crate) dma_pinned: bool,
    /// `folio_is_longterm_pinnable()` but for CMA, which a module cannot
    /// read: the zero page, or a folio neither in ZONE_MOVABLE nor
    /// coherent device memory.
    pub(crate) longterm_pinnable: bool,
    /// PCI peer-to-peer memory (`is_pci_p2pdma_page()`).
    pub(crate) p2pdma: bool,
    /// For a P2PDMA page, the function whose BAR holds it, when one does.
    pub(crate) provider: Option<PciAddress>,
    pub(crate) hugetlb: bool,
    pub(crate) anon: bool,
    pub(crate) dirty: bool,
    /// FOLL_PIN pins on the folio: exact for large folios; order-0 ones
    /// keep no separate count, and this is then the reference count over
    /// `GUP_PIN_COUNTING_BIAS`.
    pub(crate) pincount: u32,
    /// The folio's reference count.
    pub(crate) refcount: u32,
}

impl PageInfo {
    /// Describes `page`.
    ///
    /// # Safety
    ///
    /// The caller holds `page` (a pin or a reference) for the call.
    pub(crate) unsafe fn of(page: NonNull<bindings::page>) -> Self {
        // SAFETY: the page is held for the call, and the result does not
        // outlive it.
        let p2pdma = unsafe { P2pdmaPage::new(page) };
        let page = page.as_ptr();
        // SAFETY: the page is held (the function's safety requirement), so
        // it and its folio stay valid while they are read; every helper
        // below only reads them.
        unsafe {
            let folio = bindings::rust_gup_page_folio(page);
            let refcount = bindings::rust_gup_folio_ref_count(folio);
            let pincount = if bindings::rust_gup_folio_test_large(folio) {
                bindings::rust_gup_folio_pincount(folio)
            } else {
                refcount / bindings::GUP_PIN_COUNTING_BIAS as i32
            };
            PageInfo {
                pfn: bindings::rust_gup_page_to_pfn(page) as u64,
                zone: Zone::from_zonenum(bindings::rust_gup_page_zonenum(page)),
                order: bindings::rust_gup_folio_order(folio),
                dma_pinned: bindings::rust_gup_folio_maybe_dma_pinned(folio),
                longterm_pinnable: bindings::rust_gup_folio_is_longterm_pinnable_outside_cma(folio),
                p2pdma: p2pdma.is_some(),
                provider: p2pdma.and_then(|p| p.provider()).map(|f| f.address()),
                hugetlb: bindings::rust_gup_folio_test_hugetlb(folio),
                anon: bindings::rust_gup_folio_test_anon(folio),
                dirty: bindings::rust_gup_folio_test_dirty(folio),
                pincount: pincount.max(0) as u32,
                refcount: refcount.max(0) as u32,
            }
        }
    }
}

/// A page mapped for the CPU for the duration of a [`with_page_mapped`]
/// call, which lends it by reference only.
///
/// User space (and devices) may change the page at any time, so the
/// contents are only ever copied with raw copies: no Rust reference to
/// them is made.
///
/// # Invariants
///
/// `addr` is the `kmap_local_page` mapping of a page that the lender keeps
/// valid, `PAGE_SIZE` bytes long, for as long as the value is borrowed.
pub(crate) struct MappedPage {
    addr: *mut u8,
}

impl MappedPage {
    /// The byte range `[offset, offset + len)` of the page, checked:
    /// `EINVAL` past the page.
    fn at(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => Ok(self.addr.wrapping_add(offset)),
            _ => Err(EINVAL),
        }
    }

    /// Copies `buf.len()` bytes from `offset` in the page to `buf`.
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        let src = self.at(offset, buf.len())?;
        // SAFETY: `src` is valid for `buf.len()` bytes of the mapped page
        // (checked by `at`), and a user page cannot overlap `buf`.
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` to `offset` in the page.
    ///
    /// # Safety
    ///
    /// The page may be written: the caller took it for writing, so no
    /// copy-on-write sharing is left.
    pub(crate) unsafe fn write(&self, offset: usize, data: &[u8]) -> Result {
        let dst = self.at(offset, data.len())?;
        // SAFETY: `dst` is valid for `data.len()` bytes of the mapped page,
        // which may be written (the function's safety requirement).
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    /// Copies the whole page to user memory at `dest`; `EFAULT` if that is
    /// not writable.
    pub(crate) fn copy_to_user(&self, dest: usize) -> Result {
        // SAFETY: the source is the mapped page, `PAGE_SIZE` bytes;
        // `copy_to_user` checks the user range and faults safely.
        let left = unsafe {
            bindings::copy_to_user(dest as *mut c_void, self.addr.cast(), PAGE_SIZE as c_ulong)
        };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// Runs `f` with `page` mapped for the CPU (`kmap_local_page`).
///
/// The mapping lasts exactly as long as the call, as with upstream's
/// `Page::with_page_mapped`: `f` sees it by reference only, so it cannot
/// keep it, and mappings made inside `f` are gone before it returns. Local
/// mappings are therefore undone in reverse order, as `kunmap_local`
/// requires, by construction.
///
/// # Safety
///
/// `page` is ordinary memory (not a P2PDMA or device-private page) that
/// the caller keeps valid for the call.
pub(crate) unsafe fn with_page_mapped<R>(
    page: NonNull<bindings::page>,
    f: impl FnOnce(&MappedPage) -> Result<R>,
) -> Result<R> {
    // SAFETY: by the function's safety requirement the page is valid
    // ordinary memory, which `kmap_local_page` can map.
    let addr = unsafe { bindings::kmap_local_page(page.as_ptr()) };
    // INVARIANT: `addr` maps the page until the unmap below, after the last
    // use of the borrow lent to `f`.
    let ret = f(&MappedPage { addr: addr.cast() });
    // SAFETY: `addr` was mapped above, and is the most recent local mapping
    // still in place: any made inside `f` were scoped by calls like this
    // one, which have returned.
    unsafe { bindings::kunmap_local(addr) };
    ret
}

/// The page of `pfn` if it is ordinary memory with a `struct page`:
/// `EREMOTEIO` for a pfn without one, or for a ZONE_DEVICE page (PCI
/// P2PDMA, device private), which the CPU cannot be assumed to reach.
///
/// # Safety
///
/// The caller keeps the page at `pfn` from being freed while it uses the
/// result (the HMM mirror holds its table lock with the pfn's entry
/// valid, for instance).
pub(crate) unsafe fn ordinary_page(pfn: u64) -> Result<NonNull<bindings::page>> {
    let pfn = pfn as c_ulong;
    // SAFETY: `pfn_valid` accepts any pfn.
    if !unsafe { bindings::rust_gup_pfn_valid(pfn) } {
        return Err(eremoteio());
    }
    // SAFETY: the pfn has a `struct page`, checked above.
    let page = unsafe { bindings::rust_gup_pfn_to_page(pfn) };
    let page = NonNull::new(page).ok_or_else(eremoteio)?;
    // SAFETY: the page is valid, by the function's safety requirement.
    if unsafe { bindings::rust_gup_is_zone_device_page(page.as_ptr()) } {
        return Err(eremoteio());
    }
    Ok(page)
}

/// Marks `page` dirty (`set_page_dirty`): a device changed it behind the
/// CPU page table's back.
///
/// # Safety
///
/// The caller keeps the page valid and mapped for the call.
pub(crate) unsafe fn set_page_dirty(page: NonNull<bindings::page>) {
    // SAFETY: by the function's safety requirement.
    unsafe { bindings::set_page_dirty(page.as_ptr()) };
}
