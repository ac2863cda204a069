// SPDX-License-Identifier: GPL-2.0

//! Runs of pages at consecutive page frames: the compact record of a set
//! of held pages.
//!
//! A page array takes 8 bytes per 4 KiB page, 2 MiB per pinned GiB
//! whatever backs it. A set recorded as runs takes 8 bytes per run of
//! pages at consecutive frames, and a quarter of a byte more per run for
//! the index that finds a page by its place in the set: 8.25 bytes per
//! page when no two pages of the set are neighbours (as an array, and 3%
//! more), 8.25 bytes per 2 MiB huge page (4.1 KiB per GiB), less when
//! neighbouring folios merge. A page of the set is found in `O(log(runs / 32) + 32)`.
//!
//! Runs record frame numbers only; what holds the pages, and how they are
//! released, is their owner's business (see `gup::Layout::Runs` and
//! `memfd::MemfdPins`).

use super::{bindings, folio_refs::eoverflow, task::cond_resched};
use kernel::prelude::*;

/// Bits of a run's entry that hold its number of pages, less one.
const LEN_BITS: u32 = 20;

/// The most pages one run has (4 GiB of 4 KiB pages); a longer stretch of
/// consecutive frames takes several runs.
pub(crate) const MAX_RUN_PAGES: usize = 1 << LEN_BITS;

/// The most runs a set may have: 4Mi, 33 MiB of metadata, the size of the
/// page array of the 2^22 pages (16 GiB) a range of an array holder may
/// have. A set of scattered 4 KiB pages reaches it at 16 GiB, as an array
/// did; a set of huge pages at 8 TiB.
pub(crate) const MAX_RUNS: usize = 1 << 22;

/// Runs per entry of the index.
const GROUP: usize = 32;

/// A run: its first page frame and its number of pages, in one word.
///
/// # Invariants
///
/// The low [`LEN_BITS`] bits are the number of pages less one; the others
/// are the first frame number.
#[derive(Clone, Copy)]
struct Run(u64);

impl Run {
    /// `None` when `pfn` does not fit (frames past 2^44, 64 PiB of memory
    /// in 4 KiB pages: beyond what any supported architecture addresses),
    /// or `nr` is 0 or more than [`MAX_RUN_PAGES`].
    fn new(pfn: usize, nr: usize) -> Option<Self> {
        let pfn = u64::try_from(pfn).ok()?;
        if pfn >> (64 - LEN_BITS) != 0 || nr == 0 || nr > MAX_RUN_PAGES {
            return None;
        }
        // INVARIANT: both parts fit, checked above.
        Some(Run(pfn << LEN_BITS | (nr as u64 - 1)))
    }

    fn pfn(self) -> usize {
        // Fits: it came from a `usize` (type invariant).
        (self.0 >> LEN_BITS) as usize
    }

    fn nr(self) -> usize {
        (self.0 & (MAX_RUN_PAGES as u64 - 1)) as usize + 1
    }
}

/// Pages at consecutive frames, in runs, in the order they were recorded.
///
/// # Invariants
///
/// `len` is the sum of the runs' pages; `starts[g]` is the number of pages
/// before run `g * GROUP`, and there is one entry per `GROUP` runs (the
/// last possibly partial); at most [`MAX_RUNS`] runs.
pub(crate) struct PageRuns {
    runs: KVVec<Run>,
    starts: KVVec<usize>,
    len: usize,
}

/// Runs may grow large (a vmalloc of up to 32 MiB): failing to grow them
/// is `ENOMEM` for the caller, not a warning with a stack dump.
fn gfp() -> kernel::alloc::Flags {
    GFP_KERNEL | __GFP_NOWARN
}

impl PageRuns {
    pub(crate) fn new() -> Self {
        // INVARIANT: no runs, no pages.
        PageRuns {
            runs: KVVec::new(),
            starts: KVVec::new(),
            len: 0,
        }
    }

    /// How many pages the runs have.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes allocated to record the pages.
    pub(crate) fn meta_bytes(&self) -> usize {
        self.runs.capacity() * core::mem::size_of::<Run>()
            + self.starts.capacity() * core::mem::size_of::<usize>()
    }

    /// The frame of the last page, if any.
    pub(crate) fn last_pfn(&self) -> Option<usize> {
        let run = self.runs.last()?;
        Some(run.pfn() + run.nr() - 1)
    }

    /// Appends `nr` pages at consecutive frames from `pfn` on: the last run
    /// grows when they follow it, else new runs start. `ENOMEM` past
    /// [`MAX_RUNS`] runs or when the runs cannot grow, `EOVERFLOW` for a
    /// frame a run cannot record; then nothing is appended.
    pub(crate) fn push(&mut self, pfn: usize, nr: usize) -> Result {
        // The common case first: the pages follow the last run, which
        // takes them all.
        if let Some(last) = self.runs.last_mut() {
            if last.pfn().checked_add(last.nr()) == Some(pfn) && nr <= MAX_RUN_PAGES - last.nr() {
                // INVARIANT: the length field takes `nr` more and stays
                // below `MAX_RUN_PAGES`; the pages are counted.
                last.0 += nr as u64;
                self.len += nr;
                return Ok(());
            }
        }
        // What the last run takes, if `pfn` follows it; the rest starts
        // new runs.
        let add = match self.runs.last() {
            Some(last) if last.pfn().checked_add(last.nr()) == Some(pfn) => {
                nr.min(MAX_RUN_PAGES - last.nr())
            }
            _ => 0,
        };
        let new_runs = (nr - add).div_ceil(MAX_RUN_PAGES);
        if new_runs > 0 {
            // Every frame fits a run if the last does.
            Run::new(pfn.checked_add(nr - 1).ok_or_else(eoverflow)?, 1).ok_or_else(eoverflow)?;
            if self.runs.len() + new_runs > MAX_RUNS {
                return Err(ENOMEM);
            }
            let groups = |runs: usize| runs.div_ceil(GROUP);
            let have = self.runs.len();
            self.runs.reserve(new_runs, gfp())?;
            self.starts
                .reserve(groups(have + new_runs) - groups(have), gfp())?;
        }
        // Nothing below fails: the frames fit and the room is made.
        if let Some(last) = self.runs.last_mut().filter(|_| add > 0) {
            // INVARIANT: the pages are counted.
            *last = Run::new(last.pfn(), last.nr() + add).ok_or_else(eoverflow)?;
            self.len += add;
        }
        let (mut pfn, mut rest) = (pfn + add, nr - add);
        while rest > 0 {
            let n = rest.min(MAX_RUN_PAGES);
            if self.runs.len() % GROUP == 0 {
                self.starts.push(self.len, gfp())?;
            }
            self.runs
                .push(Run::new(pfn, n).ok_or_else(eoverflow)?, gfp())?;
            // INVARIANT: the new run's pages are counted, its group has its
            // index entry.
            self.len += n;
            pfn += n;
            rest -= n;
        }
        Ok(())
    }

    /// The frame of page `index` (from 0, in order); `None` past the end.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        if index >= self.len {
            return None;
        }
        // `starts[0]` is 0, so the group is found.
        let group = self.starts.partition_point(|&start| start <= index) - 1;
        let mut at = self.starts[group];
        for run in &self.runs[group * GROUP..] {
            if index < at + run.nr() {
                return Some(run.pfn() + (index - at));
            }
            at += run.nr();
        }
        None
    }

    /// The runs, in order: (first frame, number of pages).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + Clone + '_ {
        self.runs.iter().map(|run| (run.pfn(), run.nr()))
    }

    /// The frames of the pages, in order.
    pub(crate) fn pfns(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        self.iter().flat_map(|(pfn, nr)| pfn..pfn + nr)
    }

    /// Calls `f(pfn, nr)` for the pages in order, as stretches at
    /// consecutive frames, and lets other tasks run after each
    /// [`RELEASE_BATCH`] pages: what releases a set of millions of pages
    /// (a drop, which may run in a bus notifier) calls it, where sleeping
    /// is allowed. A stretch may end inside a folio.
    pub(crate) fn for_each_batch(&self, mut f: impl FnMut(usize, usize)) {
        let mut since = 0;
        for (pfn, nr) in self.iter() {
            let mut done = 0;
            while done < nr {
                let n = (nr - done).min(RELEASE_BATCH - since);
                f(pfn + done, n);
                done += n;
                since += n;
                if since == RELEASE_BATCH {
                    cond_resched();
                    since = 0;
                }
            }
        }
    }
}

/// Pages a release handles between two chances for other tasks to run
/// (`cond_resched()`): 16 MiB of 4 KiB pages, some milliseconds of
/// unpinning at most.
pub(crate) const RELEASE_BATCH: usize = 4096;

/// Calls `f(folio, page, nr)` for each folio that the `nr` pages at
/// consecutive frames from `pfn` on reach, in order, with the first of its
/// pages among them and how many of its pages are among them.
///
/// # Safety
///
/// The pages are held (pinned or referenced) for the duration of the call.
pub(crate) unsafe fn for_each_folio(
    pfn: usize,
    nr: usize,
    mut f: impl FnMut(*mut bindings::folio, *mut bindings::page, usize),
) {
    let end = pfn + nr;
    let mut pfn = pfn;
    while pfn < end {
        // SAFETY: the page is held (the function's safety requirement), so
        // its frame has a page, and the page its folio; the folio's pages
        // are at consecutive frames from its first page's on.
        let (folio, page, folio_end) = unsafe {
            let page = bindings::rust_gup_pfn_to_page(pfn as kernel::ffi::c_ulong);
            let folio = bindings::rust_gup_page_folio(page);
            let first = bindings::rust_gup_page_to_pfn(bindings::rust_gup_folio_page(folio, 0));
            let nr_pages = bindings::rust_gup_folio_nr_pages(folio) as usize;
            (folio, page, first as usize + nr_pages)
        };
        let n = folio_end.min(end) - pfn;
        f(folio, page, n);
        pfn += n;
    }
}
