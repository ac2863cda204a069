// SPDX-License-Identifier: GPL-2.0

//! Page sets an open file holds: the gup_test long-term test's, and those
//! taken with `RUST_GUP_IOC_PIN`. All are released when the file is.

#![forbid(unsafe_code)]

use core::{
    mem::size_of,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::UserSlice,
};

use crate::dma::Mapped;
use crate::ids::{self, IdTable};
use crate::kernel_ext::{
    gup::{Access, GupOptions, LongTerm, PageSet, PinnedPages, UserPageRange},
    mm::{CurrentMm, PinnedVmCharge},
    uapi,
};
use crate::take::{take_range, Held, HolderKind, Method, Path, Request, Target};

/// How many `RUST_GUP_IOC_PIN` sets one file may hold at once.
const MAX_SETS: usize = 1024;

/// Sets and pages held by all open files, for `RUST_GUP_IOC_STATS`.
pub(crate) static HELD_SETS: AtomicU64 = AtomicU64::new(0);
pub(crate) static HELD_PAGES: AtomicU64 = AtomicU64::new(0);

/// Counts one held set in the module-wide statistics while it lives.
struct Counted(u64);

impl Counted {
    fn new(pages: usize) -> Self {
        HELD_SETS.fetch_add(1, Ordering::Relaxed);
        HELD_PAGES.fetch_add(pages as u64, Ordering::Relaxed);
        Counted(pages as u64)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        HELD_SETS.fetch_sub(1, Ordering::Relaxed);
        HELD_PAGES.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// What a set holds: pages as GUP took them, or pins DMA-mapped for a
/// device (`RUST_GUP_IOC_DMA_MAP`).
pub(crate) enum Holding {
    Pages(Held),
    Mapped(Mapped),
}

impl Holding {
    fn pages(&self) -> &dyn PageSet {
        match self {
            Holding::Pages(held) => held.pages(),
            Holding::Mapped(mapped) => mapped.pages(),
        }
    }
}

/// A set held by `RUST_GUP_IOC_PIN` or `_DMA_MAP`. Fields drop in order:
/// the pages are released (after the DMA mapping, if any, is gone) before a
/// registration's charge is given back, as RDMA does.
pub(crate) struct HeldSet {
    pub(crate) holding: Holding,
    _charge: Option<PinnedVmCharge>,
    _counted: Counted,
}

/// The long-term test's set (`PIN_LONGTERM_TEST_START`).
struct LongtermTest {
    pins: PinnedPages<LongTerm>,
    _counted: Counted,
}

/// What one open file holds: the long-term test's set (id 0) and the sets
/// of `RUST_GUP_IOC_PIN` and `_DMA_MAP`; see [`IdTable`] for why they are
/// reference counted.
#[derive(Default)]
pub(crate) struct FileSets {
    longterm_test: Option<Arc<LongtermTest>>,
    sets: IdTable<HeldSet, MAX_SETS>,
}

impl FileSets {
    /// A reference to set `id`, made by `RUST_GUP_IOC_PIN` or `_DMA_MAP`.
    pub(crate) fn get(&self, id: u32) -> Result<Arc<HeldSet>> {
        self.sets.get(id)
    }
}

/// Takes `range` per `request` into a new holder; `all_or_nothing` goes on
/// after short batches and fails at the first error (gup_test's long-term
/// test), otherwise a prefix is fine.
fn take(request: &Request, range: UserPageRange, all_or_nothing: bool) -> Result<Held> {
    let target = Target::new(request.method)?;
    let path = Path::new(&target, request.method)?;
    let mut held = Held::new(request, range.nr_pages())?;
    loop {
        let taken = take_range(&mut held, &path, range, range.nr_pages())?;
        if !all_or_nothing || held.pages().len() == range.nr_pages() {
            return Ok(held);
        }
        if let Some(e) = taken.error {
            // Dropping `held` releases what it took.
            return Err(e);
        }
    }
}

/// `PIN_LONGTERM_TEST_START`: pin a whole range long-term, or nothing. The
/// caller's `struct pin_longterm_test` has `len` bytes (fewer in a 32-bit
/// process).
pub(crate) fn longterm_test_start(sets: &Mutex<FileSets>, arg: usize, len: usize) -> Result<isize> {
    let args: uapi::pin_longterm_test = uapi::read_prefix(&mut UserSlice::new(arg, len).reader())?;
    let all = uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE | uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST;
    if sets.lock().longterm_test.is_some()
        || args.flags & !all != 0
        || args.size % PAGE_SIZE as u64 != 0
    {
        return Err(EINVAL);
    }
    let range = UserPageRange::new(args.addr, args.size)?;
    let access = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE != 0 {
        Access::Write
    } else {
        Access::Read
    };
    let method = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST != 0 {
        Method::Fast
    } else {
        Method::Locked
    };
    let request = Request {
        kind: HolderKind::PinLongTerm,
        method,
        opts: GupOptions::new(access),
        account: false,
    };
    let Held::LongTerm(pins) = take(&request, range, true)? else {
        return Err(EINVAL);
    };
    let pages = pins.len();
    let test = Arc::new(
        LongtermTest {
            pins,
            _counted: Counted::new(pages),
        },
        GFP_KERNEL,
    )?;
    let mut sets = sets.lock();
    // Another thread may have started the test meanwhile.
    if sets.longterm_test.is_some() {
        return Err(EINVAL);
    }
    sets.longterm_test = Some(test);
    Ok(0)
}

/// `PIN_LONGTERM_TEST_STOP`: release the long-term test's pins, if any.
pub(crate) fn longterm_test_stop(sets: &Mutex<FileSets>) -> Result<isize> {
    let test = sets.lock().longterm_test.take();
    // Released here, outside the lock (or later, by a READ still using it).
    drop(test);
    Ok(0)
}

/// `PIN_LONGTERM_TEST_READ`: copy the pinned pages' contents to the user
/// buffer whose address is the `__u64` at `arg`.
pub(crate) fn longterm_test_read(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let test = sets.lock().longterm_test.clone().ok_or(EINVAL)?;
    let dest: u64 = UserSlice::new(arg, size_of::<u64>()).reader().read()?;
    let mut dest = usize::try_from(dest)?;
    for index in 0..test.pins.len() {
        test.pins.copy_page_to_user(index, dest)?;
        dest = dest.checked_add(PAGE_SIZE).ok_or(EFAULT)?;
    }
    Ok(0)
}

/// Takes `range` per `request` as a new set of the file: the whole range
/// for a registration (`RUST_GUP_F_ACCOUNT`), which is charged to the
/// caller first, otherwise a prefix. `map` may turn the pages into
/// something else to hold before the set is made.
pub(crate) fn take_set(
    sets: &Mutex<FileSets>,
    request: &Request,
    range: UserPageRange,
    map: impl FnOnce(Held) -> Result<Holding>,
) -> Result<Arc<HeldSet>> {
    sets.lock().sets.check_room()?;
    // A registration is charged first, for the whole range, and pinned
    // whole: on any failure both go again.
    let charge = if request.account {
        Some(PinnedVmCharge::charge(
            &CurrentMm::get()?,
            range.nr_pages(),
        )?)
    } else {
        None
    };
    let holding = map(take(request, range, request.account)?)?;
    let pages = holding.pages().len();
    Ok(Arc::new(
        HeldSet {
            holding,
            _charge: charge,
            _counted: Counted::new(pages),
        },
        GFP_KERNEL,
    )?)
}

/// Adds `set` to the file's sets and calls `report` with its id outside
/// the lock; if that fails, the set goes again.
pub(crate) fn publish_set(
    sets: &Mutex<FileSets>,
    set: Arc<HeldSet>,
    report: impl FnOnce(u32) -> Result,
) -> Result {
    ids::publish(sets, |s| &mut s.sets, set, report)
}

/// `RUST_GUP_IOC_PIN`: take a range and hold it until `UNPIN` or release.
/// A prefix is fine (the size says how much) except for a registration
/// (`RUST_GUP_F_ACCOUNT`), which is all or nothing; nothing is an error.
pub(crate) fn pin(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_pin>()).reader_writer();
    let mut pin: uapi::rust_gup_pin = reader.read()?;
    if pin.reserved != 0 {
        return Err(EINVAL);
    }
    let request = Request::from_op(pin.op, pin.flags)?;
    let range = UserPageRange::new(pin.addr, pin.size)?;
    let set = take_set(sets, &request, range, |held| Ok(Holding::Pages(held)))?;
    pin.size = (set.holding.pages().len() * PAGE_SIZE) as u64;
    publish_set(sets, set, |id| {
        pin.id = id;
        writer.write(&pin)
    })?;
    Ok(0)
}

/// `RUST_GUP_IOC_UNPIN`: release the set whose id is the `__u32` at `arg`.
pub(crate) fn unpin(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let id: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
    let set = sets.lock().sets.remove(id).ok_or(ENOENT)?;
    // Released here, outside the lock (or later, by an ioctl still using
    // it): a DMA mapping is unmapped, then the pages are released.
    drop(set);
    Ok(0)
}

/// A set of the file to read from, kept alive by the reference.
enum SetRef {
    LongtermTest(Arc<LongtermTest>),
    Held(Arc<HeldSet>),
}

impl SetRef {
    fn pages(&self) -> &dyn PageSet {
        match self {
            SetRef::LongtermTest(t) => &t.pins,
            SetRef::Held(s) => s.holding.pages(),
        }
    }
}

/// `RUST_GUP_IOC_QUERY`: describe pages of a held set.
pub(crate) fn query(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_query>()).reader_writer();
    let mut query: uapi::rust_gup_query = reader.read()?;
    let set = {
        let sets = sets.lock();
        if query.id == uapi::RUST_GUP_ID_LONGTERM_TEST {
            SetRef::LongtermTest(sets.longterm_test.clone().ok_or(ENOENT)?)
        } else {
            SetRef::Held(sets.sets.get(query.id)?)
        }
    };
    let set = set.pages();
    let first = usize::try_from(query.first)?;
    if first > set.len() {
        return Err(EINVAL);
    }
    let nr = (query.nr as usize).min(set.len() - first);
    let entry = size_of::<uapi::rust_gup_page_info>();
    let mut out = UserSlice::new(usize::try_from(query.pages)?, nr * entry).writer();
    for index in first..first + nr {
        out.write(&set.page_info(index).ok_or(EINVAL)?)?;
    }
    query.nr = nr as u32;
    query.set_pages = set.len() as u64;
    writer.write(&query)?;
    Ok(0)
}
