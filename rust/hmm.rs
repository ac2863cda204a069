// SPDX-License-Identifier: GPL-2.0

//! Mirroring user memory without pinning it: `hmm_range_fault()` and an
//! mmu interval notifier, as drivers of page-fault-capable devices (ODP
//! RDMA, GPUs) do.
//!
//! C headers: [`include/linux/hmm.h`](srctree/include/linux/hmm.h),
//! [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h).
//! The protocol: [`Documentation/mm/hmm.rst`].
//!
//! A [`Mirror`] is a device's view of a range of one address space: an
//! interval notifier registered on the range and a "device page table"
//! with one entry (an `hmm_pfns` value) per page. It holds no page
//! references and no pins. The rules of `hmm.rst` are its structure:
//!
//! - Entries are written only by [`Mirror::fault`], which runs the loop
//!   the document prescribes: `mmu_interval_read_begin()`,
//!   `hmm_range_fault()` under the mmap read lock (again on `-EBUSY`), then
//!   the table lock, and a commit only if `mmu_interval_read_retry()` says
//!   nothing invalidated the range meanwhile; otherwise the pass is redone.
//! - The invalidation callback takes the same lock, records the sequence
//!   (`mmu_interval_set_seq()`) and clears the entries of the range. Once it
//!   returns, the device (this table) no longer refers to the old pages.
//! - "Device access" to page contents ([`Mirror::read`], [`Mirror::write`])
//!   happens under the table lock through a valid entry, so no
//!   invalidation can complete meanwhile and the page is still the one the
//!   CPU maps. An invalidated entry is `EAGAIN`: fault again.
//!
//! The table lock is a spinlock because invalidations may come from
//! contexts that cannot sleep (the OOM reaper); a spinlock is always
//! available there. Nothing under it sleeps: accesses copy one page at
//! most, to or from a kernel buffer.
//!
//! [`Documentation/mm/hmm.rst`]: srctree/Documentation/mm/hmm.rst

use super::{
    aref::ARef,
    bindings,
    dma::{DmaRegistry, EntryDma, MirrorDma, Registration, Revoke},
    gup::{CpuPages, UserPageRange},
    mm::{AddressSpace, CurrentMm, Mm, MmWithUser},
    opaque_raw,
    page::{ordinary_page, set_page_dirty, with_page_mapped},
    pci::{eremoteio, PciFunction},
    pin_init_from_closure,
    task::{cond_resched, fatal_signal_pending},
    time::Instant,
};
use core::ptr::addr_of;
use kernel::{
    alloc::flags::__GFP_NOWARN,
    container_of,
    error::to_result,
    ffi::c_ulong,
    new_spinlock,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::{Arc, SpinLock},
    types::Opaque,
};

/// The most pages one mirror may have (1 GiB of 4 KiB pages): an
/// invalidation clears its part of the table under a spinlock, which
/// bounds the time it can take.
pub(crate) const MAX_MIRROR_PAGES: usize = 1 << 18;

/// Pages per `hmm_range_fault()` call: one page of `hmm_pfns`, one PMD of
/// address space. A pass invalidated meanwhile redoes this much at most.
const CHUNK_PAGES: usize = 512;

/// How long a fault may keep retrying one chunk of a range that keeps
/// changing, as `HMM_RANGE_DEFAULT_TIMEOUT`: then `EBUSY`.
const FAULT_TIMEOUT_MS: u64 = 1000;

/// What [`Mirror::fault`] asks of each page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MirrorMode {
    /// Fault the page in if needed, readable (`HMM_PFN_REQ_FAULT`).
    Read,
    /// Fault it in writable, breaking COW (`HMM_PFN_REQ_WRITE`).
    Write,
    /// Fault nothing: record what the CPU page table maps now; pages not
    /// mapped get entries that are not valid.
    Snapshot,
}

impl MirrorMode {
    fn default_flags(self) -> c_ulong {
        match self {
            MirrorMode::Read => bindings::HMM_PFN_REQ_FAULT as c_ulong,
            MirrorMode::Write => {
                (bindings::HMM_PFN_REQ_FAULT | bindings::HMM_PFN_REQ_WRITE) as c_ulong
            }
            MirrorMode::Snapshot => 0,
        }
    }
}

/// One entry of a mirror's device page table: an `hmm_pfns` value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MirrorEntry(c_ulong);

impl MirrorEntry {
    /// The entry maps a page (`HMM_PFN_VALID`).
    pub(crate) fn valid(self) -> bool {
        self.0 & bindings::HMM_PFN_VALID as c_ulong != 0
    }

    /// The page may be written (`HMM_PFN_WRITE`).
    pub(crate) fn writable(self) -> bool {
        self.0 & bindings::HMM_PFN_WRITE as c_ulong != 0
    }

    /// The page cannot be accessed at all (`HMM_PFN_ERROR`).
    pub(crate) fn error(self) -> bool {
        self.0 & bindings::HMM_PFN_ERROR as c_ulong != 0
    }

    /// The page frame number; meaningful when [`Self::valid`].
    pub(crate) fn pfn(self) -> u64 {
        (self.0 & !(bindings::HMM_PFN_FLAGS as c_ulong)) as u64
    }

    /// The order of the CPU mapping the page is part of (9 for a PMD-mapped
    /// THP), as `hmm_pfn_to_map_order()`.
    pub(crate) fn map_order(self) -> u32 {
        ((self.0 >> bindings::HMM_PFN_ORDER_SHIFT) & 0x1f) as u32
    }
}

/// The device page table and what happened to it.
///
/// # Invariants
///
/// An entry with a mapping in `dma` is valid, for the page the mapping is
/// of: the CPU page table maps that page at the entry's address until an
/// invalidation, which undoes the mapping before it clears the entry.
struct Table {
    entries: KVVec<c_ulong>,
    /// For a mirror mapped for a device: the entries' DMA mappings.
    dma: Option<MirrorDma>,
    invalidations: u64,
}

impl Table {
    /// Clears entries `[from, to)`, undoing their DMA mappings first.
    fn clear(&mut self, from: usize, to: usize) {
        if let Some(dma) = &mut self.dma {
            for i in from..to {
                // SAFETY: a mapped entry is valid (type invariant), so its
                // page is still mapped by the CPU.
                unsafe { dma.unmap(i) };
            }
        }
        self.entries[from..to].fill(0);
    }

    /// Commits `new`, entries `hmm_range_fault()` filled, at index `at`,
    /// and maps the valid ones for the device, if any. Pages that are not
    /// ordinary memory stay valid, unmapped. `ENODEV`, with nothing
    /// committed, once the unbind of the client's driver revoked the
    /// mapping. On another error (see [`MirrorDma::map`]) the entries
    /// before the failing one are committed and it is cleared.
    ///
    /// # Safety
    ///
    /// The pages of `new`'s valid entries are mapped by the CPU page table
    /// at their addresses until an invalidation, which takes this table's
    /// lock: `mmu_interval_read_retry()`, under the lock, found no
    /// invalidation since `hmm_range_fault()` filled them.
    unsafe fn commit(&mut self, at: usize, new: &[c_ulong]) -> Result {
        let Some(dma) = &mut self.dma else {
            self.entries[at..at + new.len()].copy_from_slice(new);
            return Ok(());
        };
        // Whatever the chunk holds: a revoked mirror's fault fails, also
        // when it would make no entry valid.
        if dma.revoked() {
            return Err(ENODEV);
        }
        for (i, &raw) in (at..).zip(new) {
            let entry = MirrorEntry(raw);
            let ret = if entry.valid() && !entry.error() {
                // SAFETY: the new page is mapped, by the function's safety
                // requirement; the old one, if the entry maps one, is valid
                // (type invariant).
                unsafe { dma.map(i, entry.pfn(), entry.writable()) }
            } else {
                // SAFETY: as above.
                unsafe { dma.unmap(i) };
                Ok(())
            };
            match ret {
                Err(e) if e == eremoteio() => {}
                Err(e) => {
                    self.entries[i] = 0;
                    return Err(e);
                }
                Ok(()) => {}
            }
            // INVARIANT: mapped only if valid, for the entry's page.
            self.entries[i] = raw;
        }
        Ok(())
    }
}

/// The table and its lock, shared with the registry of DMA mappings for a
/// mirror mapped for a device.
#[pin_data]
struct MirrorTable {
    #[pin]
    lock: SpinLock<Table>,
    /// The device the entries are mapped for, if any.
    client_dev: Option<usize>,
}

impl Revoke for MirrorTable {
    fn revoked_by(&self, dev: *mut bindings::device) -> bool {
        self.client_dev == Some(dev as usize)
    }

    fn revoke(&self) {
        let mut table = self.lock.lock();
        if let Some(dma) = &mut table.dma {
            // SAFETY: the lock is held, and a mapped entry is valid (type
            // invariant of `Table`), so its page is still mapped.
            unsafe { dma.revoke() };
        }
    }
}

/// How a [`Mirror::fault`] went.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FaultStats {
    /// Passes redone because the range changed meanwhile (`-EBUSY` from
    /// `hmm_range_fault()`, or `mmu_interval_read_retry()`).
    pub(crate) retries: u32,
    /// Time spent, in nanoseconds.
    pub(crate) ns: u64,
}

/// A device's mirror of a user range: an mmu interval notifier on the
/// range and the device page table it keeps coherent. Dropping it
/// unregisters the notifier. No page is referenced or pinned.
///
/// A mirror may be mapped for a PCI function, its client: every entry a
/// fault makes valid is then DMA-mapped too (see [`MirrorDma`]), and the
/// unbind of the client's driver revokes the mappings.
///
/// # Invariants
///
/// `notifier` is registered on `range` of an address space, with
/// [`MIRROR_OPS`], from the end of [`Mirror::new`] until the drop;
/// `table.entries` has `range.nr_pages()` entries, and `table.dma`, if
/// any, as many. `registration`, if any, registers `table` for
/// revocation at the unbind of the client's driver.
#[pin_data(PinnedDrop)]
pub(crate) struct Mirror {
    range: UserPageRange,
    table: Arc<MirrorTable>,
    _registration: Option<Registration>,
    // Last: it is registered when every other field is initialised, so
    // the callback, which may run at once, finds them ready.
    #[pin]
    notifier: Opaque<bindings::mmu_interval_notifier>,
}

// SAFETY: the notifier is written by the C core (insertion, removal, and
// sequence updates the core serialises), and by `invalidate` under the
// table lock; its functions may be called from any task. The table is
// behind a lock. Dropping (removing the notifier) may happen on any task.
unsafe impl Send for Mirror {}
// SAFETY: as for `Send`; shared references only use the notifier through
// the core's concurrent-safe read side and the table through its lock.
unsafe impl Sync for Mirror {}

/// The callbacks of every mirror's notifier.
static MIRROR_OPS: bindings::mmu_interval_notifier_ops = bindings::mmu_interval_notifier_ops {
    invalidate: Some(invalidate),
    // 7.3's two-step invalidation; without them, `invalidate` is called.
    #[cfg(not(rust_gup_kernel_6_12))]
    invalidate_start: None,
    #[cfg(not(rust_gup_kernel_6_12))]
    invalidate_finish: None,
};

/// The interval notifier's callback: the CPU page table is about to change
/// in `range`; clear the entries it covers and record the sequence.
///
/// # Safety
///
/// Called by the mmu notifier core only, on a notifier registered with
/// [`MIRROR_OPS`], so `sub` is the `notifier` field of a [`Mirror`].
unsafe extern "C" fn invalidate(
    sub: *mut bindings::mmu_interval_notifier,
    range: *const bindings::mmu_notifier_range,
    cur_seq: c_ulong,
) -> bool {
    // SAFETY: `sub` is the `notifier` field of a `Mirror` (only `Mirror::new`
    // registers `MIRROR_OPS`). The core calls back only between insertion
    // and the return of `mmu_interval_notifier_remove()` in the drop, and
    // insertion happens after `range` and `table` are initialised, so
    // those fields are valid here; only they are read.
    let (mirror_range, table) = unsafe {
        let mirror = container_of!(
            sub.cast::<Opaque<bindings::mmu_interval_notifier>>(),
            Mirror,
            notifier
        );
        let table: &Arc<MirrorTable> = &*addr_of!((*mirror).table);
        (&*addr_of!((*mirror).range), &table.lock)
    };
    // SAFETY: the core passes a valid range for the duration of the call.
    let (start, end) = unsafe { ((*range).start, (*range).end) };

    let mut table = table.lock();
    // SAFETY: `sub` is registered; the sequence is set under the lock that
    // `Mirror::fault` takes before `mmu_interval_read_retry()`.
    unsafe { bindings::rust_gup_mmu_interval_set_seq(sub, cur_seq) };
    let first = start.max(mirror_range.start());
    let last = end.min(mirror_range.end());
    if first < last {
        // Whole pages touched by [first, last), as indices into the table.
        let from = (first - mirror_range.start()) >> PAGE_SHIFT;
        let to = (last - mirror_range.start()).div_ceil(PAGE_SIZE);
        // The device's mappings of the range go before the callback
        // returns, and with them its references to the pages.
        table.clear(from, to);
    }
    table.invalidations = table.invalidations.wrapping_add(1);
    true
}

impl Mirror {
    /// Mirrors `range` of the calling task's address space: an initialiser
    /// that registers an interval notifier on it, with an empty table
    /// (every entry not valid). With a `client`, its entries are mapped for
    /// that PCI function, registered in `registry` for revocation when its
    /// driver unbinds: `ENODEV` when none is bound, `EINTR` when killed
    /// waiting for its device lock. `EINVAL` past [`MAX_MIRROR_PAGES`];
    /// `ENOMEM`.
    pub(crate) fn new<'a>(
        mm: &'a CurrentMm,
        range: UserPageRange,
        client: Option<(&PciFunction, &Arc<DmaRegistry>)>,
    ) -> Result<impl PinInit<Self, Error> + 'a> {
        if range.nr_pages() > MAX_MIRROR_PAGES {
            return Err(EINVAL);
        }
        let entries = KVVec::from_elem(0 as c_ulong, range.nr_pages(), GFP_KERNEL | __GFP_NOWARN)?;
        let dma = match client {
            Some((client, registry)) => {
                Some(MirrorDma::new(client, registry.claims(), range.nr_pages())?)
            }
            None => None,
        };
        let client_dev = dma.as_ref().map(|d| d.client_dev() as usize);
        let table = Arc::pin_init(
            pin_init!(MirrorTable {
                lock <- new_spinlock!(
                    Table {
                        entries,
                        dma,
                        invalidations: 0
                    },
                    "rust_gup_mirror"
                ),
                client_dev,
            }),
            GFP_KERNEL,
        )?;
        // Before anything is mapped: an unbind from now on revokes.
        let registration = match client {
            Some((client, registry)) => {
                let revoke: Arc<dyn Revoke> = table.clone();
                Some(Registration::for_client(registry, client, revoke)?)
            }
            None => None,
        };
        let mm = mm.as_raw();
        // SAFETY: on success the closure has initialised the slot (the core
        // filled it in and registered it); on failure it is left
        // unregistered and needs no cleanup.
        let notifier = unsafe {
            pin_init_from_closure(move |slot: *mut Opaque<bindings::mmu_interval_notifier>| {
                let sub = opaque_raw(slot);
                // SAFETY: `slot` is valid for writes; the core expects a
                // zeroed notifier (`test_hmm` passes `kzalloc`'d ones).
                core::ptr::write_bytes(sub, 0, 1);
                // SAFETY: `mm` is the calling task's, so it has users, as
                // registration requires; the ops are static; the notifier
                // stays in place (pinned) until it is removed in the drop.
                to_result(bindings::mmu_interval_notifier_insert(
                    sub,
                    mm,
                    range.start() as c_ulong,
                    (range.nr_pages() * PAGE_SIZE) as c_ulong,
                    &MIRROR_OPS,
                ))
            })
        };
        Ok(try_pin_init!(Mirror {
            range,
            table,
            _registration: registration,
            notifier <- notifier,
        }))
    }

    /// The mirrored range.
    pub(crate) fn range(&self) -> UserPageRange {
        self.range
    }

    /// Index in the table of the page at `addr`; `EINVAL` outside.
    fn index_of(&self, sub: UserPageRange) -> Result<usize> {
        if sub.start() < self.range.start() || sub.end() > self.range.end() {
            return Err(EINVAL);
        }
        Ok((sub.start() - self.range.start()) >> PAGE_SHIFT)
    }

    /// The address space the notifier is registered on, with a reference
    /// of our own; `EFAULT` when its task has exited.
    fn mm(&self) -> Result<ARef<MmWithUser>> {
        // SAFETY: registration stored the address space in the notifier
        // and grabbed it (`mmgrab`) until removal, which is after `self`.
        let mm = unsafe { Mm::from_raw((*self.notifier.get()).mm) };
        mm.mmget_not_zero().ok_or(EFAULT)
    }

    /// Fills the entries of `sub` (a part of the mirrored range) from the
    /// CPU page table per `mode`, with the retry protocol of `hmm.rst`.
    /// On an error, chunks before the failing one stay committed.
    ///
    /// `EINVAL` when `sub` is not inside the mirror; `EFAULT` where
    /// `hmm_range_fault()` says so (a hole, a page it cannot fault, the
    /// address space gone; also where faulting a page in ran out of
    /// memory, which `hmm_range_fault()` reports so), `EBUSY` when a chunk
    /// kept changing for a second, `EINTR` on a fatal signal, `ENOMEM`.
    /// Between chunks it yields the CPU and stops if the caller is killed.
    pub(crate) fn fault(&self, sub: UserPageRange, mode: MirrorMode) -> Result<FaultStats> {
        let start = Instant::now();
        let first = self.index_of(sub)?;
        let mm = self.mm()?;
        let mut pfns = KVec::from_elem(0 as c_ulong, CHUNK_PAGES.min(sub.nr_pages()), GFP_KERNEL)?;
        let mut stats = FaultStats::default();
        let sub_ptr = self.notifier.get();

        let mut done = 0;
        while done < sub.nr_pages() {
            let n = (sub.nr_pages() - done).min(CHUNK_PAGES);
            let chunk_start = sub.start() + done * PAGE_SIZE;
            let chunk_began = Instant::now();
            loop {
                // Lets others run (the test kernel is not preemptible).
                cond_resched();
                if fatal_signal_pending() {
                    return Err(EINTR);
                }
                if chunk_began.elapsed_ms() > FAULT_TIMEOUT_MS {
                    return Err(EBUSY);
                }
                // SAFETY: the notifier is registered (type invariant).
                let seq = unsafe { bindings::mmu_interval_read_begin(sub_ptr) };
                let mut range = bindings::hmm_range {
                    notifier: sub_ptr,
                    notifier_seq: seq,
                    start: chunk_start as c_ulong,
                    end: (chunk_start + n * PAGE_SIZE) as c_ulong,
                    hmm_pfns: pfns.as_mut_ptr(),
                    default_flags: mode.default_flags(),
                    pfn_flags_mask: 0,
                    dev_private_owner: core::ptr::null_mut(),
                };
                let ret = {
                    let _lock = mm.mmap_read_lock_killable()?;
                    // SAFETY: the mmap lock of the notifier's address space
                    // is held; `range` covers `n` pages of a registered
                    // notifier's interval, and `hmm_pfns` has room for `n`
                    // entries.
                    unsafe { bindings::hmm_range_fault(&mut range) }
                };
                if ret == -(bindings::EBUSY as i32) {
                    stats.retries += 1;
                    continue;
                }
                to_result(ret)?;

                let mut table = self.table.lock.lock();
                // SAFETY: the notifier is registered; `invalidate` sets the
                // sequence under the lock held here.
                if unsafe { bindings::rust_gup_mmu_interval_read_retry(sub_ptr, seq) } {
                    stats.retries += 1;
                    continue;
                }
                // SAFETY: `hmm_range_fault()` filled `pfns` under `seq`,
                // which the retry check under the table lock found current.
                unsafe { table.commit(first + done, &pfns[..n])? };
                break;
            }
            done += n;
        }
        stats.ns = start.elapsed_ns();
        Ok(stats)
    }

    /// Copies entries from index `first` into `out` (as many as fit and
    /// exist), and returns how many, with the number of invalidations the
    /// mirror has seen.
    pub(crate) fn entries(&self, first: usize, out: &mut [MirrorEntry]) -> (usize, u64) {
        let table = self.table.lock.lock();
        let src = table.entries.get(first..).unwrap_or(&[]);
        let n = src.len().min(out.len());
        for (o, e) in out.iter_mut().zip(&src[..n]) {
            *o = MirrorEntry(*e);
        }
        (n, table.invalidations)
    }

    /// Copies what the entries from index `first` give the client into
    /// `out` (as many as fit and exist), under the table lock, and returns
    /// how many: a DMA address only for an entry valid then. `EINVAL` for
    /// a mirror not mapped for a device, `ENODEV` once the unbind of the
    /// client's driver revoked its mappings.
    pub(crate) fn dma_entries(&self, first: usize, out: &mut [EntryDma]) -> Result<usize> {
        let table = self.table.lock.lock();
        let dma = table.dma.as_ref().ok_or(EINVAL)?;
        if dma.revoked() {
            return Err(ENODEV);
        }
        let src = table.entries.get(first..).unwrap_or(&[]);
        let n = src.len().min(out.len());
        for (i, (o, &e)) in out.iter_mut().zip(&src[..n]).enumerate() {
            *o = match dma.mapping(first + i) {
                Some((addr, writable)) => EntryDma::Mapped { addr, writable },
                None if MirrorEntry(e).valid() && !MirrorEntry(e).error() => EntryDma::Unmappable,
                None => EntryDma::None,
            };
        }
        Ok(n)
    }

    /// How many entries of `sub` are valid; `EINVAL` outside the mirror.
    pub(crate) fn count_valid(&self, sub: UserPageRange) -> Result<usize> {
        let first = self.index_of(sub)?;
        let table = self.table.lock.lock();
        Ok(table.entries[first..first + sub.nr_pages()]
            .iter()
            .filter(|&&e| MirrorEntry(e).valid())
            .count())
    }

    /// Runs `f` with the entry of page `index`, under the table lock, as
    /// device access does: `EAGAIN` when the entry is not valid (never
    /// faulted, or invalidated since), `EFAULT` for an error entry,
    /// `EPERM` when `write` and the entry is read-only.
    fn with_entry<T>(
        &self,
        index: usize,
        write: bool,
        f: impl FnOnce(u64) -> Result<T>,
    ) -> Result<T> {
        let table = self.table.lock.lock();
        let entry = MirrorEntry(*table.entries.get(index).ok_or(EINVAL)?);
        if entry.error() {
            return Err(EFAULT);
        }
        if !entry.valid() {
            return Err(EAGAIN);
        }
        if write && !entry.writable() {
            return Err(EPERM);
        }
        f(entry.pfn())
    }

    /// Device read: copies `buf.len()` bytes at `offset` in page `index` of
    /// the mirror, through its entry. Errors as [`Self::with_entry`]; also
    /// `EINVAL` past the page, `EREMOTEIO` for memory that is not ordinary
    /// (PCI P2PDMA, device private).
    pub(crate) fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result {
        self.with_entry(index, false, |pfn| {
            // SAFETY: the entry is valid and the table lock is held, so the
            // invalidation that must precede any unmapping of the page
            // cannot complete: the page stays allocated and mapped.
            let page = unsafe { ordinary_page(pfn)? };
            // SAFETY: as above; `ordinary_page` checked it is ordinary
            // memory.
            unsafe { with_page_mapped(page, |mapped| mapped.read(offset, buf)) }
        })
    }

    /// Device write: copies `data` to `offset` in page `index` through a
    /// writable entry, and marks the page dirty: the device changed it
    /// behind the CPU page table's back. Errors as [`Self::read`].
    pub(crate) fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        self.with_entry(index, true, |pfn| {
            // SAFETY: as in `read`.
            let page = unsafe { ordinary_page(pfn)? };
            // SAFETY: as in `read`; the entry is writable, so the CPU page
            // table maps the page writable (an invalidation would have
            // cleared it otherwise): no COW sharing is left.
            unsafe {
                with_page_mapped(page, |mapped| mapped.write(offset, data))?;
                set_page_dirty(page);
            }
            Ok(())
        })
    }
}

impl CpuPages for Mirror {
    fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result {
        Mirror::read(self, index, offset, buf)
    }

    fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        Mirror::write(self, index, offset, data)
    }
}

#[pinned_drop]
impl PinnedDrop for Mirror {
    fn drop(self: Pin<&mut Self>) {
        // The device's mappings go while the notifier still tells when the
        // pages change, and new ones are refused; then the registration, a
        // field, goes after this.
        self.table.revoke();
        // SAFETY: the notifier is registered (type invariant) and removed
        // once, here. Removal waits for running callbacks; after it none
        // runs, so the table may go.
        unsafe { bindings::mmu_interval_notifier_remove(self.notifier.get()) };
    }
}
