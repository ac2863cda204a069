// SPDX-License-Identifier: GPL-2.0

//! `RUST_GUP_IOC_PIN`, `_UNPIN` and `_QUERY`: page sets taken with any GUP
//! entry point and held by the file until UNPIN or its release.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{page::PAGE_SIZE, prelude::*, sync::Mutex, uaccess::UserSlice};

use crate::kernel_ext::{
    mm::{MmOwner, PinnedVmCharge},
    uapi,
};
use crate::set::{self, FileSets};
use crate::take::{take_held, Request, Target};

/// Makes room for a new set of `request`, before anything is taken:
/// `ENOSPC` when the file holds as many sets as it may. A registration
/// (`RUST_GUP_F_ACCOUNT`) is charged here, for `pages`, to the address
/// space the pages are taken from (the caller's, or the owner's for the
/// remote entry point), and then taken whole; on any failure the charge
/// goes again.
pub(crate) fn charge_for_set(
    sets: &Mutex<FileSets>,
    request: &Request,
    target: &Target<'_>,
    pages: usize,
) -> Result<Option<PinnedVmCharge>> {
    sets.lock().check_room()?;
    if !request.account {
        return Ok(None);
    }
    Ok(Some(target.charge(pages)?))
}

/// `RUST_GUP_IOC_PIN`: take a range and hold it until `UNPIN` or release.
/// A prefix is fine (the size says how much) except for a registration
/// (`RUST_GUP_F_ACCOUNT`), which is all or nothing; nothing is an error.
pub(crate) fn pin(sets: &Mutex<FileSets>, owner: &MmOwner, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_pin>()).reader_writer();
    let mut pin: uapi::rust_gup_pin = reader.read()?;
    if pin.reserved != 0 {
        return Err(EINVAL);
    }
    let request = Request::from_op(pin.op, pin.flags)?;
    let target = Target::new(request.method, owner)?;
    let range = target.range(pin.addr, pin.size)?;
    let charge = charge_for_set(sets, &request, &target, range.nr_pages())?;
    let held = take_held(&request, &target, range, request.account)?;
    let set = set::held_set(held, charge)?;
    pin.size = (set.pages().len() * PAGE_SIZE) as u64;
    set::publish(sets, set, |id| {
        pin.id = id;
        writer.write(&pin)
    })?;
    Ok(0)
}

/// `RUST_GUP_IOC_UNPIN`: release the set whose id is the `__u32` at `arg`.
pub(crate) fn unpin(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let id: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
    let set = sets.lock().remove(id).ok_or(ENOENT)?;
    // Released here, outside the lock (or later, by an ioctl still using
    // it): a DMA mapping is undone, then the pages are released.
    drop(set);
    Ok(0)
}

/// `RUST_GUP_IOC_QUERY`: describe pages of a held set.
pub(crate) fn query(sets: &Mutex<FileSets>, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) =
        UserSlice::new(arg, size_of::<uapi::rust_gup_query>()).reader_writer();
    let mut query: uapi::rust_gup_query = reader.read()?;
    let set = sets.lock().get_any(query.id)?;
    let pages = set.pages();
    let first = usize::try_from(query.first)?;
    if first > pages.len() {
        return Err(EINVAL);
    }
    let nr = (query.nr as usize).min(pages.len() - first);
    let entry = size_of::<uapi::rust_gup_page_info>();
    let mut out = UserSlice::new(usize::try_from(query.pages)?, nr * entry).writer();
    for index in first..first + nr {
        let info = pages.page_info(index).ok_or(EINVAL)?;
        out.write(&uapi::rust_gup_page_info::from(info))?;
    }
    query.nr = nr as u32;
    query.set_pages = pages.len() as u64;
    writer.write(&query)?;
    Ok(0)
}
