// SPDX-License-Identifier: GPL-2.0

//! Folio pins of a memfd: `memfd_pin_folios()`.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).
//!
//! `memfd_pin_folios()` pins a range of a shmem or hugetlbfs file by file
//! offset, with no mapping of it: pages that are not there yet are
//! allocated, and every folio is pinned long-term (FOLL_PIN |
//! FOLL_LONGTERM: migrated out of ZONE_MOVABLE and CMA first), once,
//! whatever number of its pages the range has. Such pins are their own
//! kind, [`MemfdPins`]: one pin per folio, released with `unpin_folio()`,
//! never per page.
//!
//! The set is kept as runs of pages at consecutive frames
//! ([`PageRuns`]): about 8 bytes per folio, or less, where a page array
//! takes 8 per 4 KiB page.

use super::{
    bindings,
    folio_refs::{eoverflow, folio_over_limit, UncheckedRefs, PIN_REFS_PER_PAGE},
    gup::{Access, CpuPages, PageSet},
    page::{with_page_mapped, MappedPage, PageInfo},
    runs::{for_each_folio, PageRuns},
    task::{fatal_signal_pending, Syscall},
};
use core::{mem::size_of, ptr::NonNull};
use kernel::{
    error::to_result,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

/// A file of the caller's, by descriptor, referenced (`fget()` and
/// `fput()`).
///
/// 6.12's kernel crate has no `File::fget()`, and 7.3's returns a
/// `LocalFile`, which a set kept past the call (and dropped on any thread)
/// could only become by an unsafe assumption about `fdget_pos()`; this
/// reference needs neither, and gives out nothing but the checks below.
///
/// # Invariants
///
/// `file` holds a reference taken by `fget()`, dropped once, on drop.
pub(crate) struct FileRef {
    file: NonNull<bindings::file>,
}

// SAFETY: a file reference may be dropped from any task (`fput()` defers
// the final release to task work or a workqueue).
unsafe impl Send for FileRef {}
// SAFETY: shared references only read the file's mode and mapping.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// The file open as `fd` in the calling task (of system call `_cx`:
    /// a kernel thread's descriptors are not the caller's); `EBADF` if
    /// none.
    pub(crate) fn fget(_cx: &Syscall, fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fget()` may be called with any number; it returns a
        // referenced file or null.
        let file = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(EBADF)?;
        // INVARIANT: the reference `fget()` took.
        Ok(FileRef { file })
    }

    fn as_ptr(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// `mmap()`'s checks of a file for a shared mapping with `access`,
    /// and its errno, `EACCES`: the file must be open for reading, and for
    /// a writable pin, open for writing and not append-only. `mmap()`
    /// refuses a shared mapping of an append-only file opened for writing
    /// even when it is read-only (`mprotect()` could make it writable); a
    /// read pin never becomes writable, so it is let through, as a private
    /// mapping would be. The caller holds the inode's lock (shared), under
    /// which its flags are stable.
    fn check_mappable(&self, access: Access) -> Result {
        // SAFETY: the file is referenced (type invariant); `f_mode` is set
        // when it is opened.
        let mode = unsafe { (*self.as_ptr()).f_mode };
        if mode & bindings::FMODE_READ == 0 {
            return Err(EACCES);
        }
        if access != Access::Read {
            // SAFETY: the file is referenced, and so is its inode.
            let append = unsafe { bindings::rust_gup_is_append((*self.as_ptr()).f_inode) };
            if mode & bindings::FMODE_WRITE == 0 || append {
                return Err(EACCES);
            }
        }
        Ok(())
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: the reference of the type invariant, dropped once.
        unsafe { bindings::fput(self.as_ptr()) };
    }
}

/// `EBADFD`, which the 6.12 `kernel::error::code` does not name: a file
/// whose pages `memfd_pin_folios()` does not pin (as udmabuf answers).
fn ebadfd() -> Error {
    Error::from_errno(-(bindings::EBADFD as i32))
}

/// A file's mapping, counted as writably mapped for as long as this lives,
/// as a shared writable mapping of the file counts it: `F_SEAL_WRITE`
/// cannot be added meanwhile (the memfd then answers `EBUSY`).
///
/// # Invariants
///
/// The mapping's `i_mmap_writable` was raised by `mapping_map_writable()`
/// for this value, and is lowered on drop; the mapping outlives it.
struct WritableMapping {
    mapping: NonNull<bindings::address_space>,
}

impl WritableMapping {
    /// `EPERM` when the file is sealed against writing.
    ///
    /// # Safety
    ///
    /// `file`'s mapping must outlive the value: the caller keeps a
    /// reference to the file until it drops it.
    unsafe fn new(file: &FileRef) -> Result<Self> {
        // SAFETY: the file is referenced, and so is its mapping.
        let mapping = unsafe { (*file.as_ptr()).f_mapping };
        let mapping = NonNull::new(mapping).ok_or(EINVAL)?;
        // SAFETY: as above.
        to_result(unsafe { bindings::rust_gup_mapping_map_writable(mapping.as_ptr()) })?;
        // INVARIANT: raised above; the caller keeps the mapping.
        Ok(WritableMapping { mapping })
    }
}

impl Drop for WritableMapping {
    fn drop(&mut self) {
        // SAFETY: raised by `new`, lowered once; the mapping is still
        // there (type invariant).
        unsafe { bindings::rust_gup_mapping_unmap_writable(self.mapping.as_ptr()) };
    }
}

/// `file`'s inode lock, shared: the file cannot be truncated, punched or
/// sealed meanwhile (all three take it exclusively).
///
/// # Invariants
///
/// This value holds `inode_lock_shared()` of `file`'s inode.
struct InodeSharedGuard<'a> {
    file: &'a FileRef,
}

impl<'a> InodeSharedGuard<'a> {
    fn lock(file: &'a FileRef) -> Self {
        // SAFETY: the file is referenced, and so is its inode.
        unsafe { bindings::rust_gup_inode_lock_shared((*file.as_ptr()).f_inode) };
        // INVARIANT: taken above.
        InodeSharedGuard { file }
    }
}

impl Drop for InodeSharedGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: taken by `lock` (type invariant), released once.
        unsafe { bindings::rust_gup_inode_unlock_shared((*self.file.as_ptr()).f_inode) };
    }
}

/// Whether every page of `nr` pages of `file` (hugetlbfs) from page `first`
/// on is in its page cache. 6.12's `memfd_pin_folios()` allocates a missing
/// hugetlbfs page without reserving it first (a `VM_BUG_ON()` in
/// `alloc_hugetlb_folio_reserve()` on a `DEBUG_VM` kernel, a wrong
/// reservation count on others; 7.3 reserves first), so on 6.12 rust_gup
/// pins only hugetlbfs pages that are there. Called under the file's inode
/// lock, shared, which keeps holes from being punched meanwhile.
#[cfg(rust_gup_kernel_6_12)]
fn hugetlb_range_present(file: &FileRef, first: usize, nr: usize) -> bool {
    // SAFETY: the file is referenced, and so is its mapping.
    let mapping = unsafe { (*file.as_ptr()).f_mapping };
    let end = first + nr;
    let mut index = first;
    while index < end {
        // SAFETY: a lookup in a referenced mapping; it returns a folio
        // with a reference of ours, or null.
        let folio = unsafe { bindings::rust_gup_filemap_get_folio(mapping, index as _) };
        if folio.is_null() {
            return false;
        }
        // SAFETY: the folio is referenced; the reference is dropped once.
        let next = unsafe {
            let next = bindings::rust_gup_folio_next_index(folio) as usize;
            bindings::rust_gup_folio_put(folio);
            next
        };
        if next <= index {
            return false;
        }
        index = next;
    }
    true
}

/// Folios a single `memfd_pin_folios()` call fills at most: the range of
/// one call is as many pages, so that it is covered whatever the folios'
/// sizes (a 4 KiB scratch array, not one sized to the range).
const CHUNK: usize = PAGE_SIZE / size_of::<*mut bindings::folio>();

/// Pages [`MemfdPins::pin`] pins per `memfd_pin_folios()` call.
pub(crate) const PAGES_PER_CALL: usize = CHUNK;

/// Runs of pinned folios; each folio's pin is released when dropped.
///
/// # Invariants
///
/// Each folio that the runs reach carries one FOLL_PIN pin taken for them;
/// the runs reach a folio's pages in one stretch (a folio is not reached
/// again after another).
struct Runs(PageRuns);

impl Runs {
    fn len(&self) -> usize {
        self.0.len()
    }

    /// The folio of the last page, if any.
    fn last_folio(&self) -> Option<*mut bindings::folio> {
        let pfn = self.0.last_pfn()?;
        // SAFETY: the last page is pinned (type invariant).
        Some(unsafe {
            bindings::rust_gup_page_folio(bindings::rust_gup_pfn_to_page(
                pfn as kernel::ffi::c_ulong,
            ))
        })
    }

    /// Pins `nr` pages (at most [`CHUNK`]) of `file` from byte `start` on,
    /// appending them. A folio that the runs already reach (the range of
    /// the call before ended inside it) is reached further, and its second
    /// pin is dropped again. `EOVERFLOW` for a folio with more references
    /// than a kept set may leave ([`super::folio_refs`]): the call's pins
    /// from it on are dropped, the caller drops the runs.
    fn pin_chunk(
        &mut self,
        file: &FileRef,
        start: i64,
        nr: usize,
        folios: &mut KVVec<*mut bindings::folio>,
    ) -> Result {
        let end = start + ((nr << PAGE_SHIFT) as i64) - 1;
        let mut offset: kernel::ffi::c_ulong = 0;
        // SAFETY: `folios` has room for `CHUNK >= nr` entries; the file is
        // referenced. `end` is inclusive.
        let got = unsafe {
            bindings::memfd_pin_folios(
                file.as_ptr(),
                start,
                end,
                folios.as_mut_ptr(),
                nr as u32,
                &mut offset,
            )
        };
        let got = usize::try_from(got).map_err(|_| Error::from_errno(got as i32))?;
        let last = self.len() + nr;
        // `offset` is the byte offset of `start` in the first folio; the
        // other folios start at their first page.
        let mut first = offset as usize >> PAGE_SHIFT;
        let mut result = Ok(());
        for i in 0..got {
            // SAFETY: entry `i < got` was written by `memfd_pin_folios()`.
            let folio = unsafe { *folios.as_ptr().add(i) };
            if result.is_err() {
                // SAFETY: the folio's pin, taken by this call and recorded
                // nowhere.
                unsafe { bindings::unpin_folio(folio) };
                continue;
            }
            // SAFETY: the folio is pinned.
            if unsafe { folio_over_limit(folio) } {
                // SAFETY: the folio's pin, taken by this call and recorded
                // nowhere; the caller drops the runs.
                unsafe { bindings::unpin_folio(folio) };
                result = Err(eoverflow());
                continue;
            }
            // SAFETY: the folio is pinned; `first` is one of its pages.
            let (nr_pages, pfn) = unsafe {
                (
                    bindings::rust_gup_folio_nr_pages(folio) as usize,
                    bindings::rust_gup_page_to_pfn(bindings::rust_gup_folio_page(
                        folio,
                        first as kernel::ffi::c_ulong,
                    )) as usize,
                )
            };
            let n = (nr_pages - first).min(last - self.len());
            // Only a chunk's first folio can be one the runs reach already.
            let again = i == 0 && self.last_folio() == Some(folio);
            // INVARIANT: a pinned folio's pages from `first` on, after the
            // pages of the runs: of the same folio when `again` (the pages
            // after its last one), of the next folio otherwise.
            result = self.0.push(pfn, n);
            if again || n == 0 || result.is_err() {
                // SAFETY: a second pin of a folio the runs hold pinned, or
                // a pin recorded nowhere (a folio past the range, which
                // the function does not return, or one the runs could not
                // take): taken by this call either way.
                unsafe { bindings::unpin_folio(folio) };
            }
            first = 0;
        }
        result?;
        if self.len() != last {
            // The folios did not cover the range: not what the function
            // promises, but never a set shorter than it says.
            return Err(EINVAL);
        }
        Ok(())
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        let mut last: *mut bindings::folio = core::ptr::null_mut();
        self.0.for_each_batch(|pfn, nr| {
            // SAFETY: the runs' pages are pinned (type invariant): each
            // folio once, released here once, when it is first reached (a
            // folio is reached in one stretch of pages, which may span two
            // runs or batches).
            unsafe {
                for_each_folio(pfn, nr, |folio, _, _| {
                    if folio != last {
                        bindings::unpin_folio(folio);
                        last = folio;
                    }
                })
            };
        });
    }
}

/// Pages of a memfd pinned with `memfd_pin_folios()`: one long-term pin per
/// folio, unpinned when dropped (the folios dirtied first for
/// [`Access::WriteDirty`]). The file stays referenced, as by a mapping of
/// it. Fields drop in order: the pins go before the writable count, and
/// both before the file.
pub(crate) struct MemfdPins {
    runs: Runs,
    access: Access,
    /// For pins the device writes, the file counted as writably mapped.
    _writable: Option<WritableMapping>,
    _file: FileRef,
}

// SAFETY: pins are not tied to a task; they are released from any context
// that may sleep, where sets are dropped.
unsafe impl Send for MemfdPins {}
// SAFETY: shared references only read the runs and describe the pages.
unsafe impl Sync for MemfdPins {}

impl MemfdPins {
    /// Pins `nr_pages` pages (at least one) of `file` from byte `offset`
    /// on (page aligned, checked by the caller), for `access`.
    ///
    /// `EBADFD` for a file that is neither shmem nor hugetlbfs; what
    /// `mmap()` of a shared mapping answers: `EACCES` for a file not open
    /// for reading, and for a writable pin, a file not open for writing or
    /// append-only ([`FileRef::check_mappable`]), and `EPERM` for a
    /// writable pin of a file sealed against writing (`F_SEAL_WRITE`,
    /// `F_SEAL_FUTURE_WRITE`); `EINVAL` for a range past the end of the file; `ENOMEM`
    /// also for more runs than a set may have ([`super::runs::MAX_RUNS`]);
    /// `EOVERFLOW` for a folio with as many references as a kept set may
    /// leave, `EAGAIN` when concurrent takes hold the module's budget of
    /// unchecked references ([`super::folio_refs`]); `EINTR` when the
    /// caller is killed meanwhile; and the errors of `memfd_pin_folios()`.
    /// On failure nothing stays pinned.
    pub(crate) fn pin(file: FileRef, offset: u64, nr_pages: usize, access: Access) -> Result<Self> {
        let ptr = file.as_ptr();
        // SAFETY: the file is referenced.
        let (shmem, hugetlb) = unsafe {
            (
                bindings::rust_gup_shmem_file(ptr),
                bindings::rust_gup_is_file_hugepages(ptr),
            )
        };
        if !shmem && !hugetlb {
            return Err(ebadfd());
        }
        let start = i64::try_from(offset).map_err(|_| EINVAL)?;
        let len = i64::try_from(nr_pages << PAGE_SHIFT).map_err(|_| EINVAL)?;
        if nr_pages == 0 || start.checked_add(len).is_none() {
            return Err(EINVAL);
        }
        // A call's pins, one per folio, until `pin_chunk` has checked them.
        let _unchecked = UncheckedRefs::new(CHUNK * PIN_REFS_PER_PAGE)?;
        let mut folios: KVVec<*mut bindings::folio> =
            KVVec::with_capacity(CHUNK, GFP_KERNEL | __GFP_NOWARN)?;
        let mut runs = Runs(PageRuns::new());
        // Shared: no truncation, hole punch or new seal while the seals are
        // read and the range pinned, as udmabuf does it.
        let guard = InodeSharedGuard::lock(&file);
        file.check_mappable(access)?;
        let writable = if access == Access::Read {
            None
        } else {
            // SAFETY: the file is referenced; its seals are stable under
            // the inode lock.
            let seals = unsafe { bindings::rust_gup_memfd_seals(ptr) };
            if seals & (bindings::F_SEAL_WRITE | bindings::F_SEAL_FUTURE_WRITE) != 0 {
                return Err(EPERM);
            }
            // SAFETY: the set keeps `file`, dropped after the count.
            Some(unsafe { WritableMapping::new(&file)? })
        };
        // SAFETY: the file is referenced, and so is its inode; its size is
        // stable under the inode lock.
        if start + len > unsafe { bindings::rust_gup_i_size_read((*ptr).f_inode) } {
            return Err(EINVAL);
        }
        #[cfg(rust_gup_kernel_6_12)]
        if hugetlb && !hugetlb_range_present(&file, offset as usize >> PAGE_SHIFT, nr_pages) {
            return Err(EFAULT);
        }
        let mut done = 0;
        while done < nr_pages {
            // Pages are allocated as they are pinned: a task the OOM
            // killer picked stops here.
            if fatal_signal_pending() {
                return Err(EINTR);
            }
            let n = CHUNK.min(nr_pages - done);
            runs.pin_chunk(&file, start + ((done << PAGE_SHIFT) as i64), n, &mut folios)?;
            done += n;
        }
        drop(guard);
        Ok(MemfdPins {
            runs,
            access,
            _writable: writable,
            _file: file,
        })
    }

    /// Page `index`, held.
    fn page(&self, index: usize) -> Option<NonNull<bindings::page>> {
        let pfn = self.runs.0.pfn(index)?;
        // SAFETY: `pfn` is the frame of a pinned page.
        NonNull::new(unsafe { bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong) })
    }

    fn with_page_mapped<R>(
        &self,
        index: usize,
        f: impl FnOnce(&MappedPage) -> Result<R>,
    ) -> Result<R> {
        let page = self.page(index).ok_or(EINVAL)?;
        // SAFETY: the page is pinned while `self` lives, and memfd pages
        // are ordinary memory.
        unsafe { with_page_mapped(page, f) }
    }
}

impl PageSet for MemfdPins {
    fn len(&self) -> usize {
        self.runs.len()
    }

    fn page_info(&self, index: usize) -> Option<PageInfo> {
        // SAFETY: the page is pinned while `self` lives.
        Some(unsafe { PageInfo::of(self.page(index)?) })
    }

    fn dump_page(&self, index: usize, reason: &CStr) {
        if let Some(page) = self.page(index) {
            // SAFETY: the page is pinned while `self` lives.
            unsafe { bindings::dump_page(page.as_ptr(), reason.as_char_ptr()) };
        }
    }

    fn meta_bytes(&self) -> usize {
        self.runs.0.meta_bytes()
    }
}

impl CpuPages for MemfdPins {
    fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result {
        self.with_page_mapped(index, |page| page.read(offset, buf))
    }

    /// `EPERM` unless pinned with [`Access::WriteDirty`], as for GUP's
    /// pins: a write must reach the file's pages when they are written
    /// back or swapped out.
    fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        if self.access != Access::WriteDirty {
            return Err(EPERM);
        }
        // SAFETY: the pin is for writing: the file was open for writing
        // and not sealed against it, and cannot be sealed while the set
        // lives (its writable count).
        self.with_page_mapped(index, |page| unsafe { page.write(offset, data) })
    }
}

// SAFETY: every page of the runs is pinned until `runs` drops, with the
// set; the runs do not change once made.
#[cfg(rust_gup_dma)]
unsafe impl super::dma::MapPins for MemfdPins {
    fn access(&self) -> Access {
        self.access
    }

    fn page_iter(&self) -> impl Iterator<Item = *mut bindings::page> + Clone + '_ {
        self.runs.0.pfns().map(|pfn| {
            // SAFETY: the frame is of a pinned page.
            unsafe { bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong) }
        })
    }
}

impl Drop for MemfdPins {
    fn drop(&mut self) {
        if self.access != Access::WriteDirty {
            return;
        }
        // The pins go with `runs`, after this.
        self.runs.0.for_each_batch(|pfn, nr| {
            // SAFETY: the pages are pinned (by `runs`, dropped after this).
            // A folio reached by two runs or batches is dirtied twice,
            // which is harmless.
            unsafe {
                for_each_folio(pfn, nr, |_, page, _| {
                    bindings::set_page_dirty_lock(page);
                })
            };
        });
    }
}
