// SPDX-License-Identifier: GPL-2.0

//! DMA mapping of pinned user pages for a PCI function, done next to GUP,
//! and of the entries of an HMM mirror.
//!
//! C headers: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h),
//! [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h),
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
//! - [`DmaMapped`] owns the pins it maps, and its fields go in the order
//!   the rules need: the mapping is undone, then its scatterlist freed,
//!   then the pages unpinned. No device is left holding addresses of pages
//!   that are no longer pinned.
//! - Whether the device may write is the pin's: a read-only pin is mapped
//!   `DMA_TO_DEVICE`, a writable one `DMA_BIDIRECTIONAL`, and only if its
//!   release dirties the pages (what the device wrote would be lost to
//!   writeback otherwise).
//! - A P2PDMA page whose provider the client cannot reach is refused
//!   before anything is mapped.
//! - No page is in two mappings a device may write at once: the DMA API
//!   does not support overlapping writable mappings (`EBUSY`; see
//!   [`Claims`]).
//! - No mapping outlives the binding of its client's driver: the
//!   [`DmaRegistry`] every mapping is made through watches PCI driver
//!   unbinds, and unmaps and revokes a client's mappings first; their pins
//!   stay until their owner drops them.
//! - No P2PDMA pin outlives the binding of its provider's driver: pins that
//!   may hold P2PDMA pages are kept past one operation only by a
//!   [`Revocable`], registered with every provider of its pages. When one
//!   unbinds, its mappings are undone and all its pins released before the
//!   driver's teardown waits for the provider's pages to be freed.
//! - A mirror's entries are mapped with no pin at all, so [`MirrorDma`]
//!   lives under the mirror's table lock and maps and unmaps page by page
//!   in step with the entries; its methods that touch pages are `unsafe`,
//!   with the mirror's invariant (a mapped entry is valid) as the argument.
//!   The same registry revokes it at its client's unbind.
//!
//! Upstream's `kernel::scatterlist` (6.18, so in 7.3) types a table by the
//! same stages (allocated, then DMA-mapped, dropped in reverse); the 6.12
//! `kernel` crate has none, and 7.3's builds tables of `VVec`/`VBox`
//! buffers for a device bound to the caller's driver, not of pinned user
//! pages for a function that is looked up. So the two stages here are
//! [`SgTable`] and [`MappedTable`], on both kernels.

use super::{
    bindings,
    gup::{Access, GupOptions, Layout, MaybeP2pdma, PageSet, PinKind, PinnedPages},
    opaque_raw,
    page::{ordinary_page, set_page_dirty},
    pci::{eremoteio, P2pdmaPage, PciFunction},
    pin_init_from_closure,
    task::{cond_resched, Syscall},
    LockData,
};
use core::ptr::{addr_of, addr_of_mut, NonNull};
use kernel::{
    alloc::flags::__GFP_NOWARN,
    container_of,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    new_mutex, new_spinlock,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex, SpinLock,
    },
    types::Opaque,
};

/// Whether the calling task may make memory reachable by a device
/// (`CAP_SYS_RAWIO`).
pub(crate) fn may_map_for_dma(_cx: &Syscall) -> bool {
    // SAFETY: `capable` may be called from any task context.
    unsafe { bindings::capable(bindings::CAP_SYS_RAWIO as c_int) }
}

/// The direction of a mapping: `DMA_BIDIRECTIONAL` when the device may
/// write, `DMA_TO_DEVICE` otherwise.
fn dma_direction(writable: bool) -> bindings::dma_data_direction {
    // A plain enum in 6.12's bindings, a newtype in 7.3's.
    #[cfg(rust_gup_kernel_6_12)]
    let (bidirectional, to_device) = (
        bindings::dma_data_direction_DMA_BIDIRECTIONAL,
        bindings::dma_data_direction_DMA_TO_DEVICE,
    );
    #[cfg(not(rust_gup_kernel_6_12))]
    let (bidirectional, to_device) = (
        bindings::dma_data_direction::DMA_BIDIRECTIONAL,
        bindings::dma_data_direction::DMA_TO_DEVICE,
    );
    if writable {
        bidirectional
    } else {
        to_device
    }
}

/// Whether a mapping of pins taken for `access` lets the device write
/// (`DMA_BIDIRECTIONAL`): only when the release marks the pages dirty
/// (`Access::WriteDirty`). What a device writes to a file page that is not
/// dirtied is lost to writeback, so pins taken writable without dirtying
/// (`Access::Write`) are not mapped: `EINVAL`. Read pins are mapped
/// `DMA_TO_DEVICE`.
fn device_writes(access: Access) -> Result<bool> {
    match access {
        Access::Read => Ok(false),
        Access::Write => Err(EINVAL),
        Access::WriteDirty => Ok(true),
    }
}

/// One DMA segment of a mapping, as the client is to use it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DmaSegment {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    /// A PCI bus address (peer-to-peer below a common bridge), not one
    /// the IOMMU or the host bridge translates.
    pub(crate) bus_address: bool,
}

/// What a device accepts as one DMA segment: at most `max_seg` bytes (the
/// device's segment size, and the most one mapping may cover, smaller
/// under swiotlb), not crossing a `boundary + 1` aligned line.
struct SegmentLimits {
    max_seg: usize,
    boundary: u64,
}

impl SegmentLimits {
    /// The limits of the client's device; `EINVAL` for limits smaller than
    /// a page, which no page-sized segment could meet.
    fn of(client: &PciFunction) -> Result<Self> {
        let dev = client.as_dev_ptr();
        // SAFETY: the function is referenced, so its device is valid; the
        // calls only read its DMA parameters.
        let (seg, mapping, boundary) = unsafe {
            (
                bindings::rust_gup_dma_get_max_seg_size(dev) as usize,
                bindings::dma_max_mapping_size(dev),
                bindings::rust_gup_dma_get_seg_boundary(dev) as u64,
            )
        };
        let max_seg = seg.min(mapping) & !(PAGE_SIZE - 1);
        if max_seg < PAGE_SIZE || boundary < PAGE_SIZE as u64 - 1 {
            return Err(EINVAL);
        }
        Ok(SegmentLimits { max_seg, boundary })
    }

    /// Calls `f(first page, length)` for each segment of `pages`: runs of
    /// physically contiguous pages from the same pagemap (P2PDMA pages of
    /// one provider, or ordinary memory), within the limits. Under
    /// dma-direct a segment's DMA address range is its physical one, so a
    /// segment that crossed the boundary would reach the device as such
    /// (`DMA_API_DEBUG_SG` reports it). `sg_alloc_table_from_pages()`
    /// knows the segment size but not the boundary, hence this.
    ///
    /// # Safety
    ///
    /// The caller holds every page of `pages`.
    unsafe fn for_each_segment(
        &self,
        mut pages: impl Iterator<Item = *mut bindings::page>,
        mut f: impl FnMut(*mut bindings::page, usize) -> Result,
    ) -> Result {
        let Some(first) = pages.next() else {
            return Ok(());
        };
        let rest = pages;
        // SAFETY: the pages are held, by the function's safety requirement.
        let pfn = |page| unsafe { bindings::rust_gup_page_to_pfn(page) as u64 };
        let (mut head, mut prev, mut len) = (first, first, PAGE_SIZE);
        let mut start = pfn(first) << PAGE_SHIFT;
        for page in rest {
            let end = start + (len + PAGE_SIZE - 1) as u64;
            // SAFETY: as above.
            let same = unsafe { bindings::rust_gup_zone_device_pages_have_same_pgmap(prev, page) };
            if pfn(page) == pfn(prev) + 1
                && same
                && len <= self.max_seg - PAGE_SIZE
                && (start | self.boundary) == (end | self.boundary)
            {
                len += PAGE_SIZE;
            } else {
                f(head, len)?;
                (head, len, start) = (page, PAGE_SIZE, pfn(page) << PAGE_SHIFT);
            }
            prev = page;
        }
        f(head, len)
    }
}

/// A scatterlist table (`sg_alloc_table`); freed on drop.
///
/// # Invariants
///
/// `table` was set up by a successful `sg_alloc_table`, and its entries'
/// pages are held by the owner of the value for as long as it lives.
struct SgTable {
    table: bindings::sg_table,
}

// SAFETY: a table is plain memory; it may be freed from any task.
unsafe impl Send for SgTable {}

impl SgTable {
    /// A table of `pages` for `client`, in segments as the client's limits
    /// allow: counted, then filled.
    ///
    /// # Safety
    ///
    /// The caller holds every page of `pages` for as long as the table
    /// lives.
    unsafe fn new(
        client: &PciFunction,
        pages: impl Iterator<Item = *mut bindings::page> + Clone,
    ) -> Result<Self> {
        let limits = SegmentLimits::of(client)?;
        let mut nents: u32 = 0;
        // SAFETY: the pages are held, by the function's safety requirement.
        unsafe {
            limits.for_each_segment(pages.clone(), |_, _| {
                nents += 1;
                Ok(())
            })?
        };
        let mut table = bindings::sg_table::default();
        // SAFETY: `table` is a zeroed table for the allocator to set up.
        to_result(unsafe {
            bindings::sg_alloc_table(
                &mut table,
                nents,
                bindings::GFP_KERNEL | bindings::__GFP_NOWARN,
            )
        })?;
        // INVARIANT: allocated above; the pages are the caller's to hold.
        let sgt = SgTable { table };
        let mut sg: *mut bindings::scatterlist = core::ptr::null_mut();
        // SAFETY: the second pass makes the same `nents` segments as the
        // first, so `sg` walks exactly the entries allocated; each is set
        // to a held page and a length within the run.
        unsafe {
            limits.for_each_segment(pages, |page, len| {
                sg = if sg.is_null() {
                    sgt.table.sgl
                } else {
                    bindings::sg_next(sg)
                };
                bindings::rust_gup_sg_set_page(sg, page, len as u32, 0);
                Ok(())
            })?
        };
        Ok(sgt)
    }

    /// The first `n` entries, in order.
    fn entries(&self, n: u32) -> impl Iterator<Item = NonNull<bindings::scatterlist>> + '_ {
        let mut sg = self.table.sgl;
        (0..n).map_while(move |i| {
            if i > 0 {
                // SAFETY: `sg` is an entry of the table, which has at least
                // `n` entries (`orig_nents`, or `nents` once mapped).
                sg = unsafe { bindings::sg_next(sg) };
            }
            NonNull::new(sg)
        })
    }

    /// The physical extent of each entry, in pfns: (first, last).
    fn pfn_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.entries(self.table.orig_nents).map(|sg| {
            // SAFETY: the entry was set to a held page (type invariant).
            let (first, len) = unsafe {
                (
                    bindings::rust_gup_page_to_pfn(bindings::rust_gup_sg_page(sg.as_ptr())) as u64,
                    u64::from((*sg.as_ptr()).length),
                )
            };
            (first, first + len / PAGE_SIZE as u64 - 1)
        })
    }
}

impl Drop for SgTable {
    fn drop(&mut self) {
        // SAFETY: allocated by `sg_alloc_table` (type invariant), freed once.
        unsafe { bindings::sg_free_table(&mut self.table) };
    }
}

/// The device lock of a PCI function, held: its driver cannot be bound or
/// unbound meanwhile.
///
/// # Invariants
///
/// This value holds `device_lock()` of `client`'s device.
struct DeviceGuard<'a> {
    client: &'a PciFunction,
}

impl<'a> DeviceGuard<'a> {
    /// `EINTR` when a fatal signal comes while waiting.
    fn lock(client: &'a PciFunction) -> Result<Self> {
        let dev = client.as_dev_ptr();
        // SAFETY: the function is referenced, so its device lock is valid.
        if unsafe { bindings::rust_gup_mutex_lock_killable(addr_of_mut!((*dev).mutex)) } != 0 {
            return Err(EINTR);
        }
        // INVARIANT: locked above.
        Ok(DeviceGuard { client })
    }

    /// Whether a driver is bound that has set the device up for DMA.
    fn driver_bound(&self) -> bool {
        let dev = self.client.as_dev_ptr();
        // SAFETY: the device lock is held (type invariant), so the fields
        // do not change under the read.
        unsafe { !(*dev).driver.is_null() && !(*dev).dma_mask.is_null() }
    }
}

impl Drop for DeviceGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held (type invariant).
        unsafe { bindings::rust_gup_device_unlock(self.client.as_dev_ptr()) };
    }
}

/// A table DMA-mapped for a client; unmapped on drop, and then its claims
/// dropped and (fields drop in order) the table freed and the reference on
/// the client put.
///
/// # Invariants
///
/// `table` is mapped with `dma_map_sgtable()` for `client` in direction
/// `dir`, and `client`'s driver is bound. When the device may write, its
/// pages are claimed in `claims`, which is then `Some`.
struct MappedTable {
    table: SgTable,
    client: PciFunction,
    dir: bindings::dma_data_direction,
    claims: Option<Arc<Claims>>,
}

impl MappedTable {
    /// Maps `table` for `client`, whose device lock `guard` holds with a
    /// driver bound, claiming its pages in `claims` first if the device is
    /// to write them: `EBUSY` when one is claimed, and the DMA layer's
    /// errors (the table goes with them).
    fn new(
        mut table: SgTable,
        guard: &DeviceGuard<'_>,
        writable: bool,
        claims: &Arc<Claims>,
    ) -> Result<Self> {
        let dir = dma_direction(writable);
        let claims = if writable {
            // Claimed before the mapping is made, so that two writable
            // mappings of one page never exist at once.
            claims.claim_table(&table)?;
            Some(claims.clone())
        } else {
            None
        };
        // SAFETY: the table's pages are held and its entries set; the
        // device is referenced and its driver bound under the held lock.
        let ret = to_result(unsafe {
            bindings::dma_map_sgtable(
                guard.client.as_dev_ptr(),
                &mut table.table,
                dir,
                bindings::DMA_ATTR_NO_WARN as c_ulong,
            )
        });
        if let Err(e) = ret {
            if let Some(claims) = claims {
                claims.unclaim_ranges(&table, usize::MAX);
            }
            return Err(e);
        }
        // INVARIANT: mapped above, with the driver bound; claimed if
        // writable.
        Ok(MappedTable {
            table,
            client: guard.client.clone(),
            dir,
            claims,
        })
    }

    fn segments(&self) -> impl Iterator<Item = DmaSegment> + '_ {
        self.table.entries(self.table.table.nents).map(|sg| {
            let sg = sg.as_ptr();
            // SAFETY: the entry is one of the mapped ones (type invariant).
            unsafe {
                DmaSegment {
                    addr: bindings::rust_gup_sg_dma_address(sg),
                    len: bindings::rust_gup_sg_dma_len(sg),
                    bus_address: bindings::rust_gup_sg_dma_is_bus_address(sg),
                }
            }
        })
    }
}

impl Drop for MappedTable {
    fn drop(&mut self) {
        // The tests' window on the unmap (`test_release_delay_ms`).
        // SAFETY: may sleep; every mapping is dropped where sleeping is
        // allowed (under the registry's mutex at most).
        unsafe { bindings::rust_gup_test_release_delay() };
        // SAFETY: mapped for `client` in `dir` (type invariant), unmapped
        // once, here, before the table is freed.
        unsafe {
            bindings::rust_gup_dma_unmap_sgtable(
                self.client.as_dev_ptr(),
                &mut self.table.table,
                self.dir,
                0,
            )
        };
        // After the unmap: the pages may be mapped writable again.
        if let Some(claims) = &self.claims {
            claims.unclaim_ranges(&self.table, usize::MAX);
        }
    }
}

/// The pages that live mappings let a device write, module-wide.
///
/// The DMA API does not support two such mappings of one cacheline at
/// once: on a system without coherent DMA, one mapping's cache maintenance
/// would destroy data the device wrote through the other, and
/// `CONFIG_DMA_API_DEBUG` WARNs ("overlapping mappings aren't supported").
/// A writable mapping that overlaps a claim, its own included (a page
/// mapped at two addresses of the range), is refused. Read-only
/// (`DMA_TO_DEVICE`) mappings may overlap anything.
///
/// A pinned mapping claims one range of pfns per DMA segment, kept in an
/// `RBTree` by first pfn with its last (the claims never overlap); an HMM
/// mirror claims one page per writable entry, kept in an XArray by pfn,
/// which allocates a node per 64 pfns rather than one per page. Claims are
/// checked against both and made under one lock, a spinlock: a mirror
/// claims under its table lock, where nothing may sleep.
///
/// # Invariants
///
/// `pages` is initialised from the end of [`Claims::new`] until the drop.
#[pin_data(PinnedDrop)]
pub(crate) struct Claims {
    #[pin]
    ranges: SpinLock<RBTree<u64, u64>>,
    #[pin]
    pages: Opaque<bindings::xarray>,
}

// SAFETY: the XArray serialises its users with its own lock; the ranges
// are behind a lock.
unsafe impl Send for Claims {}
// SAFETY: as for `Send`.
unsafe impl Sync for Claims {}

/// Claims taken or dropped per hold of the lock: a large mapping's do not
/// keep it for long.
const CLAIM_BATCH: usize = 1024;

impl Claims {
    fn new() -> impl PinInit<Self> {
        pin_init!(Claims {
            ranges <- new_spinlock!(RBTree::new(), "rust_gup_claims"),
            // SAFETY: `xa_init` initialises the slot, which stays in place
            // (pinned) until the drop destroys it.
            pages <- Opaque::ffi_init(|xa| unsafe { bindings::rust_gup_xa_init(xa) }),
        })
    }

    /// Whether `[first, last]` overlaps a claim. Of the ranges, the one
    /// that starts last at or before `last` is the only candidate. The
    /// caller holds the lock of `ranges`.
    fn overlaps(&self, ranges: &mut RBTree<u64, u64>, first: u64, last: u64) -> bool {
        let before = match ranges.cursor_lower_bound(&(last + 1)) {
            Some(cursor) => cursor.peek_prev().map(|(_, &end)| end),
            None => ranges.cursor_back().map(|c| *c.current().1),
        };
        if before.is_some_and(|end| end >= first) {
            return true;
        }
        // SAFETY: the XArray is initialised (type invariant).
        unsafe {
            bindings::rust_gup_xa_present(self.pages.get(), first as c_ulong, last as c_ulong)
        }
    }

    /// Claims the ranges of `table`, one per segment, with nodes allocated
    /// first: `EBUSY`, with nothing claimed, when one overlaps a claim;
    /// `ENOMEM`.
    fn claim_table(&self, table: &SgTable) -> Result {
        let n = table.table.orig_nents as usize;
        let mut nodes = KVVec::with_capacity(n, GFP_KERNEL | __GFP_NOWARN)?;
        for _ in 0..n {
            nodes.push(RBTreeNodeReservation::new(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        // One node per entry, so every range gets one.
        let mut ranges = table.pfn_ranges().zip(nodes).enumerate().peekable();
        while ranges.peek().is_some() {
            let mut claimed = self.ranges.lock();
            for (i, ((first, last), node)) in ranges.by_ref().take(CLAIM_BATCH) {
                if self.overlaps(&mut claimed, first, last) {
                    drop(claimed);
                    self.unclaim_ranges(table, i);
                    return Err(EBUSY);
                }
                claimed.insert(node.into_node(first, last));
            }
            drop(claimed);
            cond_resched();
        }
        Ok(())
    }

    /// Drops the claims on the first `n` ranges of `table`.
    fn unclaim_ranges(&self, table: &SgTable, n: usize) {
        let mut ranges = table.pfn_ranges().take(n).peekable();
        while ranges.peek().is_some() {
            let mut claimed = self.ranges.lock();
            for (first, _) in ranges.by_ref().take(CLAIM_BATCH) {
                claimed.remove(&first);
            }
            drop(claimed);
            cond_resched();
        }
    }

    /// Claims the page at `pfn`, without sleeping: `EBUSY` if it is
    /// claimed, `ENOMEM`.
    fn claim_page(&self, pfn: u64) -> Result {
        let mut claimed = self.ranges.lock();
        if self.overlaps(&mut claimed, pfn, pfn) {
            return Err(EBUSY);
        }
        let gfp = bindings::GFP_NOWAIT | bindings::__GFP_NOWARN;
        // SAFETY: the XArray is initialised (type invariant).
        to_result(unsafe { bindings::rust_gup_xa_insert(self.pages.get(), pfn as c_ulong, gfp) })
    }

    /// Drops the claim on the page at `pfn`, which the caller made with
    /// [`Self::claim_page`]. Dropping needs no check, so not the lock.
    fn unclaim_page(&self, pfn: u64) {
        // SAFETY: the XArray is initialised (type invariant).
        unsafe { bindings::xa_erase(self.pages.get(), pfn as c_ulong) };
    }
}

#[pinned_drop]
impl PinnedDrop for Claims {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: initialised (type invariant), destroyed once, here.
        unsafe { bindings::xa_destroy(self.pages.get()) };
    }
}

/// What [`DmaRegistry`]'s lock guards.
#[derive(Default)]
struct Registry {
    /// The live mappings of pinned pages, by key: undone (unmapped, freed,
    /// unclaimed) by whichever comes first, their owner or the unbind of
    /// their client's driver.
    live: RBTree<u64, MappedTable>,
    last_key: u64,
    /// What an unbind revokes besides those ([`Revocable`]s, HMM mirrors
    /// mapped for a device), by key.
    revocable: RBTree<u64, Arc<dyn Revoke>>,
    /// The devices whose driver is being unbound (from
    /// `BUS_NOTIFY_UNBIND_DRIVER` to `BUS_NOTIFY_UNBOUND_DRIVER`): pins of
    /// their P2PDMA pages are refused registration.
    unbinding: RBTree<usize, ()>,
}

impl Registry {
    /// Takes out a registered [`Revoke`] that the unbind of `dev`'s driver
    /// revokes, if any.
    fn take_revocable_of(&mut self, dev: *mut bindings::device) -> Option<Arc<dyn Revoke>> {
        let key = self
            .revocable
            .iter()
            .find(|(_, r)| r.revoked_by(dev))
            .map(|(&key, _)| key)?;
        self.revocable.remove(&key)
    }
}

/// The registry of live DMA mappings and of [`Revocable`] P2PDMA pins.
/// Each mapping and registration keeps a reference to it; the PCI bus
/// notifier that revokes them at a driver's unbind is a [`DmaWatch`],
/// which holds one for as long as it is registered, and the only way to
/// make a registry.
///
/// The lock nests inside the device lock of a client: mapping takes the
/// client's device lock first, and the notifier is called under it.
#[pin_data]
pub(crate) struct DmaRegistry {
    #[pin]
    inner: Mutex<Registry>,
    claims: Arc<Claims>,
}

/// A [`DmaRegistry`] and the PCI bus notifier that watches driver unbinds
/// for it, as one pinned object whose lifetime is its owner's: a module
/// makes it at init and drops it at exit, where the unregistration waits
/// for running callbacks. The watch keeps a reference to the registry, so
/// a callback never drops the last one, however many mappings its
/// revocations release: were the registry's last reference to go inside
/// the callback, its drop would unregister the notifier under the bus
/// notifier chain's lock, which the callback's caller holds, or the module
/// could be freed while the callback still runs.
///
/// The notifier revokes at `BUS_NOTIFY_UNBIND_DRIVER`, before the driver's
/// `remove()`: right for mappings the client's driver does not own, whose
/// addresses nothing programs into the device. A driver mapping for its own
/// device would drop its mappings in `remove()` instead, after quiescing it
/// (see `Documentation/rust_gup.rst`).
///
/// # Invariants
///
/// `nb` is registered on the PCI bus with [`bus_notify`] from the end of
/// [`DmaWatch::new`] until the drop.
#[pin_data(PinnedDrop)]
pub(crate) struct DmaWatch {
    registry: Arc<DmaRegistry>,
    // Last: registered when the registry is ready for the callback.
    #[pin]
    nb: Opaque<bindings::notifier_block>,
}

// SAFETY: the notifier block is only touched by the notifier core, which
// serialises registration and calls; the registry is `Sync`.
unsafe impl Send for DmaWatch {}
// SAFETY: as for `Send`.
unsafe impl Sync for DmaWatch {}

/// The bus notifier: before a PCI driver is unbound from a device, every
/// [`Revocable`] with P2PDMA pages the device provides is revoked, and every
/// live mapping for the device is unmapped and revoked (its pins stay held
/// until its owner releases them).
///
/// The core calls it with the device lock of the device held, and its
/// driver's teardown then waits until every P2PDMA page the device provides
/// is freed: a revoked set's pins are released here, and a pin taken from
/// now on is refused registration until the unbind is over
/// (`BUS_NOTIFY_UNBOUND_DRIVER`), so it is released too.
///
/// # Safety
///
/// Called by the notifier core only, on the `nb` of a [`DmaWatch`], with
/// `data` the `struct device` the event is about.
unsafe extern "C" fn bus_notify(
    nb: *mut bindings::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> c_int {
    const UNBIND: c_ulong = bindings::bus_notifier_event_BUS_NOTIFY_UNBIND_DRIVER as c_ulong;
    const UNBOUND: c_ulong = bindings::bus_notifier_event_BUS_NOTIFY_UNBOUND_DRIVER as c_ulong;
    if action != UNBIND && action != UNBOUND {
        return bindings::NOTIFY_DONE as c_int;
    }
    // SAFETY: `nb` is the `nb` field of a watch (only `DmaWatch::new`
    // registers `bus_notify`), whose registry is initialised while the
    // block is registered: the drop unregisters it first, and
    // unregistering waits for running calls. The watch's reference keeps
    // the registry alive past whatever this call drops.
    let inner = unsafe {
        let watch = container_of!(nb.cast::<Opaque<bindings::notifier_block>>(), DmaWatch, nb);
        let registry: &Arc<DmaRegistry> = &*addr_of!((*watch).registry);
        &registry.inner
    };
    let dev = data.cast::<bindings::device>();
    if action == UNBOUND {
        inner.lock().unbinding.remove(&(dev as usize));
        return bindings::NOTIFY_OK as c_int;
    }
    match RBTreeNodeReservation::new(GFP_KERNEL) {
        Ok(node) => {
            inner
                .lock()
                .unbinding
                .insert(node.into_node(dev as usize, ()));
        }
        // Only a pin racing with this unbind goes unrefused: the unbind
        // then waits for its owner to release it, as without revocation.
        Err(_) => pr_warn!("out of memory: pins racing this unbind are not refused\n"),
    }
    // One at a time, outside the lock: dropping a mapping takes it.
    loop {
        let revocable = inner.lock().take_revocable_of(dev);
        let Some(revocable) = revocable else {
            break;
        };
        revocable.revoke();
    }
    let mut guard = inner.lock();
    let registry = &mut *guard;
    #[cfg(rust_gup_kernel_6_12)]
    let mut cursor = registry.live.cursor_front();
    #[cfg(not(rust_gup_kernel_6_12))]
    let mut cursor = registry.live.cursor_front_mut();
    while let Some(current) = cursor {
        if current.current().1.client.as_dev_ptr() != dev {
            cursor = current.move_next();
            continue;
        }
        // The next one, or the previous (already seen) if this was last.
        let (next, node) = current.remove_current();
        drop(node);
        cursor = next;
    }
    bindings::NOTIFY_OK as c_int
}

impl DmaRegistry {
    /// The claims of the registry's mappings, which the mappings of HMM
    /// mirrors share.
    pub(crate) fn claims(&self) -> &Arc<Claims> {
        &self.claims
    }

    /// An empty registry; only a [`DmaWatch`] makes one.
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(DmaRegistry {
            inner <- new_mutex!(Registry::default(), "rust_gup_dma_registry"),
            claims: Arc::pin_init(Claims::new(), GFP_KERNEL)?,
        })
    }
}

impl DmaWatch {
    /// The registry watched, for the mappings made through it.
    pub(crate) fn registry(&self) -> &Arc<DmaRegistry> {
        &self.registry
    }

    /// A new, empty registry, watching PCI driver unbinds.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        // SAFETY: on success the closure has initialised the slot (a
        // notifier block, registered); on failure it is left unregistered
        // and needs no cleanup.
        let nb = unsafe {
            pin_init_from_closure(move |slot: *mut Opaque<bindings::notifier_block>| {
                let nb = opaque_raw(slot);
                // SAFETY: `slot` is valid for writes; all zeroes is an
                // unlinked notifier block.
                nb.write(core::mem::zeroed());
                (*nb).notifier_call = Some(bus_notify);
                // SAFETY: the block stays in place (pinned) until the drop
                // unregisters it; `bus_notify` finds the registry around it.
                to_result(bindings::bus_register_notifier(
                    addr_of!(bindings::pci_bus_type),
                    nb,
                ))
            })
        };
        // INVARIANT: `nb` is initialised (registered) last.
        try_pin_init!(DmaWatch {
            registry: Arc::pin_init(DmaRegistry::new(), GFP_KERNEL)?,
            nb <- nb,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for DmaWatch {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered (type invariant), unregistered once, here. The
        // core waits for running calls, which cannot be this one's caller:
        // a callback never drops the watch. Mappings may outlive it (they
        // hold the registry), but no driver unbind is watched for them
        // then: the owner drops it only when none can exist (module exit,
        // with no file open).
        unsafe {
            bindings::bus_unregister_notifier(addr_of!(bindings::pci_bus_type), self.nb.get())
        };
    }
}

/// A live mapping's place in its registry; undone, if an unbind has not
/// done it already, on drop.
struct Registered {
    registry: Arc<DmaRegistry>,
    key: u64,
}

impl Registered {
    fn revoked(&self) -> bool {
        self.registry.inner.lock().live.get(&self.key).is_none()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // Undone (unmapped, unclaimed, freed) with the lock held, as the
        // notifier does: an unbind that no longer finds the mapping waits
        // here until it is gone. The guard is a named local, so it lives
        // until the end of the function, past the drop of the mapping.
        let mut registry = self.registry.inner.lock();
        let live = registry.live.remove(&self.key);
        drop(live);
        drop(registry);
    }
}

/// Pins that a [`DmaMapped`] can hold: GUP's ([`PinnedPages`]) or a
/// memfd's.
///
/// # Safety
///
/// [`Self::page_iter`] yields pages that the value holds pinned for as
/// long as it lives, the same ones, in the same order, each time.
pub(crate) unsafe trait MapPins: PageSet + Send + Sync + 'static {
    /// What the pins were taken for: a device reads, or writes (and the
    /// release dirties the pages, or not).
    fn access(&self) -> Access;

    /// The pages, in order.
    fn page_iter(&self) -> impl Iterator<Item = *mut bindings::page> + Clone + '_;
}

// SAFETY: the page array holds the pinned pages (`PageVec`'s invariant)
// until the holder drops.
unsafe impl<K: PinKind + 'static> MapPins for PinnedPages<K> {
    fn access(&self) -> Access {
        PinnedPages::access(self)
    }

    fn page_iter(&self) -> impl Iterator<Item = *mut bindings::page> + Clone + '_ {
        PinnedPages::page_iter(self)
    }
}

/// Pins DMA-mapped for a PCI function. On drop the mapping is undone, its
/// table freed and the reference on the client put (unless the unbind of
/// the client's driver did all that already), and then the pages are
/// unpinned: fields drop in order.
pub(crate) struct DmaMapped<P: MapPins> {
    registered: Registered,
    segments: KVVec<DmaSegment>,
    pins: P,
}

impl<P: MapPins> DmaMapped<P> {
    /// Maps `pins` for DMA by `client`, through `registry`. On failure the
    /// pins are released: `ENODEV` when no driver is bound to `client`
    /// (nobody would program it with the addresses, and unbinding must not
    /// leave mappings behind), `EREMOTEIO` when it cannot reach the
    /// provider of a P2PDMA page, `EBUSY` when the pins are writable and a
    /// page is already mapped for a device to write, `EINVAL` when they are
    /// writable but their release does not dirty the pages
    /// ([`device_writes`]), `EINTR` when killed
    /// while waiting for the client's device lock, `EINVAL` when the
    /// client's segment limits are below a page, and the DMA layer's
    /// errors (`ENOMEM`, `EIO`).
    ///
    /// The client's device lock is held throughout, so its driver cannot
    /// be unbound in between: the mapping is in the registry before an
    /// unbind can look.
    pub(crate) fn new(pins: P, client: &PciFunction, registry: &Arc<DmaRegistry>) -> Result<Self> {
        Self::map_locked(pins, &DeviceGuard::lock(client)?, registry)
    }

    /// The same, with the client's device lock held by `guard`.
    fn map_locked(pins: P, guard: &DeviceGuard<'_>, registry: &Arc<DmaRegistry>) -> Result<Self> {
        let client = guard.client;
        let writable = device_writes(pins.access())?;
        if !guard.driver_bound() {
            return Err(ENODEV);
        }
        check_reachable(client, pins.page_iter())?;
        // SAFETY: `pins` holds the pages (`MapPins`); the table goes before
        // them (it is dropped on the error paths below, or by
        // `registered`, a field before `pins`).
        let table = unsafe { SgTable::new(client, pins.page_iter())? };

        // Allocated before the registry's lock is taken.
        let live_node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let table = MappedTable::new(table, guard, writable, &registry.claims)?;
        let mut segments = KVVec::with_capacity(table.table.table.nents as usize, GFP_KERNEL)?;
        for segment in table.segments() {
            segments.push(segment, GFP_KERNEL)?;
        }

        let mut inner = registry.inner.lock();
        inner.last_key += 1;
        let key = inner.last_key;
        inner.live.insert(live_node.into_node(key, table));
        drop(inner);
        Ok(DmaMapped {
            registered: Registered {
                registry: registry.clone(),
                key,
            },
            segments,
            pins,
        })
    }

    /// The DMA segments, as the client is to use them; `ENODEV` once the
    /// client's driver was unbound, which unmapped them.
    pub(crate) fn segments(&self) -> Result<&[DmaSegment]> {
        if self.registered.revoked() {
            return Err(ENODEV);
        }
        Ok(&self.segments)
    }

    /// The pins behind the mapping.
    pub(crate) fn pins(&self) -> &P {
        &self.pins
    }
}

/// `EREMOTEIO` unless `client` can reach the provider of every P2PDMA page
/// of `pages`, which the caller holds. Pages of one pagemap have one
/// provider, so each run of them is checked once.
fn check_reachable(
    client: &PciFunction,
    pages: impl Iterator<Item = *mut bindings::page>,
) -> Result {
    let mut reachable: Option<P2pdmaPage<'_>> = None;
    for page in pages {
        let Some(page) = NonNull::new(page) else {
            continue;
        };
        // SAFETY: the caller holds the pages for the duration of the call.
        let Some(page) = (unsafe { P2pdmaPage::new(page) }) else {
            continue;
        };
        if reachable.as_ref().is_some_and(|r| r.same_pgmap(&page)) {
            continue;
        }
        let provider = page.provider().ok_or(eremoteio())?;
        if !client.reaches_p2pdma_of(&provider) {
            return Err(eremoteio());
        }
        reachable = Some(page);
    }
    Ok(())
}

/// The providers of the P2PDMA pages of `pages`, which the caller holds,
/// each once: `ENODEV` for a page whose provider is not found (its BAR
/// released). With `p2pdma_only`, `EINVAL` for a page of ordinary memory.
fn providers_of(
    pages: impl Iterator<Item = *mut bindings::page>,
    p2pdma_only: bool,
) -> Result<KVVec<PciFunction>> {
    let mut providers: KVVec<PciFunction> = KVVec::new();
    let mut last: Option<P2pdmaPage<'_>> = None;
    for page in pages {
        let page = NonNull::new(page).ok_or(EINVAL)?;
        // SAFETY: the caller holds the pages for the duration of the call.
        let Some(page) = (unsafe { P2pdmaPage::new(page) }) else {
            if p2pdma_only {
                return Err(EINVAL);
            }
            continue;
        };
        if last.as_ref().is_some_and(|l| l.same_pgmap(&page)) {
            continue;
        }
        let provider = page.provider().ok_or(ENODEV)?;
        if !providers
            .iter()
            .any(|p| p.as_dev_ptr() == provider.as_dev_ptr())
        {
            providers.push(provider, GFP_KERNEL)?;
        }
        last = Some(page);
    }
    Ok(providers)
}

/// What a [`Revocable`] holds until it is revoked: P2PDMA pins, or the
/// same DMA-mapped for a device.
pub(crate) enum P2pHolding {
    Pinned(PinnedPages<MaybeP2pdma>),
    Mapped(DmaMapped<PinnedPages<MaybeP2pdma>>),
}

impl P2pHolding {
    /// The pinned pages.
    pub(crate) fn pages(&self) -> &(dyn PageSet + 'static) {
        match self {
            P2pHolding::Pinned(pins) => pins,
            P2pHolding::Mapped(mapped) => mapped.pins(),
        }
    }

    /// The mapping, if the pins are mapped.
    pub(crate) fn mapped(&self) -> Option<&DmaMapped<PinnedPages<MaybeP2pdma>>> {
        match self {
            P2pHolding::Pinned(_) => None,
            P2pHolding::Mapped(mapped) => Some(mapped),
        }
    }
}

/// A [`Revocable`]'s holding and what goes with it (the owner's charge for
/// the pages, for instance): released together, by the owner or by the
/// revocation. Fields drop in order: the pages go first.
pub(crate) struct P2pState<T> {
    pub(crate) holding: P2pHolding,
    _with: T,
}

/// What the unbind of a PCI driver revokes, as a [`DmaRegistry`] sees it:
/// a [`Revocable`], or an HMM mirror mapped for a device.
pub(crate) trait Revoke: Send + Sync {
    /// Whether the unbind of `dev`'s driver revokes it.
    fn revoked_by(&self, dev: *mut bindings::device) -> bool;

    /// Releases what it holds for the devices (mappings, pins). Called
    /// from the notifier, outside the registry's lock, and by owners; a
    /// second call finds nothing to release, and returns only once the
    /// first has released it.
    fn revoke(&self);
}

/// A [`Revoke`]'s place in a [`DmaRegistry`]; dropping it takes it out.
pub(crate) struct Registration {
    registry: Arc<DmaRegistry>,
    key: u64,
}

impl Registration {
    /// Registers `what`, unless `refused(registry)`, checked under the
    /// registry's lock, says it must not be: then `ENODEV`.
    fn new(
        registry: &Arc<DmaRegistry>,
        what: Arc<dyn Revoke>,
        refused: impl FnOnce(&Registry) -> bool,
    ) -> Result<Self> {
        let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let mut locked = registry.inner.lock();
        if refused(&locked) {
            // `what` goes after the lock.
            return Err(ENODEV);
        }
        locked.last_key += 1;
        let key = locked.last_key;
        locked.revocable.insert(node.into_node(key, what));
        Ok(Registration {
            registry: registry.clone(),
            key,
        })
    }

    /// Registers `what` for revocation when `client`'s driver unbinds:
    /// `ENODEV` when no driver is bound to it (or one without DMA set up),
    /// `EINTR` when killed while waiting for its device lock. Under that
    /// lock, so an unbind either finds it or came before and is refused.
    pub(crate) fn for_client(
        registry: &Arc<DmaRegistry>,
        client: &PciFunction,
        what: Arc<dyn Revoke>,
    ) -> Result<Self> {
        let guard = DeviceGuard::lock(client)?;
        if !guard.driver_bound() {
            return Err(ENODEV);
        }
        Self::new(registry, what, |_| false)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let registered = self.registry.inner.lock().revocable.remove(&self.key);
        // Dropped outside the lock.
        drop(registered);
    }
}

#[pin_data]
struct RevocableInner<T> {
    /// `None` once released.
    #[pin]
    state: Mutex<Option<P2pState<T>>>,
    providers: KVVec<PciFunction>,
}

impl<T: Send + LockData> Revoke for RevocableInner<T> {
    fn revoked_by(&self, dev: *mut bindings::device) -> bool {
        self.providers.iter().any(|p| p.as_dev_ptr() == dev)
    }

    fn revoke(&self) {
        // Released with the lock held: whoever comes second (the owner's
        // UNPIN or close after the notifier took the state, or the other
        // way round) waits until the pins, the mapping and the charge are
        // gone, rather than return while they are still being released.
        // The lock order allows it: the state's lock comes before the
        // registry's, which the mapping's drop takes.
        let mut state = self.state.lock();
        let taken = state.take();
        if taken.is_some() {
            // The tests' window on the release (`test_release_delay_ms`).
            // SAFETY: may sleep; revocations run where sleeping is allowed
            // (a mutex is all that is held).
            unsafe { bindings::rust_gup_test_release_delay() };
        }
        drop(taken);
        drop(state);
    }
}

/// P2PDMA pins held past one operation, which the unbind of a provider's
/// driver revokes: the only way to keep [`MaybeP2pdma`] pins.
///
/// In 6.12 every P2PDMA page holds a reference on its provider's pagemap,
/// and the provider's driver teardown (`memunmap_pages()`) waits until all
/// are freed: a pin held across that blocks the unbind for as long as it
/// is held. That is why GUP refuses FOLL_LONGTERM with FOLL_PCI_P2PDMA. A
/// `Revocable` is registered, in a [`DmaRegistry`], with every provider of
/// its pages; at `BUS_NOTIFY_UNBIND_DRIVER` of one of them its mapping, if
/// any, is undone and its pins (all of them, ordinary pages too, so a set
/// is never half there) released, and what goes with them (`T`) dropped.
/// The owner sees [`Self::lock`] give `None` from then on.
///
/// Made with [`Self::new`]: the pins are taken, then registered, then
/// mapped, so a take that races with an unbind is either registered before
/// the notifier looks, and revoked, or refused (`ENODEV`) and released.
///
/// Lock order: a client's device lock, then the state, then the registry.
pub(crate) struct Revocable<T: Send + LockData + 'static> {
    inner: Arc<RevocableInner<T>>,
    registration: Registration,
}

/// The state of a [`Revocable`], locked: `None` once revoked. Nothing
/// that may wait for long (user memory, another device) is to be touched
/// while it is held: the unbind of a provider waits for it.
pub(crate) type RevocableGuard<'a, T> = Guard<'a, Option<P2pState<T>>, MutexBackend>;

impl<T: Send + LockData + 'static> Revocable<T> {
    /// Pins with `fill`, which takes pages into an empty holder (of runs,
    /// [`Layout::Runs`]: the pins are kept), registers the pins with the providers of their
    /// P2PDMA pages, and, for a `client`, maps them for it (see
    /// [`DmaMapped::new`] for its errors). `with(pages)` makes what goes
    /// with the pins.
    ///
    /// `p2pdma_only` is for a long-term registration: the pins are taken
    /// without FOLL_LONGTERM, which GUP refuses with FOLL_PCI_P2PDMA, so an
    /// ordinary page among them would be a long-term pin that was not
    /// migrated out of ZONE_MOVABLE or CMA, nor checked against a shared
    /// file mapping. Such a range is `EINVAL`.
    ///
    /// `ENODEV` when the driver of a provider is being unbound, or a page's
    /// provider is not found. On failure everything taken is released.
    pub(crate) fn new(
        registry: &Arc<DmaRegistry>,
        opts: GupOptions,
        fill: impl FnOnce(&mut PinnedPages<MaybeP2pdma>) -> Result,
        p2pdma_only: bool,
        client: Option<&PciFunction>,
        with: impl FnOnce(&dyn PageSet) -> Result<T>,
    ) -> Result<Self> {
        let mut pins = PinnedPages::empty(opts, Layout::Runs)?;
        fill(&mut pins)?;
        let providers = providers_of(pins.page_iter(), p2pdma_only)?;
        let with = with(&pins)?;
        let state = P2pState {
            holding: P2pHolding::Pinned(pins),
            _with: with,
        };
        let inner = Arc::pin_init(
            pin_init!(RevocableInner {
                state <- new_mutex!(Some(state), "rust_gup_revocable"),
                providers,
            }),
            GFP_KERNEL,
        )?;
        let revoke: Arc<dyn Revoke> = inner.clone();
        let registration = Registration::new(registry, revoke, |locked| {
            inner
                .providers
                .iter()
                .any(|p| locked.unbinding.get(&(p.as_dev_ptr() as usize)).is_some())
        })?;
        let this = Revocable {
            inner,
            registration,
        };
        if let Some(client) = client {
            this.map_for(client)?;
        }
        Ok(this)
    }

    /// Maps the pins for `client`. The client's device lock comes first,
    /// with no lock of the set held: the unbind of a provider holds that
    /// lock while it revokes (if the client is the provider) and while it
    /// waits for the pages. `ENODEV` if revoked meanwhile.
    fn map_for(&self, client: &PciFunction) -> Result {
        let guard = DeviceGuard::lock(client)?;
        let mut locked = self.inner.state.lock();
        let P2pState { holding, _with } = locked.take().ok_or(ENODEV)?;
        // On failure the pins go, then `_with`, under the lock; the caller
        // drops the set.
        let holding = match holding {
            P2pHolding::Pinned(pins) => P2pHolding::Mapped(DmaMapped::map_locked(
                pins,
                &guard,
                &self.registration.registry,
            )?),
            mapped => mapped,
        };
        *locked = Some(P2pState { holding, _with });
        Ok(())
    }

    /// The state, locked: `None` once revoked.
    pub(crate) fn lock(&self) -> RevocableGuard<'_, T> {
        self.inner.state.lock()
    }
}

impl<T: Send + LockData + 'static> Drop for Revocable<T> {
    fn drop(&mut self) {
        // Released now, whoever else holds a reference (a revocation that
        // took it out of the registry and is waiting for the lock), or, if
        // a revocation is releasing it, once that is done; an unbind that
        // finds it before `registration` takes it out finds nothing to
        // release.
        self.inner.revoke();
    }
}

/// One page of an HMM mirror mapped for its client.
#[derive(Clone, Copy)]
struct PageMapping {
    addr: u64,
    pfn: u64,
    writable: bool,
}

/// What a mirror's entry gives its client: see [`MirrorDma::mapping`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum EntryDma {
    /// The entry is not valid: nothing to use.
    #[default]
    None,
    /// The page is mapped at `addr`; `writable`: `DMA_BIDIRECTIONAL`,
    /// otherwise `DMA_TO_DEVICE`.
    Mapped { addr: u64, writable: bool },
    /// The entry is valid, but its page is not ordinary memory (PCI
    /// P2PDMA, device private), which `dma_map_page()` cannot map.
    Unmappable,
}

/// The DMA side of an HMM mirror's device page table: each valid entry of
/// ordinary memory mapped for the mirror's client with `dma_map_page()`,
/// in the direction its write permission gives, as RDMA ODP maps the
/// pages `hmm_range_fault()` returns. It lives under the mirror's table
/// lock, next to the entries, and the mirror keeps it in step with them:
/// an entry is mapped when a fault commits it and unmapped (and its page
/// marked dirty if the device could write it) before an invalidation lets
/// it go.
///
/// Nothing here sleeps: mapping and unmapping a page may be done under a
/// spinlock, and claims are made with `GFP_NOWAIT`.
///
/// # Invariants
///
/// `maps[i]`, when `Some`, is the page at its `pfn` mapped with
/// `dma_map_page()` for `client` at its `addr`: `DMA_BIDIRECTIONAL`, with
/// the page claimed in `claims`, when `writable`, else `DMA_TO_DEVICE`.
/// Every entry is `None` once `revoked`. While not `revoked`, `client`'s
/// driver is bound: the value is registered for revocation when that
/// driver unbinds before any mapping is made.
pub(crate) struct MirrorDma {
    client: PciFunction,
    claims: Arc<Claims>,
    maps: KVVec<Option<PageMapping>>,
    revoked: bool,
}

impl MirrorDma {
    /// No entry mapped yet, of `pages` entries for `client`, with the
    /// writable pages claimed in `claims`. The caller registers it for
    /// revocation at the unbind of the client's driver (a
    /// [`Registration::for_client`]) before it maps anything.
    pub(crate) fn new(client: &PciFunction, claims: &Arc<Claims>, pages: usize) -> Result<Self> {
        Ok(MirrorDma {
            client: client.clone(),
            claims: claims.clone(),
            maps: KVVec::from_elem(None, pages, GFP_KERNEL | __GFP_NOWARN)?,
            revoked: false,
        })
    }

    /// The client's device.
    pub(crate) fn client_dev(&self) -> *mut bindings::device {
        self.client.as_dev_ptr()
    }

    /// Whether the unbind of the client's driver (or the mirror's
    /// teardown) revoked the mappings.
    pub(crate) fn revoked(&self) -> bool {
        self.revoked
    }

    /// The mapping of entry `i`, `None` if it has none.
    pub(crate) fn mapping(&self, i: usize) -> Option<(u64, bool)> {
        self.maps
            .get(i)
            .copied()
            .flatten()
            .map(|m| (m.addr, m.writable))
    }

    /// Maps entry `i`, the page at `pfn`, for the client: kept as it is if
    /// it maps that page with that permission already, otherwise its old
    /// mapping undone first. `ENODEV` once revoked, `EREMOTEIO` for a page
    /// that is not ordinary memory, `EBUSY` when `writable` and the page
    /// is claimed (a device may write it through another mapping),
    /// `ENOMEM`. On failure entry `i` has no mapping.
    ///
    /// # Safety
    ///
    /// The page at `pfn`, and the page entry `i` maps now if any, are
    /// mapped by the CPU page table at the entry's address, and stay so for
    /// the call: the caller holds the lock that the mirror's invalidation
    /// takes, and the entry is valid under it.
    pub(crate) unsafe fn map(&mut self, i: usize, pfn: u64, writable: bool) -> Result {
        if self.revoked {
            return Err(ENODEV);
        }
        match self.maps.get(i).ok_or(EINVAL)? {
            Some(m) if m.pfn == pfn && m.writable == writable => return Ok(()),
            // SAFETY: by the function's safety requirement.
            Some(_) => unsafe { self.unmap(i) },
            None => {}
        }
        // SAFETY: the page is mapped, so it is not freed during the call.
        let page = unsafe { ordinary_page(pfn)? };
        if writable {
            self.claims.claim_page(pfn)?;
        }
        let dir = dma_direction(writable);
        let dev = self.client.as_dev_ptr();
        // SAFETY: the page is ordinary memory that stays mapped for the
        // call, and stays until the mirror's invalidation, which unmaps
        // it first; the client's driver is bound (type invariant: not
        // revoked), so its DMA mask is set.
        let (addr, failed) = unsafe {
            let addr = bindings::dma_map_page_attrs(
                dev,
                page.as_ptr(),
                0,
                PAGE_SIZE,
                dir,
                bindings::DMA_ATTR_NO_WARN as c_ulong,
            );
            (addr, bindings::rust_gup_dma_mapping_error(dev, addr) != 0)
        };
        if failed {
            if writable {
                self.claims.unclaim_page(pfn);
            }
            return Err(ENOMEM);
        }
        // INVARIANT: mapped above in the direction `writable` gives,
        // claimed if writable.
        self.maps[i] = Some(PageMapping {
            addr,
            pfn,
            writable,
        });
        Ok(())
    }

    /// Undoes the mapping of entry `i`, if any; a page the device could
    /// write is marked dirty (`set_page_dirty()`), as ODP does, then its
    /// claim dropped.
    ///
    /// # Safety
    ///
    /// The page entry `i` maps, if any, is mapped by the CPU page table
    /// for the call, as for [`Self::map`].
    pub(crate) unsafe fn unmap(&mut self, i: usize) {
        let Some(m) = self.maps.get_mut(i).and_then(Option::take) else {
            return;
        };
        let dir = dma_direction(m.writable);
        // SAFETY: mapped for the client in `dir` (type invariant), taken
        // out of `maps` above, so unmapped once; the page is still there,
        // by the function's safety requirement.
        unsafe {
            bindings::dma_unmap_page_attrs(self.client.as_dev_ptr(), m.addr, PAGE_SIZE, dir, 0)
        };
        if m.writable {
            // SAFETY: as above; `ordinary_page` succeeded at mapping time,
            // and the page is the same.
            if let Ok(page) = unsafe { ordinary_page(m.pfn) } {
                // SAFETY: the page is mapped by the CPU, as above.
                unsafe { set_page_dirty(page) };
            }
            self.claims.unclaim_page(m.pfn);
        }
    }

    /// Undoes every mapping and refuses new ones: at the unbind of the
    /// client's driver, or when the mirror goes.
    ///
    /// # Safety
    ///
    /// As for [`Self::unmap`], for every entry.
    pub(crate) unsafe fn revoke(&mut self) {
        self.revoked = true;
        for i in 0..self.maps.len() {
            // SAFETY: by the function's safety requirement.
            unsafe { self.unmap(i) };
        }
    }
}
