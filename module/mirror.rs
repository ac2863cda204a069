// SPDX-License-Identifier: GPL-2.0

//! HMM mirrors an open file holds (`RUST_GUP_IOC_MIRROR*`): fault-and-map
//! without pins, next to the pinning commands, optionally DMA-mapped for a
//! PCI function as RDMA ODP maps a memory region.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::abi::pci_address;
use crate::access::by_page;
use crate::ids::{self, IdTable};
use crate::kernel_ext::{
    dma::{may_map_for_dma, DmaRegistry, EntryDma},
    gup::UserPageRange,
    hmm::{Mirror, MirrorEntry, MirrorMode, MAX_MIRROR_PAGES},
    mm::CurrentMm,
    pci::PciFunction,
    task::{cond_resched, Syscall},
    time::Instant,
    uaccess::{user_slice, AsBytes},
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

/// `EINVAL` unless the fields a fill writes (`valid`, `ns`, `retries`) are
/// zero on input.
fn check_outputs_zero(args: &uapi::rust_gup_mirror) -> Result {
    if args.valid != 0 || args.ns != 0 || args.retries != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// How to fill, from `flags` without `RUST_GUP_MIRROR_F_DMA`, which only
/// creation takes.
fn mirror_mode(flags: u32) -> Result<MirrorMode> {
    if flags & !(uapi::RUST_GUP_MIRROR_F_ALL & !uapi::RUST_GUP_MIRROR_F_DMA) != 0 {
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

/// Fills `range` of `mirror` per `mode` and reports into `args`.
fn fill(
    mirror: &Mirror,
    range: UserPageRange,
    mode: MirrorMode,
    args: &mut uapi::rust_gup_mirror,
) -> Result {
    let stats = mirror.fault(range, mode)?;
    args.valid = mirror.count_valid(range)? as u64;
    args.ns = stats.ns;
    args.retries = stats.retries;
    Ok(())
}

/// `RUST_GUP_IOC_MIRROR`: mirror a range of the caller and fill it; with
/// `RUST_GUP_MIRROR_F_DMA`, mapped for a PCI function.
pub(crate) fn create(
    mirrors: &Mutex<FileMirrors>,
    dma: &Arc<DmaRegistry>,
    arg: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) =
        user_slice(arg, size_of::<uapi::rust_gup_mirror>()).reader_writer();
    let mut args: uapi::rust_gup_mirror = reader.read()?;
    check_outputs_zero(&args)?;
    let for_dma = args.flags & uapi::RUST_GUP_MIRROR_F_DMA != 0;
    if args.id != 0 || (!for_dma && args.client != 0) {
        return Err(EINVAL);
    }
    let mode = mirror_mode(args.flags & !uapi::RUST_GUP_MIRROR_F_DMA)?;
    let range = mirror_range(cx, args.addr, args.size)?;
    let client = if for_dma {
        if !may_map_for_dma(cx) {
            return Err(EPERM);
        }
        Some(PciFunction::get(pci_address(args.client))?)
    } else {
        None
    };
    mirrors.lock().check_room()?;
    let start = Instant::now();
    let mm = CurrentMm::get(cx)?;
    let mirror = Mirror::new(&mm, range, client.as_ref().map(|c| (c, dma)))?;
    let held = Arc::pin_init(
        try_pin_init!(FileMirror {
            mirror <- mirror,
            _counted: Counted::new(&MIRRORS, 1),
        }),
        GFP_KERNEL,
    )?;
    // On failure, dropping `held` unmaps and unregisters the mirror.
    fill(&held.mirror, range, mode, &mut args)?;
    // A new mirror's cost includes setting it up: the table, the notifier.
    args.ns = start.elapsed_ns();

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
        user_slice(arg, size_of::<uapi::rust_gup_mirror>()).reader_writer();
    let mut args: uapi::rust_gup_mirror = reader.read()?;
    check_outputs_zero(&args)?;
    if args.client != 0 {
        return Err(EINVAL);
    }
    let mode = mirror_mode(args.flags)?;
    let range = mirror_range(cx, args.addr, args.size)?;
    let held = mirrors.lock().get(args.id)?;
    fill(&held.mirror, range, mode, &mut args)?;
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

impl From<EntryDma> for uapi::rust_gup_mirror_dma {
    fn from(e: EntryDma) -> Self {
        let (addr, flags) = match e {
            EntryDma::None => (0, 0),
            EntryDma::Mapped { addr, writable } => (
                addr,
                uapi::RUST_GUP_MIRROR_VALID
                    | if writable {
                        uapi::RUST_GUP_MIRROR_WRITE
                    } else {
                        0
                    },
            ),
            EntryDma::Unmappable => (0, uapi::RUST_GUP_MIRROR_NO_DMA),
        };
        uapi::rust_gup_mirror_dma {
            addr,
            flags,
            ..Default::default()
        }
    }
}

/// Copies entries of a mirror to user space as `U`s: in batches, which
/// `copy(mirror, first, batch)` takes out of the table under its lock and
/// counts, then written to user space without it. A refusal of `copy`
/// comes before anything is written.
fn read_entries<E, U>(
    mirrors: &Mutex<FileMirrors>,
    arg: usize,
    copy: impl Fn(&Mirror, usize, &mut [E]) -> Result<usize>,
) -> Result<isize>
where
    E: Copy + Default,
    U: AsBytes + From<E>,
{
    let (mut reader, mut writer) =
        user_slice(arg, size_of::<uapi::rust_gup_mirror_read>()).reader_writer();
    let mut args: uapi::rust_gup_mirror_read = reader.read()?;
    if args.mirror_pages != 0 || args.invalidations != 0 {
        return Err(EINVAL);
    }
    let held = mirrors.lock().get(args.id)?;
    let pages = held.mirror.range().nr_pages();
    let first = usize::try_from(args.first)?;
    if first > pages {
        return Err(EINVAL);
    }
    copy(&held.mirror, first, &mut [])?;
    let nr = (args.nr as usize).min(pages - first);
    let mut out = user_slice(usize::try_from(args.entries)?, nr * size_of::<U>()).writer();
    let mut batch = [E::default(); READ_BATCH];
    let mut done = 0;
    while done < nr {
        let want = (nr - done).min(READ_BATCH);
        let got = copy(&held.mirror, first + done, &mut batch[..want])?;
        for e in &batch[..got] {
            out.write(&U::from(*e))?;
        }
        done += got;
        if got < want {
            break;
        }
        cond_resched();
    }
    args.nr = done as u32;
    args.mirror_pages = pages as u64;
    args.invalidations = held.mirror.entries(0, &mut []).1;
    writer.write(&args)?;
    Ok(0)
}

/// `RUST_GUP_IOC_MIRROR_READ`: copy entries of a mirror to user space.
pub(crate) fn read(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    read_entries::<MirrorEntry, uapi::rust_gup_mirror_entry>(mirrors, arg, |m, first, out| {
        Ok(m.entries(first, out).0)
    })
}

/// `RUST_GUP_IOC_MIRROR_DMA`: copy what a mirror's entries give its client
/// (DMA addresses) to user space; `EINVAL` for a mirror not mapped for a
/// device, `ENODEV` once revoked.
pub(crate) fn read_dma(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    read_entries::<EntryDma, uapi::rust_gup_mirror_dma>(mirrors, arg, Mirror::dma_entries)
}

/// `RUST_GUP_IOC_MIRROR_ACCESS`: read or write user memory the way the
/// device would, through the mirror's entries, one page at a time.
pub(crate) fn access(mirrors: &Mutex<FileMirrors>, arg: usize) -> Result<isize> {
    let args: uapi::rust_gup_mirror_access =
        user_slice(arg, size_of::<uapi::rust_gup_mirror_access>())
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
    let id: u32 = user_slice(arg, size_of::<u32>()).reader().read()?;
    let held = mirrors.lock().remove(id).ok_or(ENOENT)?;
    // Unregistered here, outside the lock (or later, by an ioctl still
    // using it).
    drop(held);
    Ok(0)
}
