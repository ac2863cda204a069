// SPDX-License-Identifier: GPL-2.0

//! DMA mapping next to GUP (`RUST_GUP_IOC_DMA_MAP`, `_DMA_SEGMENTS`): a
//! range pinned and mapped for a PCI function, held by the open file as a
//! set, so QUERY and UNPIN work on it as on any other.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::abi::pci_address;
use crate::kernel_ext::{
    dma::{may_map_for_dma, DmaMapped, DmaRegistry, DmaSegment},
    mm::MmOwner,
    pci::PciFunction,
    task::{cond_resched, Syscall},
    uaccess::user_slice,
    uapi,
};
use crate::memfd::MemfdRequest;
use crate::set::{self, FileSets, HeldSet, Set};
use crate::take::{take_pinned, take_revocable, with_pinned, DmaPins, OpCommand, Request, Target};

/// `RUST_GUP_IOC_DMA_MAP`: pin a range and map it for a PCI function.
/// P2PDMA pins are registered for revocation first, then mapped. The caller
/// has `len` bytes of the structure: fewer with ABI version 8's command
/// number, which has no `fd` and so no `RUST_GUP_OP_PIN_MEMFD`.
pub(crate) fn dma_map(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    dma: &Arc<DmaRegistry>,
    arg: usize,
    len: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) = user_slice(arg, len).reader_writer();
    let mut args: uapi::rust_gup_dma_map = uapi::read_prefix(&mut reader)?;
    if args.id != 0 || args.nr_segments != 0 || args.bus_segments != 0 || args.reserved != 0 {
        return Err(EINVAL);
    }
    // The layer maps no writable pins that are not dirtied on release;
    // refused here before anything is pinned.
    let writes = uapi::RUST_GUP_F_WRITE | uapi::RUST_GUP_F_DIRTY;
    if args.flags & writes == uapi::RUST_GUP_F_WRITE {
        return Err(EINVAL);
    }
    let set = if args.op == uapi::RUST_GUP_OP_PIN_MEMFD {
        if len < size_of::<uapi::rust_gup_dma_map>() {
            return Err(EINVAL);
        }
        let request = MemfdRequest::new(args.fd, args.addr, args.size, args.flags)?;
        request.check_kept(cx)?;
        let client = client_of(&args, cx)?;
        sets.lock().check_room()?;
        let (pins, charge) = request.pin(cx)?;
        // On failure the pins are released, then the charge.
        Set::accounted(DmaMapped::new(pins, &client, dma)?, charge)?
    } else {
        if args.fd != 0 {
            return Err(EINVAL);
        }
        gup_dma_set(sets, owner, dma, &args, cx)?
    };
    let (pages, segments, bus) = mapping_summary(&*set)?;
    args.size = (pages * PAGE_SIZE) as u64;
    args.nr_segments = u32::try_from(segments)?;
    args.bus_segments = u32::try_from(bus)?;
    set::publish(sets, set, |id| {
        args.id = id;
        uapi::write_prefix(&mut writer, &args)
    })?;
    Ok(0)
}

/// The client of a DMA_MAP: `EPERM` without `CAP_SYS_RAWIO`, `ENODEV`
/// when no such function exists.
fn client_of(args: &uapi::rust_gup_dma_map, cx: &Syscall) -> Result<PciFunction> {
    if !may_map_for_dma(cx) {
        return Err(EPERM);
    }
    PciFunction::get(pci_address(args.client))
}

/// A DMA_MAP of pages GUP takes, per `args`, as a set.
fn gup_dma_set(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    dma: &Arc<DmaRegistry>,
    args: &uapi::rust_gup_dma_map,
    cx: &Syscall,
) -> Result<Arc<dyn HeldSet>> {
    let request = Request::from_op(args.op, args.flags, OpCommand::DmaMap)?;
    request.check_kept(cx)?;
    // DMA needs pins: pages taken with FOLL_GET must not be its target.
    let pins = request.dma_pins().ok_or(EINVAL)?;
    let target = Target::new(cx, request.method, owner)?;
    let range = target.range(cx, args.addr, args.size)?;
    let client = client_of(args, cx)?;
    sets.lock().check_room()?;
    let charge = target.charge_for(&request, range.nr_pages())?;
    Ok(match pins {
        DmaPins::Plain(pin) => {
            let pinned = take_pinned(&request, pin, &target, range, request.account)?;
            // On failure the pins are released, then the charge.
            with_pinned!(pinned, pins => Set::accounted(DmaMapped::new(pins, &client, dma)?, charge)?)
        }
        DmaPins::P2pdma { longterm } => Set::revocable(take_revocable(
            &request,
            longterm,
            &target,
            range,
            dma,
            Some(&client),
            charge,
        )?)?,
    })
}

/// Segments DMA_SEGMENTS copies under a set's lock before it writes them
/// out without it.
const SEGMENT_BATCH: usize = 16;

/// A new mapping's pages, segments and bus-address segments. `ENODEV` if
/// it was revoked already.
fn mapping_summary(set: &dyn HeldSet) -> Result<(usize, usize, usize)> {
    let pages = set.pages().len();
    let mut batch = [DmaSegment::default(); SEGMENT_BATCH];
    let (mut first, mut bus) = (0, 0);
    loop {
        let (n, total) = set.dma_segments(first, &mut batch)?;
        bus += batch[..n].iter().filter(|s| s.bus_address).count();
        first += n;
        if first == total {
            return Ok((pages, total, bus));
        }
    }
}

/// `RUST_GUP_IOC_DMA_SEGMENTS`: read the DMA segments of a mapped set;
/// `EINVAL` for a set that is not mapped, `ENODEV` for one revoked.
pub(crate) fn dma_segments(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        user_slice(arg, size_of::<uapi::rust_gup_dma_segments>()).reader_writer();
    let mut args: uapi::rust_gup_dma_segments = reader.read()?;
    if args.nr_segments != 0 {
        return Err(EINVAL);
    }
    let set = sets.lock().get(args.id)?;
    let first = usize::try_from(args.first)?;
    let mut batch = [DmaSegment::default(); SEGMENT_BATCH];
    // The count, and a check of `first`, before anything is written.
    let (_, total) = set.dma_segments(first, &mut [])?;
    let nr = (args.nr as usize).min(total - first);
    let size = nr * size_of::<uapi::rust_gup_dma_segment>();
    let mut out = user_slice(usize::try_from(args.segments)?, size).writer();
    let mut done = 0;
    while done < nr {
        let want = SEGMENT_BATCH.min(nr - done);
        let (n, _) = set.dma_segments(first + done, &mut batch[..want])?;
        for &segment in &batch[..n] {
            out.write(&uapi::rust_gup_dma_segment::from(segment))?;
        }
        done += n;
        cond_resched();
    }
    args.nr = nr as u32;
    args.nr_segments = total as u64;
    writer.write(&args)?;
    Ok(0)
}
