// SPDX-License-Identifier: GPL-2.0

//! DMA mapping of pinned user pages for a PCI function, done next to GUP.
//!
//! C headers: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h),
//! [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h).
//!
//! A driver that DMAs to pinned user memory needs DMA addresses, not
//! pages, and for PCI peer-to-peer pages only the DMA layer knows the
//! right one: a PCI bus address when the transfer stays below a common
//! upstream bridge, a CPU physical address through the host bridge, or
//! none at all. The rules as types:
//!
//! - Only [`PinnedPages`] can be mapped: pages taken with FOLL_GET must not
//!   be the target of DMA (pin_user_pages.rst, case 1).
//! - [`DmaMapped`] owns the pins it maps and unmaps before it unpins, so no
//!   device is left holding addresses of pages that are no longer pinned.
//! - Whether the device may write is the pin's: a read-only pin is mapped
//!   `DMA_TO_DEVICE`, a writable one `DMA_BIDIRECTIONAL`.
//! - A P2PDMA page whose provider the client cannot reach is refused
//!   before anything is mapped.
//! - No page is in two mappings a device may write at once: the DMA API
//!   does not support overlapping writable mappings (the C side keeps the
//!   claimed ranges; `EBUSY`).
//! - No mapping outlives the binding of its client's driver: an unbind
//!   unmaps the client's mappings first and revokes them ([`DmaWatch`]);
//!   their pins stay until their owner drops them.

use super::{
    bindings,
    gup::{Access, PinKind, PinnedPages},
    uapi::rust_gup_dma_segment,
};
use core::ptr::{self, NonNull};
use kernel::{error::to_result, prelude::*};

/// Watches PCI driver unbinds while it lives, so that [`DmaMapped`]
/// mappings of the client being unbound are unmapped first. The module
/// holds one for as long as it is loaded.
pub(crate) struct DmaWatch(());

impl DmaWatch {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: no requirements; registered once per value, and the value
        // unregisters on drop.
        to_result(unsafe { bindings::rust_gup_dma_watch() })?;
        Ok(DmaWatch(()))
    }
}

impl Drop for DmaWatch {
    fn drop(&mut self) {
        // SAFETY: registered by `new`.
        unsafe { bindings::rust_gup_dma_unwatch() };
    }
}

/// Whether the calling task may make memory reachable by a device
/// (`CAP_SYS_RAWIO`).
pub(crate) fn may_map_for_dma() -> bool {
    // SAFETY: `capable` may be called from any task context.
    unsafe { bindings::capable(bindings::CAP_SYS_RAWIO as _) }
}

/// A PCI function, with a reference on it.
///
/// # Invariants
///
/// `pdev` is a `struct pci_dev` on which this value holds one reference.
pub(crate) struct PciFunction {
    pdev: NonNull<bindings::pci_dev>,
}

// SAFETY: a `pci_dev` reference may be put from any task.
unsafe impl Send for PciFunction {}
// SAFETY: shared references only pass the device to functions that are
// safe to call from several threads at once.
unsafe impl Sync for PciFunction {}

impl PciFunction {
    /// The function `id` names (`RUST_GUP_PCI_ID()`); `ENODEV` if there is
    /// none.
    pub(crate) fn get(id: u32) -> Result<Self> {
        // SAFETY: no requirements; a non-null result carries a reference.
        let pdev = unsafe { bindings::rust_gup_pci_get(id) };
        // INVARIANT: the reference `rust_gup_pci_get` took.
        Ok(PciFunction {
            pdev: NonNull::new(pdev).ok_or(ENODEV)?,
        })
    }
}

impl Drop for PciFunction {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds a reference.
        unsafe { bindings::rust_gup_pci_put(self.pdev.as_ptr()) };
    }
}

/// Pins DMA-mapped for a PCI function; unmapped, then unpinned, on drop.
///
/// # Invariants
///
/// `mapping` is what `rust_gup_dma_map` made for `client` over the pages of
/// `pins`, not freed yet (an unbind of the client's driver may have unmapped
/// it: it is then revoked). `segments` describes its DMA segments.
pub(crate) struct DmaMapped<K: PinKind> {
    mapping: NonNull<bindings::rust_gup_dma_mapping>,
    segments: KVVec<rust_gup_dma_segment>,
    // Fields drop in order, after `drop` unmapped: the pins go before the
    // reference on the client.
    pins: PinnedPages<K>,
    client: PciFunction,
}

// SAFETY: the mapping is only read (under `&self`) and unmapped once, on
// drop, which may happen in any task that may sleep; the pins and the
// function reference are `Send`.
unsafe impl<K: PinKind> Send for DmaMapped<K> {}
// SAFETY: shared references only read the segments and the pins.
unsafe impl<K: PinKind> Sync for DmaMapped<K> {}

impl<K: PinKind> DmaMapped<K> {
    /// Maps `pins` for DMA by `client`. On failure the pins are released:
    /// `ENODEV` when no driver is bound to `client`, `EREMOTEIO` when it
    /// cannot reach the provider of a P2PDMA page, `EBUSY` when the pins
    /// are writable and a page is already mapped for a device to write
    /// (the DMA API does not support overlapping writable mappings),
    /// `EINTR` when killed while waiting for the client's device lock, and
    /// the DMA layer's errors (`ENOMEM`, `EIO`).
    pub(crate) fn new(pins: PinnedPages<K>, client: PciFunction) -> Result<Self> {
        let pages = pins.page_ptrs();
        let nr = u32::try_from(pages.len())?;
        let bidirectional = pins.access() != Access::Read;
        let mut mapping = ptr::null_mut();
        // SAFETY: `client` holds a reference on the function and `pages`
        // are `nr` pinned pages; the helper only reads the array. Both
        // outlive the mapping: they move into the result, whose `drop`
        // unmaps before either is released. On failure nothing is mapped.
        to_result(unsafe {
            bindings::rust_gup_dma_map(
                client.pdev.as_ptr(),
                pages.as_ptr().cast_mut(),
                nr,
                bidirectional,
                &mut mapping,
            )
        })?;
        // INVARIANT: the helper succeeded, so `mapping` maps `pins` for
        // `client`; `segments` is filled in below before the value is
        // handed out, and dropping it early unmaps.
        let mut mapped = DmaMapped {
            mapping: NonNull::new(mapping).ok_or(EINVAL)?,
            segments: KVVec::new(),
            pins,
            client,
        };
        // SAFETY: `mapping` is live.
        let n = unsafe { bindings::rust_gup_dma_nr_segments(mapped.mapping.as_ptr()) } as usize;
        mapped.segments.reserve(n, GFP_KERNEL | __GFP_NOWARN)?;
        // SAFETY: the helper writes one descriptor per DMA segment of the
        // mapped table, `n` of them, to `segments`, which has room for `n`;
        // all `n` are then initialised.
        unsafe {
            bindings::rust_gup_dma_segments(mapped.mapping.as_ptr(), mapped.segments.as_mut_ptr());
            mapped.segments.set_len(n);
        }
        Ok(mapped)
    }

    /// The DMA segments, as the client is to use them; `ENODEV` once the
    /// client's driver was unbound, which unmapped them.
    pub(crate) fn segments(&self) -> Result<&[rust_gup_dma_segment]> {
        // SAFETY: by the type invariant `mapping` is live.
        if unsafe { bindings::rust_gup_dma_revoked(self.mapping.as_ptr()) } {
            return Err(ENODEV);
        }
        Ok(&self.segments)
    }

    /// The pins behind the mapping.
    pub(crate) fn pins(&self) -> &PinnedPages<K> {
        &self.pins
    }
}

impl<K: PinKind> Drop for DmaMapped<K> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `mapping` is live; it is unmapped
        // (unless an unbind of the client's driver did already) and freed
        // once, here, while `pins` and `client` (dropped after this) still
        // hold the pages and the device.
        unsafe { bindings::rust_gup_dma_unmap(self.mapping.as_ptr()) };
    }
}
