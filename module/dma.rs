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
    uaccess::UserSlice,
};

use crate::abi::pci_address;
use crate::kernel_ext::{
    dma::{may_map_for_dma, DmaMapped, DmaRegistry},
    gup::PageSet,
    mm::MmOwner,
    pci::PciFunction,
    task::Syscall,
    uapi,
};
use crate::set::{self, FileSets, HeldSet, Set};
use crate::take::{take_pinned, with_pinned, Request, Target};

/// `RUST_GUP_IOC_DMA_MAP`: pin a range and map it for a PCI function.
pub(crate) fn dma_map(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    dma: &Arc<DmaRegistry>,
    arg: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_dma_map>()).reader_writer();
    let mut args: uapi::rust_gup_dma_map = reader.read()?;
    if args.id != 0 || args.nr_segments != 0 || args.bus_segments != 0 {
        return Err(EINVAL);
    }
    let request = Request::from_op(args.op, args.flags)?;
    // DMA needs pins: pages taken with FOLL_GET must not be its target.
    let pin = request.pin().ok_or(EINVAL)?;
    let target = Target::new(cx, request.method, owner)?;
    let range = target.range(cx, args.addr, args.size)?;
    if !may_map_for_dma(cx) {
        return Err(EPERM);
    }
    let client = PciFunction::get(pci_address(args.client))?;
    sets.lock().check_room()?;
    let charge = target.charge_for(&request, range.nr_pages())?;
    let pinned = take_pinned(&request, pin, &target, range, request.account)?;
    let (set, pages, segments, bus): (Arc<dyn HeldSet>, _, _, _) = with_pinned!(pinned, pins => {
        // On failure the pins are released, then the charge.
        let mapped = DmaMapped::new(pins, &client, dma)?;
        let segments = mapped.segments()?;
        let bus = segments.iter().filter(|s| s.bus_address).count();
        let (pages, segments) = (mapped.pins().len(), segments.len());
        (Set::new(mapped, charge)?, pages, segments, bus)
    });
    args.size = (pages * PAGE_SIZE) as u64;
    args.nr_segments = u32::try_from(segments)?;
    args.bus_segments = u32::try_from(bus)?;
    set::publish(sets, set, |id| {
        args.id = id;
        writer.write(&args)
    })?;
    Ok(0)
}

/// `RUST_GUP_IOC_DMA_SEGMENTS`: read the DMA segments of a mapped set;
/// `EINVAL` for a set that is not mapped.
pub(crate) fn dma_segments(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_dma_segments>()).reader_writer();
    let mut args: uapi::rust_gup_dma_segments = reader.read()?;
    let set = sets.lock().get(args.id)?;
    let segments = set.dma_segments().ok_or(EINVAL)??;
    let first = usize::try_from(args.first)?;
    let wanted = segments.get(first..).ok_or(EINVAL)?;
    let wanted = &wanted[..wanted.len().min(args.nr as usize)];
    let size = wanted.len() * size_of::<uapi::rust_gup_dma_segment>();
    let mut out = UserSlice::new(usize::try_from(args.segments)?, size).writer();
    for &segment in wanted {
        out.write(&uapi::rust_gup_dma_segment::from(segment))?;
    }
    args.nr = wanted.len() as u32;
    args.nr_segments = segments.len() as u64;
    writer.write(&args)?;
    Ok(0)
}
