// SPDX-License-Identifier: GPL-2.0

//! PCI functions, by address or as the provider of peer-to-peer memory.
//!
//! C headers: [`include/linux/pci.h`](srctree/include/linux/pci.h),
//! [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h).
//!
//! The 6.12 `kernel` crate has no PCI support. Upstream's newer
//! `kernel::pci` is built for drivers: a `pci::Device` is what a probe
//! callback receives. Here a function is looked up by address, or found
//! behind a page, and only referenced.

use super::bindings;
use core::ptr::NonNull;
use kernel::{
    ffi::{c_uint, c_ulong},
    page::PAGE_SHIFT,
    prelude::*,
};

/// `EREMOTEIO`, which the 6.12 `kernel::error::code` does not name: a peer
/// the device cannot reach, or memory the CPU cannot.
pub(crate) fn eremoteio() -> Error {
    Error::from_errno(-(bindings::EREMOTEIO as i32))
}

/// Where a PCI function is: its domain (segment), bus and device/function
/// number (`PCI_DEVFN()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PciAddress {
    pub(crate) domain: u32,
    pub(crate) bus: u8,
    pub(crate) devfn: u8,
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
    /// The function at `addr`; `ENODEV` if there is none.
    pub(crate) fn get(addr: PciAddress) -> Result<Self> {
        let domain = i32::try_from(addr.domain).map_err(|_| ENODEV)?;
        // SAFETY: no requirements; a non-null result carries a reference.
        let pdev = unsafe {
            bindings::pci_get_domain_bus_and_slot(domain, addr.bus.into(), c_uint::from(addr.devfn))
        };
        // INVARIANT: the reference the lookup took.
        Ok(PciFunction {
            pdev: NonNull::new(pdev).ok_or(ENODEV)?,
        })
    }

    /// The function one of whose memory BARs holds the physical address
    /// `phys`, if any.
    ///
    /// `struct pci_p2pdma_pagemap`, which records the provider of a P2PDMA
    /// page, is private to `drivers/pci/p2pdma.c`, but
    /// `pci_p2pdma_add_resource()` makes the pagemap's range out of one of
    /// the provider's BARs, and those are public. Bridge windows are not
    /// BARs, so the bridges above the provider do not match.
    fn with_bar_holding(phys: u64) -> Option<Self> {
        let mut pdev = core::ptr::null_mut();
        loop {
            // SAFETY: `pdev` is null or a function the previous call
            // returned with a reference, which this call puts; a non-null
            // result carries a reference of its own.
            pdev = unsafe {
                bindings::pci_get_device(
                    bindings::PCI_ANY_ID as c_uint,
                    bindings::PCI_ANY_ID as c_uint,
                    pdev,
                )
            };
            // INVARIANT: the reference `pci_get_device` took; dropping the
            // value puts it, as the next call would.
            let function = PciFunction {
                pdev: NonNull::new(pdev)?,
            };
            if function.bar_holds(phys) {
                return Some(function);
            }
            core::mem::forget(function);
        }
    }

    /// Whether one of the function's assigned memory BARs holds `phys`.
    ///
    /// Read without a lock: `pci_lock_rescan_remove()`, which serialises
    /// resource assignment, comes before device locks, and the mapping
    /// path asks with a client's device lock held. What the answer needs
    /// holds without it. The caller holds a page at `phys`, so the BAR that
    /// holds it backs a live P2PDMA pagemap, which keeps its driver bound
    /// and the BAR where it is. Another function's BAR being assigned
    /// meanwhile cannot overlap an assigned one (resources do not overlap
    /// their siblings), and each field is read once, as `READ_ONCE()`
    /// would. A BAR that is not assigned (`IORESOURCE_UNSET`: its `start`
    /// and `end` are a size and an alignment, not addresses) or disabled
    /// is skipped.
    fn bar_holds(&self, phys: u64) -> bool {
        // SAFETY: the function is referenced (type invariant), so its
        // resources stay valid; only reads are made.
        let resources = unsafe { &(&(*self.pdev.as_ptr()).resource)[..] };
        let bars = &resources[..bindings::PCI_STD_NUM_BARS as usize];
        let unusable = (bindings::IORESOURCE_UNSET | bindings::IORESOURCE_DISABLED) as c_ulong;
        bars.iter().any(|res| {
            // SAFETY: the fields are valid for reads (see above); a
            // volatile read is one untorn load, as `READ_ONCE()`.
            let (flags, start, end) = unsafe {
                (
                    core::ptr::read_volatile(&res.flags),
                    core::ptr::read_volatile(&res.start),
                    core::ptr::read_volatile(&res.end),
                )
            };
            flags & bindings::IORESOURCE_TYPE_BITS as c_ulong == bindings::IORESOURCE_MEM as c_ulong
                && flags & unusable == 0
                && (start..=end).contains(&phys)
        })
    }

    /// The function's address.
    pub(crate) fn address(&self) -> PciAddress {
        let pdev = self.pdev.as_ptr();
        // SAFETY: the function is referenced (type invariant), and with it
        // the bus it sits on.
        let (id, domain) = unsafe {
            (
                bindings::rust_gup_pci_dev_id(pdev),
                bindings::rust_gup_pci_domain_nr((*pdev).bus),
            )
        };
        let [bus, devfn] = id.to_be_bytes();
        PciAddress {
            // `pci_domain_nr()` is not negative: domains are numbered
            // from 0 (those behind Intel VMD from 0x10000).
            domain: domain as u32,
            bus,
            devfn,
        }
    }

    /// The `struct device` of the function.
    pub(crate) fn as_dev_ptr(&self) -> *mut bindings::device {
        // SAFETY: the function is referenced (type invariant); this only
        // computes the address of a field.
        unsafe { core::ptr::addr_of_mut!((*self.pdev.as_ptr()).dev) }
    }

    /// Whether the function can do DMA to the P2PDMA memory `provider`
    /// offers (`pci_p2pdma_distance()`), quietly: the DMA layer refuses
    /// the same when it maps, but only after a `pci_warn()` about the pair.
    pub(crate) fn reaches_p2pdma_of(&self, provider: &PciFunction) -> bool {
        let mut client = self.as_dev_ptr();
        // SAFETY: both functions are referenced; the callee only reads the
        // one-element array of clients.
        unsafe {
            bindings::pci_p2pdma_distance_many(provider.pdev.as_ptr(), &mut client, 1, false) >= 0
        }
    }
}

impl Clone for PciFunction {
    fn clone(&self) -> Self {
        // SAFETY: the function is referenced (type invariant), so taking
        // another reference is allowed.
        // INVARIANT: the reference taken here belongs to the clone.
        unsafe { bindings::pci_dev_get(self.pdev.as_ptr()) };
        PciFunction { pdev: self.pdev }
    }
}

impl Drop for PciFunction {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds a reference.
        unsafe { bindings::pci_dev_put(self.pdev.as_ptr()) };
    }
}

/// A page of PCI peer-to-peer memory (device BAR memory published with
/// `pci_p2pdma_add_resource()`).
///
/// # Invariants
///
/// `page` is a P2PDMA page that the lender of the borrow keeps from going
/// away (by a pin) for as long as the value is borrowed.
pub(crate) struct P2pdmaPage<'a> {
    page: NonNull<bindings::page>,
    _held: core::marker::PhantomData<&'a ()>,
}

impl P2pdmaPage<'_> {
    /// `page` as a P2PDMA page, if it is one.
    ///
    /// # Safety
    ///
    /// `page` must stay valid (pinned, for instance) for the lifetime the
    /// caller gives the result.
    pub(crate) unsafe fn new(page: NonNull<bindings::page>) -> Option<Self> {
        // SAFETY: `page` is valid, by the function's safety requirement.
        if !unsafe { bindings::rust_gup_is_pci_p2pdma_page(page.as_ptr()) } {
            return None;
        }
        // INVARIANT: checked above; valid by the safety requirement.
        Some(P2pdmaPage {
            page,
            _held: core::marker::PhantomData,
        })
    }

    /// The PCI function whose BAR holds the page; `None` when none does
    /// (the provider's BAR was released, for instance).
    pub(crate) fn provider(&self) -> Option<PciFunction> {
        // SAFETY: the page is valid (type invariant).
        let pfn = unsafe { bindings::rust_gup_page_to_pfn(self.page.as_ptr()) };
        PciFunction::with_bar_holding((pfn as u64) << PAGE_SHIFT)
    }

    /// Whether `other` comes from the same pagemap, and so from the same
    /// provider (`zone_device_pages_have_same_pgmap()`).
    pub(crate) fn same_pgmap(&self, other: &P2pdmaPage<'_>) -> bool {
        // SAFETY: both pages are valid (type invariant).
        unsafe {
            bindings::rust_gup_zone_device_pages_have_same_pgmap(
                self.page.as_ptr(),
                other.page.as_ptr(),
            )
        }
    }
}
