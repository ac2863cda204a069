// SPDX-License-Identifier: GPL-2.0

//! The kernel's gup_test commands, and rust_gup's `RUST_GUP_IOC_BENCH`.
//!
//! The benchmark commands (`GUP_FAST_BENCHMARK` to `DUMP_USER_PAGES_TEST`,
//! and `RUST_GUP_IOC_BENCH`) time a take of the whole range and its
//! release, the way `mm/gup_test.c` does: the page array is allocated and
//! the mmap lock taken outside the timed part, and the pages are released
//! under the same lock. The long-term test (`PIN_LONGTERM_TEST_*`) holds a
//! range pinned long-term for the file.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{c_str, page::PAGE_SIZE, prelude::*, sync::Mutex};

use crate::kernel_ext::{
    gup::{
        Access, GupOptions, Layout, MaybeP2pdma, PageSet, PinnedPages, TakePages, UserPageRange,
    },
    memfd,
    mm::MmOwner,
    task::{cond_resched, Syscall},
    time::Instant,
    uaccess::user_slice,
    uapi,
};
use crate::memfd::MemfdRequest;
use crate::set::{FileSets, Set};
use crate::take::{
    check_uncharged, take_into, take_range, with_held, Held, HolderKind, Method, OpCommand, Path,
    Request, Target,
};

/// What one timed take and release measured.
struct Measured {
    pages: usize,
    calls: u64,
    get_ns: u64,
    put_ns: u64,
}

/// Takes `range` into `holder` on `path`, `per_call` pages per GUP call,
/// timed: the GUP calls made and the time taken.
fn timed_take<H: TakePages>(
    holder: &mut H,
    path: &Path<'_>,
    range: UserPageRange,
    per_call: usize,
) -> Result<(u64, u64)> {
    let start = Instant::now();
    let calls = take_range(holder, path, range, per_call)?.calls;
    Ok((calls, start.elapsed_ns()))
}

/// Takes `range` of `target` per `request`, `per_call` pages per GUP call,
/// then releases it under the same mmap lock; `inspect` sees the pages in
/// between, untimed, and its error is the call's (after the release).
/// P2PDMA pins are held for the call only ([`PinnedPages::scoped`], which
/// makes the holder, so there the lock is taken first): their release is
/// timed from the end of the scope.
fn measure(
    request: &Request,
    target: &Target,
    range: UserPageRange,
    per_call: usize,
    inspect: impl FnOnce(&dyn PageSet) -> Result,
) -> Result<Measured> {
    let (pages, calls, get_ns, put_ns) = match request.kind {
        HolderKind::Plain(plain) => {
            let mut held = Held::new(plain, request.opts, Layout::Array(range.nr_pages()))?;
            let path = Path::new(target)?;
            let (calls, get_ns) =
                with_held!(&mut held, h => timed_take(h, &path, range, per_call))?;
            let pages = held.pages().len();
            let inspected = inspect(held.pages());
            let start = Instant::now();
            drop(held);
            let put_ns = start.elapsed_ns();
            inspected?;
            (pages, calls, get_ns, put_ns)
        }
        HolderKind::P2pdma { .. } => {
            let path = Path::new(target)?;
            let (pages, calls, get_ns, start) =
                PinnedPages::<MaybeP2pdma>::scoped(request.opts, range.nr_pages(), |pins| {
                    let (calls, get_ns) = timed_take(pins, &path, range, per_call)?;
                    inspect(pins)?;
                    Ok((pins.len(), calls, get_ns, Instant::now()))
                })?;
            (pages, calls, get_ns, start.elapsed_ns())
        }
    };
    Ok(Measured {
        pages,
        calls,
        get_ns,
        put_ns,
    })
}

/// What `mm/gup_test.c`'s `verify_dma_pinned()` checks after a pin
/// command: every page is DMA-pinned (`folio_maybe_dma_pinned()`) and, for
/// `PIN_LONGTERM_BENCHMARK`, long-term pinnable (not in ZONE_MOVABLE; the
/// check's CMA half is out of a module's reach, see `PageInfo`). Where
/// gup_test WARNs, this logs the first page that is not (`dump_page`) and
/// fails the command with `EIO`, so a wrong pin fails the test that made it
/// and not the kernel.
fn verify_pinned(cmd: u32, set: &dyn PageSet) -> Result {
    let longterm = match cmd {
        uapi::PIN_FAST_BENCHMARK | uapi::PIN_BASIC_TEST => false,
        uapi::PIN_LONGTERM_BENCHMARK => true,
        _ => return Ok(()),
    };
    for index in 0..set.len() {
        let info = set.page_info(index).ok_or(EIO)?;
        let wrong = if !info.dma_pinned {
            "is NOT dma-pinned"
        } else if longterm && !info.longterm_pinnable {
            "is NOT pinnable but pinned"
        } else {
            if index % VERIFY_BATCH == VERIFY_BATCH - 1 {
                cond_resched();
            }
            continue;
        };
        pr_err!("gup_test: pages[{}] {}\n", index, wrong);
        set.dump_page(index, c_str!("rust_gup: gup_test failure"));
        return Err(EIO);
    }
    Ok(())
}

/// Pages [`verify_pinned`] checks between two reschedules.
const VERIFY_BATCH: usize = 4096;

/// Dumps the pages `gup.which_pages` names (1-based, 0 for none) to the
/// kernel log; out-of-range entries are zeroed, as gup_test does.
fn dump_pages(gup: &mut uapi::gup_test, set: &dyn PageSet) {
    for which in gup.which_pages.iter_mut() {
        let Some(index) = (*which as usize).checked_sub(1) else {
            continue;
        };
        if index >= set.len() {
            pr_warn!(
                "dump_pages: page {} is past the {} pages taken\n",
                *which,
                set.len()
            );
            *which = 0;
            continue;
        }
        pr_info!(
            "---- page #{}, starting from user virt addr: {:#x}\n",
            index,
            gup.addr
        );
        set.dump_page(index, c_str!("rust_gup: dump_pages() test"));
    }
}

/// One of the gup_test commands, on a `struct gup_test` at `arg` of which
/// the caller has `len` bytes (fewer in a 32-bit process).
pub(crate) fn gup_test_ioctl(
    owner: &MmOwner,
    cmd: u32,
    arg: usize,
    len: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) = user_slice(arg, len).reader_writer();
    let mut gup: uapi::gup_test = uapi::read_prefix(&mut reader)?;

    let request = Request::from_gup_test(cmd, gup.gup_flags, gup.test_flags)?;
    let target = Target::new(cx, request.method, owner)?;
    let range = target.range(cx, gup.addr, gup.size)?;
    if gup.nr_pages_per_call == 0 {
        return Err(EINVAL);
    }
    let per_call = gup.nr_pages_per_call as usize;
    let m = measure(&request, &target, range, per_call, |pages| {
        verify_pinned(cmd, pages)?;
        if cmd == uapi::DUMP_USER_PAGES_TEST {
            dump_pages(&mut gup, pages);
        }
        Ok(())
    })?;

    gup.get_delta_usec = m.get_ns / 1000;
    gup.put_delta_usec = m.put_ns / 1000;
    gup.size = (m.pages * PAGE_SIZE) as u64;
    uapi::write_prefix(&mut writer, &gup)?;
    Ok(0)
}

/// `RUST_GUP_IOC_BENCH`: the same, with any entry point and nanoseconds.
pub(crate) fn bench_ioctl(owner: &MmOwner, arg: usize, cx: &Syscall) -> Result<isize> {
    let (mut reader, mut writer) =
        user_slice(arg, size_of::<uapi::rust_gup_bench>()).reader_writer();
    let mut bench: uapi::rust_gup_bench = reader.read()?;
    if bench.get_ns != 0 || bench.put_ns != 0 || bench.calls != 0 {
        return Err(EINVAL);
    }
    let m = if bench.op == uapi::RUST_GUP_OP_PIN_MEMFD {
        measure_memfd(&bench, cx)?
    } else {
        if bench.fd != 0 {
            return Err(EINVAL);
        }
        measure_gup(&bench, owner, cx)?
    };
    bench.size = (m.pages * PAGE_SIZE) as u64;
    bench.get_ns = m.get_ns;
    bench.put_ns = m.put_ns;
    bench.calls = m.calls;
    writer.write(&bench)?;
    Ok(0)
}

/// A timed pin of a memfd's range (`MemfdPins`, [`memfd::PAGES_PER_CALL`]
/// pages per `memfd_pin_folios()` call) and its release.
fn measure_memfd(bench: &uapi::rust_gup_bench, cx: &Syscall) -> Result<Measured> {
    let request = MemfdRequest::new(bench.fd, bench.addr, bench.size, bench.flags)?;
    if request.account() {
        return Err(EINVAL);
    }
    let start = Instant::now();
    let (pins, _) = request.pin(cx)?;
    let get_ns = start.elapsed_ns();
    let pages = pins.len();
    let start = Instant::now();
    drop(pins);
    Ok(Measured {
        pages,
        calls: pages.div_ceil(memfd::PAGES_PER_CALL) as u64,
        get_ns,
        put_ns: start.elapsed_ns(),
    })
}

/// A timed take of `bench`'s range with a GUP entry point, and its release.
fn measure_gup(bench: &uapi::rust_gup_bench, owner: &MmOwner, cx: &Syscall) -> Result<Measured> {
    let request = Request::from_op(bench.op, bench.flags, OpCommand::Bench)?;
    // A registration is held by the file: there is nothing to charge for
    // a take that is released before the ioctl returns.
    if request.account {
        return Err(EINVAL);
    }
    let target = Target::new(cx, request.method, owner)?;
    let range = target.range(cx, bench.addr, bench.size)?;
    let per_call = match bench.nr_pages_per_call {
        0 => range.nr_pages(),
        n => n as usize,
    };
    measure(&request, &target, range, per_call, |_| Ok(()))
}

/// `PIN_LONGTERM_TEST_START`: pin a whole range long-term, or nothing. The
/// caller's `struct pin_longterm_test` has `len` bytes (fewer in a 32-bit
/// process).
pub(crate) fn longterm_test_start(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    arg: usize,
    len: usize,
    cx: &Syscall,
) -> Result<isize> {
    let args: uapi::pin_longterm_test = uapi::read_prefix(&mut user_slice(arg, len).reader())?;
    let all = uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE | uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST;
    if sets.lock().longterm_test.is_some()
        || args.flags & !all != 0
        || args.size % PAGE_SIZE as u64 != 0
    {
        return Err(EINVAL);
    }
    // Kept, long-term and never charged, as gup_test's are.
    check_uncharged(cx)?;
    let range = UserPageRange::new(cx, args.addr, args.size)?;
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
    let mut pins = PinnedPages::new(GupOptions::new(access), Layout::Runs)?;
    take_into(&mut pins, &Target::new(cx, method, owner)?, range, true)?;
    let test = Set::accounted(pins, None)?;
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
    let dest: u64 = user_slice(arg, size_of::<u64>()).reader().read()?;
    let mut dest = usize::try_from(dest)?;
    let pins = &test.holding.holding;
    for index in 0..pins.len() {
        pins.copy_page_to_user(index, dest)?;
        dest = dest.checked_add(PAGE_SIZE).ok_or(EFAULT)?;
    }
    Ok(0)
}
