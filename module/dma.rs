// SPDX-License-Identifier: GPL-2.0

//! DMA mapping next to GUP (`RUST_GUP_IOC_DMA_MAP`, `_DMA_SEGMENTS`): a
//! range pinned and mapped for a PCI function, held by the open file as a
//! set, so QUERY and UNPIN work on it as on any other.

#![forbid(unsafe_code)]

use core::mem::{size_of, size_of_val};
use kernel::{page::PAGE_SIZE, prelude::*, sync::Mutex, uaccess::UserSlice};

use crate::held::{self, FileSets, Holding};
use crate::kernel_ext::{
    dma::{may_map_for_dma, DmaMapped, PciFunction},
    gup::{LongTerm, MaybeP2pdma, PageSet, ShortTerm, UserPageRange},
    uapi,
};
use crate::take::{Held, Request};

/// Pins of any kind, DMA-mapped. Pages taken with FOLL_GET have no entry:
/// DMA needs pins.
pub(crate) enum Mapped {
    ShortTerm(DmaMapped<ShortTerm>),
    LongTerm(DmaMapped<LongTerm>),
    MaybeP2pdma(DmaMapped<MaybeP2pdma>),
}

impl Mapped {
    /// Maps `held` for `client`; `EINVAL` for page references (the ioctl
    /// refuses get ops before anything is taken).
    fn new(held: Held, client: PciFunction) -> Result<Self> {
        Ok(match held {
            Held::ShortTerm(pins) => Mapped::ShortTerm(DmaMapped::new(pins, client)?),
            Held::LongTerm(pins) => Mapped::LongTerm(DmaMapped::new(pins, client)?),
            Held::MaybeP2pdma(pins) => Mapped::MaybeP2pdma(DmaMapped::new(pins, client)?),
            Held::Got(_) => return Err(EINVAL),
        })
    }

    pub(crate) fn pages(&self) -> &dyn PageSet {
        match self {
            Mapped::ShortTerm(m) => m.pins(),
            Mapped::LongTerm(m) => m.pins(),
            Mapped::MaybeP2pdma(m) => m.pins(),
        }
    }

    fn segments(&self) -> Result<&[uapi::rust_gup_dma_segment]> {
        match self {
            Mapped::ShortTerm(m) => m.segments(),
            Mapped::LongTerm(m) => m.segments(),
            Mapped::MaybeP2pdma(m) => m.segments(),
        }
    }
}

/// `RUST_GUP_IOC_DMA_MAP`: pin a range and map it for a PCI function.
pub(crate) fn dma_map(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_dma_map>()).reader_writer();
    let mut args: uapi::rust_gup_dma_map = reader.read()?;
    if args.id != 0 || args.nr_segments != 0 || args.bus_segments != 0 {
        return Err(EINVAL);
    }
    let request = Request::from_op(args.op, args.flags)?;
    if !request.is_pin() {
        return Err(EINVAL);
    }
    let range = UserPageRange::new(args.addr, args.size)?;
    if !may_map_for_dma() {
        return Err(EPERM);
    }
    let client = PciFunction::get(args.client)?;
    let set = held::take_set(sets, &request, range, |held| {
        Ok(Holding::Mapped(Mapped::new(held, client)?))
    })?;
    let Holding::Mapped(mapped) = &set.holding else {
        return Err(EINVAL);
    };
    let segments = mapped.segments()?;
    let bus = segments
        .iter()
        .filter(|s| s.flags & uapi::RUST_GUP_DMA_BUS_ADDR != 0)
        .count();
    args.size = (mapped.pages().len() * PAGE_SIZE) as u64;
    args.nr_segments = u32::try_from(segments.len())?;
    args.bus_segments = u32::try_from(bus)?;
    held::publish_set(sets, set, |id| {
        args.id = id;
        writer.write(&args)
    })?;
    Ok(0)
}

/// `RUST_GUP_IOC_DMA_SEGMENTS`: read the DMA segments of a mapped set.
pub(crate) fn dma_segments(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_dma_segments>()).reader_writer();
    let mut args: uapi::rust_gup_dma_segments = reader.read()?;
    let set = sets.lock().get(args.id)?;
    let Holding::Mapped(mapped) = &set.holding else {
        return Err(EINVAL);
    };
    let segments = mapped.segments()?;
    let first = usize::try_from(args.first)?;
    let wanted = segments.get(first..).ok_or(EINVAL)?;
    let wanted = &wanted[..wanted.len().min(args.nr as usize)];
    let mut out = UserSlice::new(usize::try_from(args.segments)?, size_of_val(wanted)).writer();
    for segment in wanted {
        out.write(segment)?;
    }
    args.nr = wanted.len() as u32;
    args.nr_segments = segments.len() as u64;
    writer.write(&args)?;
    Ok(0)
}
