// SPDX-License-Identifier: GPL-2.0

//! Pages of user memory taken with get_user_pages (GUP).
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).
//! The rules: [`Documentation/core-api/pin_user_pages.rst`].
//!
//! The rules of that document are types here:
//!
//! - Pages taken with FOLL_PIN are held by [`PinnedPages`], which unpins
//!   them (`unpin_user_pages*`) when dropped; pages taken with FOLL_GET are
//!   held by [`GotPages`], which drops their references (`put_page`). A
//!   holder releases exactly what it holds, once, and the right way; no
//!   caller ever releases a page.
//! - The kind of pin is a type parameter: [`ShortTerm`], [`LongTerm`]
//!   (FOLL_LONGTERM: RDMA, VFIO) and [`MaybeP2pdma`] (FOLL_PCI_P2PDMA: may
//!   contain PCI peer-to-peer pages). There is no long-term P2PDMA kind, so
//!   that combination cannot reach GUP; FOLL_GET has no long-term form.
//! - [`MaybeP2pdma`] pins last for one operation ([`PinnedPages::scoped`])
//!   unless [`super::dma::Revocable`] holds them: registered with the
//!   providers of their P2PDMA pages, which revoke them before their memory
//!   goes. No other holder of them can be kept.
//! - Only kinds whose pages are ordinary memory ([`CpuAccessible`]) offer
//!   CPU access to the contents: a P2PDMA page cannot be mapped by accident.
//! - Whether the pages are marked dirty on release is part of [`Access`],
//!   chosen when the holder is made, and only possible for writable pins:
//!   [`GotPages`] takes [`GetOptions`], which have no dirtying form.
//! - Ranges are [`UserPageRange`]s, checked once (page aligned, not empty,
//!   not wrapping, below `TASK_SIZE`). Flags never come from the caller as
//!   raw FOLL bits, so no combination that makes GUP WARN can reach it.
//! - The locked and remote entry points take the guard of the right mmap
//!   lock as proof that it is held (its type says whose address space it
//!   is); the others take [`CurrentMm`] as proof that there is an address
//!   space to work on.
//!
//! [`Documentation/core-api/pin_user_pages.rst`]: srctree/Documentation/core-api/pin_user_pages.rst

use super::{
    bindings,
    folio_refs::{
        eoverflow, pages_over_limit, UncheckedRefs, GET_REFS_PER_PAGE, PIN_REFS_PER_PAGE,
    },
    mm::{task_size, CurrentMm, Mm, MmExt, MmapReadGuard, OwnerMm},
    page::{with_page_mapped, MappedPage, PageInfo},
    runs::{for_each_folio, PageRuns, RELEASE_BATCH},
    task::{cond_resched, Syscall},
};
use core::{marker::PhantomData, mem::size_of, ptr::NonNull};
use kernel::{
    alloc::Flags,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

/// The most pages a holder of [`Layout::Array`] may have: 16 GiB of 4 KiB
/// pages, a 32 MiB page array. Such holders size their array to the range
/// up front; a range checked only against `TASK_SIZE` could ask for an
/// array past `INT_MAX`, which `kvmalloc` refuses (and WARNs on, without
/// `__GFP_NOWARN`), and arrays that large are not something to let user
/// space allocate. Holders of [`Layout::Runs`] are limited by what they
/// hold instead ([`super::runs::MAX_RUNS`]).
pub(crate) const MAX_PAGES: usize = 1 << 22;

/// A page-aligned, non-empty range of user addresses below `TASK_SIZE`.
///
/// # Invariants
///
/// `start` is page aligned, `nr_pages >= 1`, and
/// `start + nr_pages * PAGE_SIZE` is at most the top of the user address
/// space it was checked against (`TASK_SIZE` of the caller, or
/// `mm->task_size` of another), so it does not overflow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserPageRange {
    start: usize,
    nr_pages: usize,
}

impl UserPageRange {
    /// The pages of `[addr, addr + size)`; a size that is not a multiple
    /// of the page size is rounded down, as gup_test does.
    ///
    /// `EINVAL` for an unaligned start, less than one page, a range that
    /// wraps around, or one that reaches past the calling task's user
    /// address space.
    pub(crate) fn new(cx: &Syscall, addr: u64, size: u64) -> Result<Self> {
        Self::below(addr, size, task_size(cx))
    }

    /// The same in the address space `mm`, which may be another task's
    /// (whose `TASK_SIZE` may differ from the caller's, 32-bit against
    /// 64-bit).
    pub(crate) fn new_in(mm: &Mm, addr: u64, size: u64) -> Result<Self> {
        Self::below(addr, size, mm.task_size())
    }

    fn below(addr: u64, size: u64, top: u64) -> Result<Self> {
        let end = addr.checked_add(size).ok_or(EINVAL)?;
        if addr % PAGE_SIZE as u64 != 0 || size < PAGE_SIZE as u64 || end > top {
            return Err(EINVAL);
        }
        // INVARIANT: checked above.
        Ok(UserPageRange {
            start: usize::try_from(addr)?,
            nr_pages: usize::try_from(size / PAGE_SIZE as u64)?,
        })
    }

    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// The first address past the range.
    pub(crate) fn end(&self) -> usize {
        // No overflow: the range ends at or below `TASK_SIZE` (invariant).
        self.start + self.nr_pages * PAGE_SIZE
    }

    #[inline]
    pub(crate) fn nr_pages(&self) -> usize {
        self.nr_pages
    }

    /// The rest of this range after its first `skip` pages; `None` when
    /// nothing is left.
    pub(crate) fn after(&self, skip: usize) -> Option<UserPageRange> {
        let nr_pages = self.nr_pages.checked_sub(skip).filter(|&n| n > 0)?;
        // INVARIANT: a tail of a valid range is valid.
        Some(UserPageRange {
            start: self.start + skip * PAGE_SIZE,
            nr_pages,
        })
    }
}

/// How a take went, when it took something.
pub(crate) struct Taken {
    /// GUP calls made.
    pub(crate) calls: u64,
    /// The error that stopped it before the end of the range, if any.
    pub(crate) error: Option<Error>,
}

mod private {
    pub(crate) trait Sealed {}

    /// A holder's pages, for the [`super::PageSet`] every holder offers.
    pub(crate) trait Holder {
        fn store(&self) -> &super::Store;
    }
}

/// The kind of a FOLL_PIN pin. Sealed: the kinds below are all there is.
pub(crate) trait PinKind: private::Sealed + Sized {
    /// The FOLL bits the kind adds to FOLL_PIN.
    const FOLL: u32;

    /// CPU access to the contents of `pins`, for kinds whose pages are
    /// ordinary memory ([`CpuAccessible`]); `None` for the others.
    fn cpu_pages(pins: &PinnedPages<Self>) -> Option<&dyn CpuPages>;
}

/// Pins whose pages are ordinary memory, which the CPU may access.
pub(crate) trait CpuAccessible: PinKind {}

/// Short-term pins, meant to last no longer than the operation that takes
/// them: a holder of them is made with [`PinnedPages::scoped`], or, by an
/// owner that keeps them past the call and says so, with
/// [`PinnedPages::new_unscoped`].
pub(crate) trait ShortLived: PinKind {}

/// A short-term pin, as for direct I/O: released when the I/O completes.
pub(crate) enum ShortTerm {}

/// A long-term pin (FOLL_LONGTERM), as for RDMA memory registration or
/// VFIO: GUP first migrates the pages out of ZONE_MOVABLE and CMA, and
/// refuses writable shared mappings of files other than shmem and hugetlb.
pub(crate) enum LongTerm {}

/// A short-term pin that accepts PCI peer-to-peer (device BAR) pages
/// (FOLL_PCI_P2PDMA). Such pages have no CPU mapping to rely on, so this
/// kind offers no CPU access. P2PDMA memory can be unplugged at any time
/// (its provider's driver unbinds, and waits for every page to be freed),
/// so these pins are held within one operation ([`PinnedPages::scoped`]),
/// or by a [`super::dma::Revocable`], which gives them back when the
/// provider goes: there is no other way to keep them.
pub(crate) enum MaybeP2pdma {}

impl private::Sealed for ShortTerm {}
impl private::Sealed for LongTerm {}
impl private::Sealed for MaybeP2pdma {}

impl PinKind for ShortTerm {
    const FOLL: u32 = 0;

    fn cpu_pages(pins: &PinnedPages<Self>) -> Option<&dyn CpuPages> {
        Some(pins)
    }
}
impl PinKind for LongTerm {
    const FOLL: u32 = bindings::FOLL_LONGTERM;

    fn cpu_pages(pins: &PinnedPages<Self>) -> Option<&dyn CpuPages> {
        Some(pins)
    }
}
impl PinKind for MaybeP2pdma {
    const FOLL: u32 = bindings::FOLL_PCI_P2PDMA;

    fn cpu_pages(_pins: &PinnedPages<Self>) -> Option<&dyn CpuPages> {
        None
    }
}

impl CpuAccessible for ShortTerm {}
impl CpuAccessible for LongTerm {}

impl ShortLived for ShortTerm {}

/// What the pages are taken for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The device (or the CPU) only reads.
    Read,
    /// The device writes (FOLL_WRITE); pages are released as they are.
    Write,
    /// The device writes (FOLL_WRITE), and the pages are marked dirty on
    /// release, so data written behind the kernel's back is written back
    /// (`unpin_user_pages_dirty_lock`). Pins only: see [`GetOptions`].
    WriteDirty,
}

/// How pages are taken, apart from the kind of pin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GupOptions {
    access: Access,
    force: bool,
}

impl GupOptions {
    pub(crate) const fn new(access: Access) -> Self {
        GupOptions {
            access,
            force: false,
        }
    }

    /// FOLL_FORCE: take pages the mapping's protection would refuse, as
    /// ptrace does (writing breaks COW of a read-only private mapping).
    pub(crate) const fn force(self, force: bool) -> Self {
        GupOptions { force, ..self }
    }

    pub(crate) fn access(&self) -> Access {
        self.access
    }

    #[inline]
    fn foll(&self) -> u32 {
        let mut foll = 0;
        if self.access != Access::Read {
            foll |= bindings::FOLL_WRITE;
        }
        if self.force {
            foll |= bindings::FOLL_FORCE;
        }
        foll
    }
}

/// How pages are taken with FOLL_GET: [`GupOptions`] without
/// [`Access::WriteDirty`].
///
/// A page reference does not make `folio_maybe_dma_pinned()` true, so
/// while it is held reclaim may write a file folio back, clean it and
/// strip its buffers; dirtying it on release then hits filesystems'
/// `WARN_ON_ONCE(!folio_buffers(folio))` and loses the data
/// (`pin_user_pages.rst`, case 5: "INCORRECT"). Pages a device writes are
/// pinned, and [`GotPages`] has no form that dirties.
///
/// # Invariants
///
/// The access is [`Access::Read`] or [`Access::Write`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct GetOptions(GupOptions);

impl GetOptions {
    /// `opts` for FOLL_GET; `EINVAL` for [`Access::WriteDirty`].
    pub(crate) fn new(opts: GupOptions) -> Result<Self> {
        if opts.access == Access::WriteDirty {
            return Err(EINVAL);
        }
        // INVARIANT: checked just above.
        Ok(GetOptions(opts))
    }
}

/// The page pointers of a holder, in the order GUP returned them.
///
/// The references the pages add to their folios are not checked page by
/// page; they are reserved, at the holder's worst case per page, in
/// `unchecked` (see [`super::folio_refs`]). Page arrays are held for one
/// call.
///
/// # Invariants
///
/// Every entry was filled in by a successful GUP call and is held (by a pin
/// or a reference, as the owning holder knows) until the holder drops.
/// `unchecked` holds the most references an entry can add to its folio
/// for each entry, at least.
pub(crate) struct PageVec {
    pages: KVVec<*mut bindings::page>,
    unchecked: UncheckedRefs,
}

impl PageVec {
    /// Page arrays may be large (a vmalloc of up to 32 MiB): failing one is
    /// `ENOMEM` for the caller, not a warning with a stack dump. They are
    /// zeroed, as gup_test's `kvcalloc` does: the array is then touched
    /// before GUP writes to it, which benchmarks against gup_test rely on.
    fn gfp() -> Flags {
        GFP_KERNEL | __GFP_NOWARN | __GFP_ZERO
    }

    /// Room for `capacity` pages, each adding at most `refs_per_page`
    /// references to its folio: `EINVAL` past [`MAX_PAGES`] or past the
    /// budget of unchecked references, `EAGAIN` when concurrent takes hold
    /// that ([`UncheckedRefs::new`]).
    fn with_capacity(capacity: usize, refs_per_page: usize) -> Result<Self> {
        if capacity > MAX_PAGES {
            return Err(EINVAL);
        }
        Ok(PageVec {
            unchecked: UncheckedRefs::new(capacity * refs_per_page)?,
            pages: KVVec::with_capacity(capacity, Self::gfp())?,
        })
    }

    /// Takes `range` with GUP calls of at most `per_call` pages each,
    /// appending the pages: gup_test's loop. It stops at the first call
    /// that takes fewer pages than asked (GUP hit a hole or a page it
    /// cannot take), keeping what it got, and fails, with GUP's error, only
    /// when it took nothing.
    ///
    /// # Safety
    ///
    /// `call(start, nr_pages, pages)` must be a GUP call that writes at
    /// most `nr_pages` valid page pointers to `pages` and returns how many
    /// it wrote, or a negative errno having written none that it holds.
    #[inline(always)]
    unsafe fn append(
        &mut self,
        range: UserPageRange,
        per_call: usize,
        mut call: impl FnMut(usize, usize, *mut *mut bindings::page) -> isize,
        refs_per_page: usize,
    ) -> Result<Taken> {
        let have = self.pages.len();
        // Holders are made with room for their range: reserve only past it,
        // and never past `MAX_PAGES`.
        if self.pages.capacity() - have < range.nr_pages {
            if range.nr_pages > MAX_PAGES - have {
                return Err(EINVAL);
            }
            // INVARIANT: the references of the pages past the capacity.
            self.unchecked.grow(range.nr_pages * refs_per_page)?;
            self.pages.reserve(range.nr_pages, Self::gfp())?;
        }
        let base = self.pages.as_mut_ptr();
        let per_call = per_call.max(1);
        // By the invariant of `UserPageRange` the range ends at or below
        // `TASK_SIZE`, and the array has room for all of its pages, at
        // most `MAX_PAGES`: nothing below can overflow, so the hot loop
        // uses wrapping arithmetic, free of overflow checks.
        let end = range.start.wrapping_add(range.nr_pages << PAGE_SHIFT);
        let mut addr = range.start;
        let mut len = have;
        let mut calls: u64 = 0;
        let mut error = None;
        while addr < end {
            let nr = per_call.min(end.wrapping_sub(addr) >> PAGE_SHIFT);
            let ret = call(addr, nr, base.wrapping_add(len));
            calls = calls.wrapping_add(1);
            if ret < 0 {
                error = Some(Error::from_errno(ret as i32));
                break;
            }
            len = len.wrapping_add(ret as usize);
            if ret as usize != nr {
                break;
            }
            addr = addr.wrapping_add(nr << PAGE_SHIFT);
        }
        // INVARIANT: the new entries are pages GUP just took.
        #[cfg(rust_gup_kernel_6_12)]
        // SAFETY: each call wrote as many valid page pointers as it
        // returned (at most the `nr` it was given), contiguously after the
        // old end, within the capacity reserved above, as the caller
        // guarantees.
        unsafe {
            self.pages.set_len(len)
        };
        #[cfg(not(rust_gup_kernel_6_12))]
        // SAFETY: as above (7.3's `KVec` has `inc_len` for `set_len`).
        unsafe {
            self.pages.inc_len(len - have)
        };
        if len == have {
            return Err(error.unwrap_or(EFAULT));
        }
        Ok(Taken { calls, error })
    }
}

/// Pointers a GUP call of a [`Layout::Runs`] holder fills at most: a page
/// of them, the scratch array through which the pages reach the runs.
const RUNS_CHUNK: usize = PAGE_SIZE / size_of::<*mut bindings::page>();

/// The frame of `pages[0]` and how many of `pages`, from the first on, are
/// at consecutive frames: the stretch of consecutive page pointers, if its
/// last page's frame is as far from the first's. With SPARSEMEM_VMEMMAP
/// (x86_64 always) consecutive pointers are consecutive frames; with the
/// other memory models they are within a memory section, and a stretch of
/// at most [`RUNS_CHUNK`] pages crosses at most one section boundary,
/// where the frames would jump: the check of its ends sees that, and the
/// stretch is then the first page alone. A pointer compare per page, and
/// two `page_to_pfn()` per stretch.
///
/// # Safety
///
/// `pages` is not empty, and its pages are held.
#[inline(always)]
unsafe fn frame_stretch(pages: &[*mut bindings::page]) -> (usize, usize) {
    let first = pages[0];
    let mut n = 1;
    while n < pages.len() && pages[n] == first.wrapping_add(n) {
        n += 1;
    }
    // SAFETY: the pages are held, as the caller guarantees.
    let (pfn, last) = unsafe {
        (
            bindings::rust_gup_page_to_pfn(first) as usize,
            bindings::rust_gup_page_to_pfn(pages[n - 1]) as usize,
        )
    };
    if last.wrapping_sub(pfn) != n - 1 {
        return (pfn, 1);
    }
    (pfn, n)
}

/// Takes `range` into `runs` with GUP calls of at most `per_call` pages
/// each (and at most [`RUNS_CHUNK`]), through a scratch array: as
/// [`PageVec::append`] does into an array. A page the runs cannot record
/// (past [`super::runs::MAX_RUNS`], or no memory to grow them) is
/// released at once, with the ones after it from the same call, by
/// `release(pages, nr)`; the take stops there, with that error.
///
/// Runs are kept past the call, so each call's folios are checked against
/// [`super::folio_refs::MAX_FOLIO_REFS`] before they are recorded (the
/// call's own references, at most `refs_per_page` per page, are reserved
/// until then), in one C call per GUP call. A folio over it fails the take
/// with `EOVERFLOW`: the call's pages are released here, the ones recorded
/// before by the caller, which drops the holder.
///
/// # Safety
///
/// As for [`PageVec::append`]; `release(pages, nr)` must give back pages
/// taken by `call`, the way `call` took them.
#[inline(never)]
unsafe fn append_runs(
    runs: &mut PageRuns,
    range: UserPageRange,
    per_call: usize,
    mut call: impl FnMut(usize, usize, *mut *mut bindings::page) -> isize,
    release: unsafe fn(*mut *mut bindings::page, usize),
    refs_per_page: usize,
) -> Result<Taken> {
    let have = runs.len();
    let per_call = per_call.clamp(1, RUNS_CHUNK);
    let _unchecked = UncheckedRefs::new(per_call * refs_per_page)?;
    let mut chunk: KVVec<*mut bindings::page> =
        KVVec::with_capacity(RUNS_CHUNK, GFP_KERNEL | __GFP_NOWARN)?;
    let base = chunk.as_mut_ptr();
    let end = range.end();
    let mut addr = range.start;
    let mut calls: u64 = 0;
    let mut error = None;
    'calls: while addr < end {
        let nr = per_call.min((end - addr) >> PAGE_SHIFT);
        let ret = call(addr, nr, base);
        calls += 1;
        if ret < 0 {
            error = Some(Error::from_errno(ret as i32));
            break;
        }
        let got = ret as usize;
        // SAFETY: the call wrote `got <= nr <= RUNS_CHUNK` valid page
        // pointers to the array, which has room for `RUNS_CHUNK`.
        let pages = unsafe { core::slice::from_raw_parts_mut(base, got) };
        // SAFETY: the pages are held, GUP just took them.
        if unsafe { pages_over_limit(pages) } {
            // SAFETY: the call's pages are recorded nowhere yet.
            unsafe { release(base, got) };
            return Err(eoverflow());
        }
        let mut i = 0;
        while i < got {
            // SAFETY: the pages are held, GUP just took them.
            let (pfn, n) = unsafe { frame_stretch(&pages[i..]) };
            // INVARIANT: the runs record pages GUP just took.
            if let Err(e) = runs.push(pfn, n) {
                // SAFETY: pages `i..got` of this call are recorded nowhere;
                // they are given back the way they were taken.
                unsafe { release(base.add(i), got - i) };
                error = Some(e);
                break 'calls;
            }
            i += n;
        }
        if got != nr {
            break;
        }
        addr += nr << PAGE_SHIFT;
    }
    if runs.len() == have {
        return Err(error.unwrap_or(EFAULT));
    }
    Ok(Taken { calls, error })
}

/// How a holder keeps the pointers of its pages.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    /// One pointer per page, in an array made up front for the given
    /// number of pages (at most [`MAX_PAGES`], else `EINVAL`), which GUP
    /// fills directly: gup_test's way, for holders that the benchmark
    /// compares with it.
    Array(usize),
    /// Runs of pages at consecutive frames ([`PageRuns`]), filled through
    /// a page of pointers per GUP call and released run by run: for sets
    /// held past a call, whose metadata is then about 8 bytes per 2 MiB
    /// huge page rather than 4 KiB.
    Runs,
}

/// A holder's pages, kept as its [`Layout`] says.
///
/// # Invariants
///
/// Every page recorded was taken by GUP and is held (by a pin or a
/// reference, as the owning holder knows) until the holder drops.
pub(crate) enum Store {
    Array(PageVec),
    Runs(PageRuns),
}

impl Store {
    /// An empty store for pages that add at most `refs_per_page`
    /// references each to their folios.
    fn new(layout: Layout, refs_per_page: usize) -> Result<Self> {
        Ok(match layout {
            Layout::Array(capacity) => {
                Store::Array(PageVec::with_capacity(capacity, refs_per_page)?)
            }
            Layout::Runs => Store::Runs(PageRuns::new()),
        })
    }

    /// See [`PageVec::append`] and [`append_runs`].
    ///
    /// # Safety
    ///
    /// As for [`append_runs`].
    #[inline(always)]
    unsafe fn append(
        &mut self,
        range: UserPageRange,
        per_call: usize,
        call: impl FnMut(usize, usize, *mut *mut bindings::page) -> isize,
        release: unsafe fn(*mut *mut bindings::page, usize),
        refs_per_page: usize,
    ) -> Result<Taken> {
        // SAFETY: the caller's guarantees are the functions' own.
        unsafe {
            match self {
                Store::Array(pages) => pages.append(range, per_call, call, refs_per_page),
                Store::Runs(runs) => {
                    append_runs(runs, range, per_call, call, release, refs_per_page)
                }
            }
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            Store::Array(pages) => pages.pages.len(),
            Store::Runs(runs) => runs.len(),
        }
    }

    /// Page `index`, held; `None` past the end.
    fn page(&self, index: usize) -> Option<NonNull<bindings::page>> {
        match self {
            Store::Array(pages) => NonNull::new(*pages.pages.get(index)?),
            Store::Runs(runs) => {
                let pfn = runs.pfn(index)?;
                // SAFETY: the frame is of a held page (type invariant).
                NonNull::new(unsafe { bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong) })
            }
        }
    }

    /// The pages, in order.
    fn page_iter(&self) -> impl Iterator<Item = *mut bindings::page> + Clone + '_ {
        let (array, runs) = match self {
            Store::Array(pages) => (&pages.pages[..], None),
            Store::Runs(runs) => (&[][..], Some(runs)),
        };
        let from_runs = runs.into_iter().flat_map(|runs| {
            runs.pfns().map(|pfn| {
                // SAFETY: the frame is of a held page (type invariant).
                unsafe { bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong) }
            })
        });
        Iterator::chain(array.iter().copied(), from_runs)
    }

    /// The bytes allocated to record the pages.
    fn meta_bytes(&self) -> usize {
        match self {
            Store::Array(pages) => pages.pages.capacity() * size_of::<*mut bindings::page>(),
            Store::Runs(runs) => runs.meta_bytes(),
        }
    }
}

/// A set of pages held by GUP, whatever the way; for code that inspects
/// them without caring how they are held.
pub(crate) trait PageSet {
    /// How many pages the set holds.
    fn len(&self) -> usize;
    /// Describes page `index`; `None` past the end.
    fn page_info(&self, index: usize) -> Option<PageInfo>;
    /// Prints page `index` to the kernel log with `dump_page`.
    fn dump_page(&self, index: usize, reason: &CStr);
    /// The bytes allocated to record which pages the set holds.
    fn meta_bytes(&self) -> usize;
}

impl<H: private::Holder> PageSet for H {
    #[inline]
    fn len(&self) -> usize {
        self.store().len()
    }

    fn page_info(&self, index: usize) -> Option<PageInfo> {
        // SAFETY: the page is held (the invariant of `Store`).
        Some(unsafe { PageInfo::of(self.store().page(index)?) })
    }

    fn dump_page(&self, index: usize, reason: &CStr) {
        if let Some(page) = self.store().page(index) {
            // SAFETY: the page is held (the invariant of `Store`).
            unsafe { bindings::dump_page(page.as_ptr(), reason.as_char_ptr()) };
        }
    }

    fn meta_bytes(&self) -> usize {
        self.store().meta_bytes()
    }
}

/// How a holder takes pages: the GUP entry points. Each method takes
/// `range` with GUP calls of at most `per_call` pages, appending the pages
/// to the holder. GUP may take fewer pages than asked, at a hole or a page
/// it cannot take: the method then stops and the holder keeps what it got
/// (the caller may go on, or drop the holder, which gives back exactly what
/// it holds). It fails, with GUP's error, only when it took nothing.
pub(crate) trait TakePages: PageSet {
    /// `pin_user_pages_fast` / `get_user_pages_fast`.
    fn take_fast(&mut self, mm: &CurrentMm, range: UserPageRange, per_call: usize)
        -> Result<Taken>;
    /// `pin_user_pages` / `get_user_pages`, with the calling task's mmap
    /// lock held.
    fn take_locked(
        &mut self,
        lock: &MmapReadGuard<'_, CurrentMm>,
        range: UserPageRange,
        per_call: usize,
    ) -> Result<Taken>;
    /// `pin_user_pages_unlocked` / `get_user_pages_unlocked`.
    fn take_unlocked(
        &mut self,
        mm: &CurrentMm,
        range: UserPageRange,
        per_call: usize,
    ) -> Result<Taken>;
    /// `pin_user_pages_remote` / `get_user_pages_remote` on the address
    /// space of an owner, which `lock` holds the mmap lock of: the only
    /// entry point that takes another task's pages, and it takes no
    /// other.
    fn take_remote(
        &mut self,
        lock: &MmapReadGuard<'_, OwnerMm>,
        range: UserPageRange,
        per_call: usize,
    ) -> Result<Taken>;
}

/// The fast entry points count pages in an `int`.
#[inline]
fn fast_nr(nr_pages: usize) -> i32 {
    nr_pages.min(i32::MAX as usize) as i32
}

/// Gives back pinned pages that a holder took but did not record.
///
/// # Safety
///
/// `pages` points to `nr` pages, each with a FOLL_PIN pin of the caller's,
/// which it gives up.
unsafe fn unpin_unrecorded(pages: *mut *mut bindings::page, nr: usize) {
    // SAFETY: as the caller guarantees.
    unsafe { bindings::unpin_user_pages(pages, nr as kernel::ffi::c_ulong) };
}

/// Gives back page references that a holder took but did not record.
///
/// # Safety
///
/// `pages` points to `nr` pages, each with a reference of the caller's,
/// which it gives up.
unsafe fn put_unrecorded(pages: *mut *mut bindings::page, nr: usize) {
    // SAFETY: as the caller guarantees.
    unsafe { bindings::rust_gup_put_pages(pages, nr as kernel::ffi::c_ulong) };
}

/// Implements [`TakePages`] for a holder over one family of GUP calls: the
/// `pin_*` ones for [`PinnedPages`], the `get_*` ones for [`GotPages`],
/// which `$release` undoes, each page adding at most `$refs_per_page`
/// references to its folio. The holder's `foll()` gives the flags.
macro_rules! take_pages {
    (impl[$($generics:tt)*] $holder:ty, $fast:ident, $locked:ident, $unlocked:ident,
     $remote:ident, $release:ident, $refs_per_page:expr) => {
        impl<$($generics)*> TakePages for $holder {
            #[inline]
            fn take_fast(
                &mut self,
                _mm: &CurrentMm,
                range: UserPageRange,
                per_call: usize,
            ) -> Result<Taken> {
                let foll = self.foll();
                // SAFETY: the `*_user_pages_fast` call writes at most `nr`
                // pages and returns their number or an error. Its flags
                // are valid: a pin kind and the options only produce
                // WRITE, FORCE, LONGTERM and PCI_P2PDMA, never LONGTERM
                // with PCI_P2PDMA; for references only WRITE and FORCE.
                // `_mm` shows there is an address space. `$release` gives
                // back pages the way these calls take them.
                // INVARIANT: each page is held the holder's way, with
                // `foll`.
                unsafe {
                    self.pages.append(
                        range,
                        per_call,
                        |start, nr, pages| {
                            bindings::$fast(start, fast_nr(nr), foll, pages) as isize
                        },
                        $release,
                        $refs_per_page,
                    )
                }
            }

            #[inline]
            fn take_locked(
                &mut self,
                _lock: &MmapReadGuard<'_, CurrentMm>,
                range: UserPageRange,
                per_call: usize,
            ) -> Result<Taken> {
                let foll = self.foll();
                // SAFETY: as for `take_fast`; `_lock` holds the calling
                // task's mmap lock, which the locked variant requires.
                unsafe {
                    self.pages.append(
                        range,
                        per_call,
                        |start, nr, pages| bindings::$locked(start, nr, foll, pages),
                        $release,
                        $refs_per_page,
                    )
                }
            }

            #[inline]
            fn take_unlocked(
                &mut self,
                _mm: &CurrentMm,
                range: UserPageRange,
                per_call: usize,
            ) -> Result<Taken> {
                let foll = self.foll();
                // SAFETY: as for `take_fast`; the unlocked variant takes the
                // mmap lock itself.
                unsafe {
                    self.pages.append(
                        range,
                        per_call,
                        |start, nr, pages| bindings::$unlocked(start, nr, pages, foll),
                        $release,
                        $refs_per_page,
                    )
                }
            }

            #[inline]
            fn take_remote(
                &mut self,
                lock: &MmapReadGuard<'_, OwnerMm>,
                range: UserPageRange,
                per_call: usize,
            ) -> Result<Taken> {
                let foll = self.foll();
                let mm = lock.mm().as_raw();
                // SAFETY: as for `take_fast`; `lock` holds the mmap lock of
                // `mm`, which the remote variant requires when `locked` is
                // null, and `mm`'s address space is referenced by the
                // `MmWithUser` the guard borrows.
                unsafe {
                    self.pages.append(
                        range,
                        per_call,
                        |start, nr, pages| {
                            bindings::$remote(mm, start, nr, foll, pages, core::ptr::null_mut())
                        },
                        $release,
                        $refs_per_page,
                    )
                }
            }
        }
    };
}

/// Pages pinned with FOLL_PIN, of kind `K`; unpinned when dropped.
///
/// # Invariants
///
/// Every page in `pages` carries one FOLL_PIN pin taken by this holder with
/// `K::FOLL` and `opts`.
pub(crate) struct PinnedPages<K: PinKind> {
    pages: Store,
    opts: GupOptions,
    _kind: PhantomData<K>,
}

// SAFETY: pins are not tied to a task: they may be released from any
// context that may sleep, which is where holders are dropped.
unsafe impl<K: PinKind> Send for PinnedPages<K> {}
// SAFETY: shared references only read the page pointers and describe the
// pages, which is safe from several threads at once.
unsafe impl<K: PinKind> Sync for PinnedPages<K> {}

impl<K: PinKind> PinnedPages<K> {
    /// An empty holder that keeps its pages as `layout` says. For the
    /// layer's own holders of pins that outlive a call
    /// ([`super::dma::Revocable`]).
    pub(super) fn empty(opts: GupOptions, layout: Layout) -> Result<Self> {
        Ok(PinnedPages {
            pages: Store::new(layout, PIN_REFS_PER_PAGE)?,
            opts,
            _kind: PhantomData,
        })
    }

    /// Runs `f` with an empty holder (an array with room for `capacity`
    /// pages), and unpins what it took when `f` returns.
    ///
    /// `f` gets the holder by reference only, so the pins cannot outlive
    /// the call: the way to pin for the duration of one operation, as
    /// `pin_user_pages.rst` means short-term pins to be used.
    pub(crate) fn scoped<R>(
        opts: GupOptions,
        capacity: usize,
        f: impl FnOnce(&mut Self) -> Result<R>,
    ) -> Result<R> {
        let mut pins = Self::empty(opts, Layout::Array(capacity))?;
        f(&mut pins)
    }

    #[inline]
    fn foll(&self) -> u32 {
        K::FOLL | self.opts.foll()
    }

    /// How the pages were pinned.
    pub(crate) fn access(&self) -> Access {
        self.opts.access
    }

    /// CPU access to the pages' contents, if the kind allows it (see
    /// [`PinKind::cpu_pages`]).
    pub(crate) fn cpu(&self) -> Option<&dyn CpuPages> {
        K::cpu_pages(self)
    }

    /// The pinned pages, in order, for the DMA mapping of [`super::dma`].
    pub(super) fn page_iter(&self) -> impl Iterator<Item = *mut bindings::page> + Clone + '_ {
        self.pages.page_iter()
    }
}

impl<K: PinKind> private::Holder for PinnedPages<K> {
    fn store(&self) -> &Store {
        &self.pages
    }
}

impl PinnedPages<LongTerm> {
    /// An empty holder of long-term pins, which its owner keeps for as
    /// long as it needs (a memory registration, a VFIO mapping): they are
    /// made for that.
    pub(crate) fn new(opts: GupOptions, layout: Layout) -> Result<Self> {
        Self::empty(opts, layout)
    }
}

impl<K: ShortLived> PinnedPages<K> {
    /// An empty holder of short-term pins whose owner keeps them past the
    /// call that takes them, and says so by making it this way.
    ///
    /// `pin_user_pages.rst` keeps FOLL_PIN without FOLL_LONGTERM for pins
    /// released when the operation completes. Holding such pins for long
    /// keeps pages in ZONE_MOVABLE and CMA from migrating, and P2PDMA
    /// pages from being unplugged. rust_gup's test device does it on
    /// purpose, so that tests can inspect the pins between calls
    /// (`RUST_GUP_IOC_PIN`, `_DMA_MAP`), and so does its benchmark, which
    /// times the release on its own. A driver uses [`Self::scoped`], or
    /// [`LongTerm`] pins for memory it keeps. [`MaybeP2pdma`] pins are not
    /// short-lived in this sense: they are kept only by a
    /// [`super::dma::Revocable`].
    pub(crate) fn new_unscoped(opts: GupOptions, layout: Layout) -> Result<Self> {
        Self::empty(opts, layout)
    }
}

take_pages!(
    impl[K: PinKind] PinnedPages<K>,
    pin_user_pages_fast,
    pin_user_pages,
    pin_user_pages_unlocked,
    pin_user_pages_remote,
    unpin_unrecorded,
    PIN_REFS_PER_PAGE
);

/// `EOPNOTSUPP`, which the 6.12 `kernel::error::code` does not name: pages
/// held in a way that offers no [`CpuPages`].
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// Access to the contents of held pages, as a device reading or writing
/// them would make: pinned ordinary memory through the CPU, or a mirror's
/// pages through its entries. Pages are numbered from 0, in order.
pub(crate) trait CpuPages {
    /// Copies `buf.len()` bytes from page `index`, starting `offset` bytes
    /// into it, to `buf`; `EINVAL` past the set or the page.
    fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result;

    /// Copies `data` into page `index`, starting `offset` bytes into it;
    /// `EPERM` unless the pages were pinned with [`Access::WriteDirty`].
    fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result;
}

impl<K: CpuAccessible> CpuPages for PinnedPages<K> {
    fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result {
        PinnedPages::read(self, index, offset, buf)
    }

    fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        PinnedPages::write(self, index, offset, data)
    }
}

impl<K: CpuAccessible> PinnedPages<K> {
    /// Runs `f` with page `index` mapped for the CPU; see
    /// [`with_page_mapped`].
    fn with_page_mapped<R>(
        &self,
        index: usize,
        f: impl FnOnce(&MappedPage) -> Result<R>,
    ) -> Result<R> {
        let page = self.pages.page(index).ok_or(EINVAL)?;
        // SAFETY: by the type invariant the page is pinned while `self`
        // lives, and `K` says it is ordinary memory.
        unsafe { with_page_mapped(page, f) }
    }

    /// Copies `buf.len()` bytes from page `index`, starting `offset` bytes
    /// into it, to `buf`.
    pub(crate) fn read(&self, index: usize, offset: usize, buf: &mut [u8]) -> Result {
        self.with_page_mapped(index, |page| page.read(offset, buf))
    }

    /// Copies `data` into page `index`, starting `offset` bytes into it, as
    /// a device writing to the memory would. `EPERM` unless the pages were
    /// pinned with [`Access::WriteDirty`]: a read-only pin may hold a shared
    /// page (the zero page, or one not yet copied on write), and a write the
    /// page tables did not see is lost unless the page is dirtied on
    /// release.
    pub(crate) fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        if self.opts.access != Access::WriteDirty {
            return Err(EPERM);
        }
        // SAFETY: the page was pinned for writing (FOLL_WRITE broke any COW
        // sharing).
        self.with_page_mapped(index, |page| unsafe { page.write(offset, data) })
    }

    /// Copies the whole of page `index` to user memory at `dest`; `EFAULT`
    /// if that is not writable.
    pub(crate) fn copy_page_to_user(&self, index: usize, dest: usize) -> Result {
        self.with_page_mapped(index, |page| page.copy_to_user(dest))
    }
}

impl<K: PinKind> Drop for PinnedPages<K> {
    fn drop(&mut self) {
        let dirty = self.opts.access == Access::WriteDirty;
        match &mut self.pages {
            Store::Array(pages) => {
                // A batch at a time, with a chance to reschedule after each
                // (a folio split between two batches is released in two).
                for batch in pages.pages.chunks_mut(RELEASE_BATCH) {
                    // SAFETY: by the type invariant every entry carries one
                    // pin of this holder, and a holder is dropped once:
                    // each pin is released exactly once. Only pins made for
                    // writing can be `WriteDirty`.
                    unsafe {
                        if dirty {
                            bindings::unpin_user_pages_dirty_lock(
                                batch.as_mut_ptr(),
                                batch.len(),
                                true,
                            );
                        } else {
                            bindings::unpin_user_pages(batch.as_mut_ptr(), batch.len());
                        }
                    }
                    cond_resched();
                }
            }
            Store::Runs(runs) => {
                runs.for_each_batch(|pfn, nr| {
                    // SAFETY: as above, stretch by stretch: the pages are at
                    // consecutive frames, which is what the function
                    // releases, folio by folio (the part of a folio the
                    // stretch has).
                    unsafe {
                        bindings::unpin_user_page_range_dirty_lock(
                            bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong),
                            nr as kernel::ffi::c_ulong,
                            dirty,
                        )
                    };
                });
            }
        }
    }
}

/// The pages of a set that holds none any more (revoked).
pub(crate) struct NoPages;

impl PageSet for NoPages {
    fn len(&self) -> usize {
        0
    }

    fn page_info(&self, _index: usize) -> Option<PageInfo> {
        None
    }

    fn dump_page(&self, _index: usize, _reason: &CStr) {}

    fn meta_bytes(&self) -> usize {
        0
    }
}

/// Pages taken with FOLL_GET (a plain page reference each); put when
/// dropped. The pre-FOLL_PIN interface, kept as the baseline: such pages are
/// not marked as DMA-pinned, and there is no long-term or P2PDMA form.
///
/// # Invariants
///
/// Every page in `pages` carries one reference taken by this holder with
/// `opts`.
pub(crate) struct GotPages {
    pages: Store,
    opts: GetOptions,
}

// SAFETY: page references may be dropped from any task.
unsafe impl Send for GotPages {}
// SAFETY: shared references only describe the pages.
unsafe impl Sync for GotPages {}

impl GotPages {
    /// An empty holder that keeps its pages as `layout` says.
    pub(crate) fn new(opts: GetOptions, layout: Layout) -> Result<Self> {
        Ok(GotPages {
            pages: Store::new(layout, GET_REFS_PER_PAGE)?,
            opts,
        })
    }

    #[inline]
    fn foll(&self) -> u32 {
        self.opts.0.foll()
    }
}

impl private::Holder for GotPages {
    fn store(&self) -> &Store {
        &self.pages
    }
}

take_pages!(
    impl[] GotPages,
    get_user_pages_fast,
    get_user_pages,
    get_user_pages_unlocked,
    get_user_pages_remote,
    put_unrecorded,
    GET_REFS_PER_PAGE
);

impl Drop for GotPages {
    fn drop(&mut self) {
        // Never dirtied: see `GetOptions`.
        match &mut self.pages {
            Store::Array(pages) => {
                for batch in pages.pages.chunks_mut(RELEASE_BATCH) {
                    // SAFETY: by the type invariant each entry carries one
                    // reference of this holder, dropped here exactly once
                    // (the holder is dropped once).
                    unsafe { bindings::rust_gup_put_pages(batch.as_mut_ptr(), batch.len()) };
                    cond_resched();
                }
            }
            Store::Runs(runs) => {
                runs.for_each_batch(|pfn, nr| {
                    // SAFETY: as above: the stretch's pages are held, each
                    // with one reference, which the folio's share drops.
                    unsafe {
                        for_each_folio(pfn, nr, |folio, _page, refs| {
                            bindings::rust_gup_put_folio_refs(folio, refs as kernel::ffi::c_ulong);
                        })
                    };
                });
            }
        }
    }
}
