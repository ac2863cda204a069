// SPDX-License-Identifier: GPL-2.0

//! Reading and writing pages as a device would, on behalf of the caller:
//! the user buffer's side, one page at a time (`RUST_GUP_IOC_ACCESS`,
//! `_MIRROR_ACCESS`).

#![forbid(unsafe_code)]

use kernel::{page::PAGE_SIZE, prelude::*};

use crate::kernel_ext::{
    gup::CpuPages,
    task::{cond_resched, fatal_signal_pending},
    uaccess::user_slice,
};

/// Copies `len` bytes between the user buffer at `buf` and `pages`,
/// starting `at` bytes into page 0: with `write`, from the buffer to the
/// pages, otherwise from the pages to the buffer. Each page is accessed
/// from an offset, never past its end.
///
/// Stops at the first error, with the pages before it accessed; `EINTR`
/// between pages once the caller is killed.
pub(crate) fn by_page(
    at: usize,
    len: usize,
    buf: u64,
    write: bool,
    pages: &dyn CpuPages,
) -> Result<isize> {
    let buf = usize::try_from(buf)?;
    let mut bounce = KVec::from_elem(0u8, PAGE_SIZE.min(len), GFP_KERNEL)?;
    let mut done = 0;
    while done < len {
        if done > 0 {
            if fatal_signal_pending() {
                return Err(EINTR);
            }
            cond_resched();
        }
        let pos = at + done;
        let offset = pos % PAGE_SIZE;
        let n = (PAGE_SIZE - offset).min(len - done);
        let user = user_slice(buf.checked_add(done).ok_or(EFAULT)?, n);
        let bytes = &mut bounce[..n];
        if write {
            user.reader().read_slice(bytes)?;
            pages.write(pos / PAGE_SIZE, offset, bytes)?;
        } else {
            pages.read(pos / PAGE_SIZE, offset, bytes)?;
            user.writer().write_slice(bytes)?;
        }
        done += n;
    }
    Ok(0)
}
