// SPDX-License-Identifier: GPL-2.0

//! HMM mirrors an open file holds (`RUST_GUP_IOC_MIRROR*`): fault-and-map
//! without pins, next to the pinning commands.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    time::Ktime,
    uaccess::UserSlice,
};

use crate::access::by_page;
use crate::ids::{self, IdTable};
use crate::kernel_ext::{
    gup::UserPageRange,
    hmm::{Mirror, MirrorEntry, MirrorMode, MAX_MIRROR_PAGES},
    mm::CurrentMm,
    task::Syscall,
    uapi,
};
use crate::stats::{Counted, MIRRORS};

/// How many mirrors one file may hold at once.
const MAX_MIRRORS: usize = 64;

/// Entries `RUST_GUP_IOC_MIRROR_READ` copies per pass.
const READ_BATCH: usize = 64;

/// A mirror held by a file. The count drops after the notifier is gone.
#[pin_data]
pub(crate) struct FileMirror {
    #[pin]
    mirror: Mirror,
    _counted: Counted,
}

/// The mirrors of one open file; see [`IdTable`] for why they are
/// reference counted. A mirror dropped while an ioctl uses it goes when
/// that ioctl's reference does.
pub(crate) type FileMirrors = IdTable<FileMirror, MAX_MIRRORS>;

/// The range of a mirror command: page aligned, a whole number of pages.
fn mirror_range(cx: &Syscall, addr: u64, size: u64) -> Result<UserPageRange> {
    if size % PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    UserPageRange::new(cx, addr, size)
}

fn mirror_mode(flags: u32) -> Result<MirrorMode> {
    if flags & !uapi::RUST_GUP_MIRROR_F_ALL != 0 {
        return Err(EINVAL);
    }
    let write = flags & uapi::RUST_GUP_MIRROR_F_WRITE != 0;
    let snapshot = flags & uapi::RUST_GUP_MIRROR_F_SNAPSHOT != 0;
    match (write, snapshot) {
        (false, false) => Ok(MirrorMode::Read),
        (true, false) => Ok(MirrorMode::Write),
        (false, true) => Ok(MirrorMode::Snapshot),
        (true, true) => Err(EINVAL),
    }
}

/// Fills `range` of `mirror` per `args.flags` and reports into `args`.
fn fill(mirror: &Mirror, range: UserPageRange, args: &mut uapi::rust_gup_mirror) -> Result {
    let stats = mirror.fault(range, mirror_mode(args.flags)?)?;
    args.valid = mirror.count_valid(range)? as u64;
    args.ns = stats.ns;
    args.retries = stats.retries;
    Ok(())
}

/// `RUST_GUP_IOC_MIRROR`: mirror a range of the caller and fill it.
pub(crate) fn create(mirrors: &Mutex<FileMirrors>, arg: usize, cx: &Syscall) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_mirror>()).reader_writer();
    let mut args: uapi::rust_gup_mirror = reader.read()?;
    if args.reserved != 0 || args.id != 0 {
        return Err(EINVAL);
    }
    mirror_mode(args.flags)?;
    let range = mirror_range(cx, args.addr, args.size)?;
    mirrors.lock().check_room()?;
    let start = Ktime::ktime_get();
    let mm = CurrentMm::get(cx)?;
    let mirror = Mirror::new(&mm, range)?;
    let held = Arc::pin_init(
        try_pin_init!(FileMirror {
            mirror <- mirror,
            _counted: Counted::new(&MIRRORS, 1),
        }),
        GFP_KERNEL,
    )?;
    // On failure, dropping `held` unregisters the mirror.
    fill(&held.mirror, range, &mut args)?;
    // A new mirror's cost includes setting it up: the table, the notifier.
    args.ns = (Ktime::ktime_get() - start).to_ns().max(0) as u64;

    // Dropped outside the lock if telling user space fails: removal waits
    // for notifier callbacks.
    ids::publish(
        mirrors,
        |m| m,
        held,
        |id| {
            args.id = id;
            writer.write(&args)
        },
    )?;
    Ok(0)
}

/// `RUST_GUP_IOC_MIRROR_FAULT`: fill part of an existing mirror again.
pub(crate) fn fault(mirrors: &Mutex<FileMirrors>, arg: usize, cx: &Syscall) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_mirror>()).reader_writer();
    let mut args: uapi::rust_gup_mirror = reader.read()?;
    if args.reserved != 0 {
        return Err(EINVAL);
    }
    mirror_mode(args.flags)?;
    let range = mirror_range(cx, args.addr, args.size)?;
    let held = mirrors.lock().get(args.id)?;
    fill(&held.mirror, range, &mut args)?;
    writer.write(&args)?;
    Ok(0)
}

impl From<MirrorEntry> for uapi::rust_gup_mirror_entry {
    fn from(e: MirrorEntry) -> Self {
        let mut flags = 0;
        if e.valid() {
            flags |= uapi::RUST_GUP_MIRROR_VALID;
        }
        if e.writable() {
            flags |= uapi::RUST_GUP_MIRROR_WRITE;
        }
        if e.error() {
            flags |= uapi::RUST_GUP_MIRROR_ERROR;
        }
        let valid = e.valid();
        uapi::rust_gup_mirror_entry {
            pfn: if valid { e.pfn() } else { 0 },
            flags,
            order: if valid { e.map_order() } else { 0 },
        }
    }
}

/// `RUST_GUP_IOC_MIRROR_READ`: copy entries of a mirror to user space.
pub(crate) fn read(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_mirror_read>()).reader_writer();
    let mut args: uapi::rust_gup_mirror_read = reader.read()?;
    let held = mirrors.lock().get(args.id)?;
    let pages = held.mirror.range().nr_pages();
    let first = usize::try_from(args.first)?;
    if first > pages {
        return Err(EINVAL);
    }
    let nr = (args.nr as usize).min(pages - first);
    let size = size_of::<uapi::rust_gup_mirror_entry>();
    let mut out = UserSlice::new(usize::try_from(args.entries)?, nr * size).writer();
    // Entries are copied out of the table in batches under its lock, then
    // to user space without it.
    let mut batch = [MirrorEntry::default(); READ_BATCH];
    let mut invalidations = 0;
    let mut done = 0;
    while done < nr {
        let want = (nr - done).min(READ_BATCH);
        let (got, inv) = held.mirror.entries(first + done, &mut batch[..want]);
        invalidations = inv;
        for e in &batch[..got] {
            out.write(&uapi::rust_gup_mirror_entry::from(*e))?;
        }
        done += got;
        if got < want {
            break;
        }
    }
    if nr == 0 {
        invalidations = held.mirror.entries(0, &mut []).1;
    }
    args.nr = done as u32;
    args.mirror_pages = pages as u64;
    args.invalidations = invalidations;
    writer.write(&args)?;
    Ok(0)
}

/// `RUST_GUP_IOC_MIRROR_ACCESS`: read or write user memory the way the
/// device would, through the mirror's entries, one page at a time.
pub(crate) fn access(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    let args: uapi::rust_gup_mirror_access =
        UserSlice::new(arg, size_of::<uapi::rust_gup_mirror_access>())
            .reader()
            .read()?;
    let write = match args.flags {
        0 => false,
        uapi::RUST_GUP_MIRROR_ACCESS_WRITE => true,
        _ => return Err(EINVAL),
    };
    let held = mirrors.lock().get(args.id)?;
    let range = held.mirror.range();
    let addr = usize::try_from(args.addr)?;
    let len = usize::try_from(args.len)?;
    if len == 0
        || len > MAX_MIRROR_PAGES * PAGE_SIZE
        || addr < range.start()
        || addr >= range.end()
        || len > range.end() - addr
    {
        return Err(EINVAL);
    }
    by_page(addr - range.start(), len, args.buf, write, &held.mirror)
}

/// `RUST_GUP_IOC_MIRROR_DROP`: drop the mirror whose id is the `__u32` at
/// `arg`.
pub(crate) fn drop_mirror(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    let id: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
    let held = mirrors.lock().remove(id).ok_or(ENOENT)?;
    // Unregistered here, outside the lock (or later, by an ioctl still
    // using it).
    drop(held);
    Ok(0)
}
