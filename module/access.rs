// SPDX-License-Identifier: GPL-2.0

//! Reading and writing pages as a device would, on behalf of the caller:
//! the user buffer's side, one page at a time (`RUST_GUP_IOC_ACCESS`,
//! `_MIRROR_ACCESS`).

#![forbid(unsafe_code)]

use kernel::{page::PAGE_SIZE, prelude::*, uaccess::UserSlice};

use crate::kernel_ext::task::{cond_resched, fatal_signal_pending};

/// The part of one page an access covers, and which way the data goes.
pub(crate) enum Chunk<'a> {
    /// The device reads: the page's bytes go to the buffer.
    Read(&'a mut [u8]),
    /// The device writes: the buffer's bytes go to the page.
    Write(&'a [u8]),
}

/// Copies `len` bytes between the user buffer at `buf` and pages numbered
/// from 0, starting `at` bytes into page 0: `page(index, offset, chunk)`
/// accesses page `index` from `offset`, never past its end. A write reads
/// the buffer first, a read fills it after.
///
/// Stops at the first error, with the pages before it accessed; `EINTR`
/// between pages once the caller is killed.
pub(crate) fn by_page(
    at: usize,
    len: usize,
    buf: u64,
    write: bool,
    mut page: impl FnMut(usize, usize, Chunk<'_>) -> Result,
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
        let user = UserSlice::new(buf.checked_add(done).ok_or(EFAULT)?, n);
        let bytes = &mut bounce[..n];
        if write {
            user.reader().read_slice(bytes)?;
            page(pos / PAGE_SIZE, offset, Chunk::Write(bytes))?;
        } else {
            page(pos / PAGE_SIZE, offset, Chunk::Read(&mut *bytes))?;
            user.writer().write_slice(bytes)?;
        }
        done += n;
    }
    Ok(0)
}
