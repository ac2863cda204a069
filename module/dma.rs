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
    task::Syscall,
    uaccess::user_slice,
    uapi,
};
use crate::set::{self, FileSets, HeldSet, Set};
use crate::take::{take_pinned, take_revocable, with_pinned, DmaPins, OpCommand, Request, Target};

/// `RUST_GUP_IOC_DMA_MAP`: pin a range and map it for a PCI function.
/// P2PDMA pins are registered for revocation first, then mapped.
pub(crate) fn dma_map(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    dma: &Arc<DmaRegistry>,
    arg: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) =
        user_slice(arg, size_of::<uapi::rust_gup_dma_map>()).reader_writer();
    let mut args: uapi::rust_gup_dma_map = reader.read()?;
    if args.id != 0 || args.nr_segments != 0 || args.bus_segments != 0 {
        return Err(EINVAL);
    }
    let request = Request::from_op(args.op, args.flags, OpCommand::DmaMap)?;
    // DMA needs pins: pages taken with FOLL_GET must not be its target.
    let pins = request.dma_pins().ok_or(EINVAL)?;
    let target = Target::new(cx, request.method, owner)?;
    let range = target.range(cx, args.addr, args.size)?;
    if !may_map_for_dma(cx) {
        return Err(EPERM);
    }
    let client = PciFunction::get(pci_address(args.client))?;
    sets.lock().check_room()?;
    let charge = target.charge_for(&request, range.nr_pages())?;
    let set: Arc<dyn HeldSet> = match pins {
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
    };
    let (pages, segments, bus) = mapping_summary(&*set)?;
    args.size = (pages * PAGE_SIZE) as u64;
    args.nr_segments = u32::try_from(segments)?;
    args.bus_segments = u32::try_from(bus)?;
    set::publish(sets, set, |id| {
        args.id = id;
        writer.write(&args)
    })?;
    Ok(0)
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
    }
    args.nr = nr as u32;
    args.nr_segments = total as u64;
    writer.write(&args)?;
    Ok(0)
}
