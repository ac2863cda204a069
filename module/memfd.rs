// SPDX-License-Identifier: GPL-2.0

//! `RUST_GUP_IOC_PIN` with `RUST_GUP_OP_PIN_MEMFD`: folio pins of a memfd,
//! by file offset, held as a set of the file.

#![forbid(unsafe_code)]

use kernel::{
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::Arc,
};

use crate::kernel_ext::{
    gup::Access,
    memfd::{FileRef, MemfdPins},
    mm::{CurrentMm, PinnedVmCharge},
    task::Syscall,
    uapi,
};
use crate::set::{HeldSet, Set};
use crate::take::{access_of, check_uncharged};

/// The pages of `[offset, offset + size)` of a file: page aligned, not
/// empty, ending below `i64::MAX`; else `EINVAL`. The file's size bounds
/// them further ([`MemfdPins::pin`]), and what the set may hold.
fn file_pages(offset: u64, size: u64) -> Result<usize> {
    let page = PAGE_SIZE as u64;
    if offset % page != 0 || size % page != 0 || size == 0 {
        return Err(EINVAL);
    }
    match offset.checked_add(size) {
        Some(end) if end <= i64::MAX as u64 => {}
        _ => return Err(EINVAL),
    }
    usize::try_from(size >> PAGE_SHIFT).map_err(|_| EINVAL)
}

/// A checked `RUST_GUP_OP_PIN_MEMFD` request: the file, the range, and
/// how it is pinned.
pub(crate) struct MemfdRequest {
    fd: i32,
    offset: u64,
    nr_pages: usize,
    access: Access,
    /// A registration: charged to the caller's `pinned_vm`.
    account: bool,
}

impl MemfdRequest {
    /// `[offset, offset + size)` of the file `fd`, with `flags`
    /// (`RUST_GUP_F_*`): WRITE, DIRTY (with WRITE), LONGTERM (what memfd
    /// pins are anyway) and ACCOUNT; anything else is `EINVAL`, and so is a
    /// range [`file_pages`] refuses.
    pub(crate) fn new(fd: i32, offset: u64, size: u64, flags: u32) -> Result<Self> {
        let allowed = uapi::RUST_GUP_F_WRITE
            | uapi::RUST_GUP_F_DIRTY
            | uapi::RUST_GUP_F_LONGTERM
            | uapi::RUST_GUP_F_ACCOUNT;
        if flags & !allowed != 0 {
            return Err(EINVAL);
        }
        Ok(MemfdRequest {
            fd,
            offset,
            nr_pages: file_pages(offset, size)?,
            access: access_of(flags)?,
            account: flags & uapi::RUST_GUP_F_ACCOUNT != 0,
        })
    }

    /// For a set kept past the call (PIN, DMA_MAP): memfd pins are
    /// long-term, so one that is not a registration needs
    /// [`check_uncharged`]'s leave.
    pub(crate) fn check_kept(&self, cx: &Syscall) -> Result {
        if self.account {
            Ok(())
        } else {
            check_uncharged(cx)
        }
    }

    /// Whether it is a registration (`RUST_GUP_F_ACCOUNT`).
    pub(crate) fn account(&self) -> bool {
        self.account
    }

    /// Pins the range, with the charge made for it first if it is a
    /// registration; on failure nothing stays pinned or charged.
    pub(crate) fn pin(&self, cx: &Syscall) -> Result<(MemfdPins, Option<PinnedVmCharge>)> {
        let file = FileRef::fget(cx, self.fd)?;
        let charge = if self.account {
            Some(PinnedVmCharge::charge(&CurrentMm::get(cx)?, self.nr_pages)?)
        } else {
            None
        };
        let pins = MemfdPins::pin(file, self.offset, self.nr_pages, self.access)?;
        Ok((pins, charge))
    }
}

/// `RUST_GUP_IOC_PIN` of the range `pin` names of the memfd `pin.fd`, as a
/// new set.
pub(crate) fn memfd_set(pin: &uapi::rust_gup_pin, cx: &Syscall) -> Result<Arc<dyn HeldSet>> {
    if pin.pid != 0 {
        return Err(EINVAL);
    }
    let request = MemfdRequest::new(pin.fd, pin.addr, pin.size, pin.flags)?;
    request.check_kept(cx)?;
    let (pins, charge) = request.pin(cx)?;
    Ok(Set::accounted(pins, charge)?)
}
