// SPDX-License-Identifier: GPL-2.0

//! `RUST_GUP_IOC_PIN`, `_UNPIN`, `_QUERY` and `_ACCESS`: page sets taken
//! with any GUP entry point and held by the file until UNPIN or its
//! release, and read or written through their pins.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::access::by_page;
use crate::kernel_ext::{
    dma::DmaRegistry,
    gup::eopnotsupp,
    mm::MmOwner,
    page::PageInfo,
    task::{cond_resched, Syscall},
    uaccess::user_slice,
    uapi,
    worker::Workers,
};
use crate::memfd::memfd_set;
use crate::set::{self, FileSets};
use crate::take::{take_for_set_in, OpCommand, Request, Target};

/// `RUST_GUP_IOC_PIN`: take a range and hold it until `UNPIN` or release.
/// A prefix is fine (the size says how much) except for a registration
/// (`RUST_GUP_F_ACCOUNT`), which is all or nothing; nothing is an error.
/// P2PDMA sets are registered with `dma`, for revocation. The caller has
/// `len` bytes of the structure: fewer with ABI version 8's command number,
/// which has no `fd` and so no `RUST_GUP_OP_PIN_MEMFD`.
pub(crate) fn pin(
    sets: &Mutex<FileSets>,
    owner: &MmOwner,
    dma: &Arc<DmaRegistry>,
    workers: &Workers,
    arg: usize,
    len: usize,
    cx: &Syscall,
) -> Result<isize> {
    let (mut reader, mut writer) = user_slice(arg, len).reader_writer();
    let mut pin: uapi::rust_gup_pin = uapi::read_prefix(&mut reader)?;
    // `id` is out only: zero on input since ABI version 11, but with
    // version 8's number, which keeps its rules.
    let current = len == size_of::<uapi::rust_gup_pin>();
    if (current && pin.id != 0) || pin.reserved != 0 {
        return Err(EINVAL);
    }
    let set = if pin.op == uapi::RUST_GUP_OP_PIN_MEMFD {
        if len < size_of::<uapi::rust_gup_pin>() {
            return Err(EINVAL);
        }
        sets.lock().check_room()?;
        memfd_set(&pin, cx)?
    } else {
        if pin.fd != 0 {
            return Err(EINVAL);
        }
        let request = Request::from_op(pin.op, pin.flags, OpCommand::Pin)?;
        request.check_kept(cx)?;
        let target = Target::of_request(cx, &request, owner, pin.pid)?;
        let range = target.range(cx, pin.addr, pin.size)?;
        sets.lock().check_room()?;
        set::held_set(take_for_set_in(&request, target, range, dma, workers)?)?
    };
    pin.size = (set.pages().len() * PAGE_SIZE) as u64;
    set::publish(sets, set, |id| {
        pin.id = id;
        uapi::write_prefix(&mut writer, &pin)
    })?;
    Ok(0)
}

/// `RUST_GUP_IOC_UNPIN`: release the set whose id is the `__u32` at `arg`.
pub(crate) fn unpin(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let id: u32 = user_slice(arg, size_of::<u32>()).reader().read()?;
    let set = sets.lock().remove(id).ok_or(ENOENT)?;
    // Released here, outside the lock (or later, by an ioctl still using
    // it): a DMA mapping is undone, then the pages are released.
    drop(set);
    Ok(0)
}

/// Page descriptions QUERY gathers under a revocable set's lock before it
/// writes them out without it.
const QUERY_BATCH: usize = 16;

/// `RUST_GUP_IOC_QUERY`: describe pages of a held set. The caller has `len`
/// bytes of the structure: fewer with ABI version 6's command number.
pub(crate) fn query(sets: &Mutex<FileSets>, arg: usize, len: usize) -> Result<isize> {
    let (mut reader, mut writer) = user_slice(arg, len).reader_writer();
    let mut query: uapi::rust_gup_query = uapi::read_prefix(&mut reader)?;
    // As for PIN: version 6's number keeps its rules (`set_pages` unchecked).
    let current = len == size_of::<uapi::rust_gup_query>();
    if (current && query.set_pages != 0) || query.flags != 0 || query.reserved != 0 {
        return Err(EINVAL);
    }
    let set = sets.lock().get_any(query.id)?;
    let set_pages = set.pages().len();
    let first = usize::try_from(query.first)?;
    if first > set_pages {
        return Err(EINVAL);
    }
    let nr = (query.nr as usize).min(set_pages - first);
    let entry = size_of::<uapi::rust_gup_page_info>();
    let mut out = user_slice(usize::try_from(query.pages)?, nr * entry).writer();
    let mut batch: [Option<PageInfo>; QUERY_BATCH] = [None; QUERY_BATCH];
    let mut index = first;
    while index < first + nr {
        let n = QUERY_BATCH.min(first + nr - index);
        {
            let pages = set.pages();
            for (i, slot) in batch[..n].iter_mut().enumerate() {
                // Revoked since the count: the caller learns it below.
                *slot = pages.page_info(index + i);
            }
        }
        for info in &batch[..n] {
            out.write(&uapi::rust_gup_page_info::from(info.ok_or(ENODEV)?))?;
        }
        index += n;
        // A set may have millions of pages.
        cond_resched();
    }
    query.nr = nr as u32;
    query.set_pages = set_pages as u64;
    if set.revoked() {
        query.flags |= uapi::RUST_GUP_QUERY_REVOKED;
    }
    uapi::write_prefix(&mut writer, &query)?;
    Ok(0)
}

/// `RUST_GUP_IOC_ACCESS`: read or write a held set's pages through the
/// pins, as a device would by DMA.
pub(crate) fn access(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let args: uapi::rust_gup_access = user_slice(arg, size_of::<uapi::rust_gup_access>())
        .reader()
        .read()?;
    let write = match args.flags {
        0 => false,
        uapi::RUST_GUP_ACCESS_WRITE => true,
        _ => return Err(EINVAL),
    };
    let set = sets.lock().get_any(args.id)?;
    let pages = set.cpu().ok_or_else(eopnotsupp)?;
    let at = usize::try_from(args.offset)?;
    let len = usize::try_from(args.len)?;
    let size = set.pages().len() * PAGE_SIZE;
    if len == 0 || at >= size || len > size - at {
        return Err(EINVAL);
    }
    by_page(at, len, args.buf, write, pages)
}
