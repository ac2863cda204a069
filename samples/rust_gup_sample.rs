// SPDX-License-Identifier: GPL-2.0

//! rust_gup_sample: the smallest correct use of rust_gup's pinning types
//! by a driver.
//!
//! `/dev/rust_gup_sample` has one ioctl, `RUST_GUP_SAMPLE_COPY`, that copies
//! one user buffer to another the way a DMA engine would: it pins both
//! (short-term, as for direct I/O), moves the data through the pinned pages,
//! and lets the holders go. The destination is pinned for writing with
//! dirty-on-release, because the "device" writes to it behind the page
//! tables' back. Nothing here releases a page: whatever path the function
//! leaves by, each holder unpins exactly what it pinned.

#![deny(unsafe_code)]

// The abstraction layer is the one place with `unsafe`; the crate uses only
// part of it.
#[allow(dead_code, unused_imports, unsafe_code)]
#[path = "../rust/kernel_ext.rs"]
mod kernel_ext;

use core::mem::size_of;
use kernel::{c_str, page::PAGE_SIZE, prelude::*, uaccess::UserSlice};
use kernel_ext::{
    file::File,
    gup::{Access, GupOptions, PageSet, PinnedPages, ShortTerm, TakePages, UserPageRange},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::CurrentMm,
    uapi,
};

module! {
    type: SampleModule,
    name: "rust_gup_sample",
    author: "rust_gup developers",
    description: "Sample: a driver copying between user buffers through pinned pages",
    license: "GPL",
}

struct SampleModule {
    _device: Pin<KBox<MiscDeviceRegistration<SampleFile>>>,
}

impl kernel::Module for SampleModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("rust_gup_sample"),
            mode: 0o600,
        };
        Ok(SampleModule {
            _device: KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?,
        })
    }
}

/// An open file of the sample device; it keeps no state.
struct SampleFile;

#[vtable]
impl MiscDevice for SampleFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(SampleFile, GFP_KERNEL)?)
    }

    fn ioctl(_this: &SampleFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::RUST_GUP_SAMPLE_COPY => copy(arg),
            _ => Err(ENOTTY),
        }
    }
}

/// Pins all of `range` for `access`; a driver that needs the whole buffer
/// treats a prefix as a failure (and the holder releases the prefix).
fn pin_all(mm: &CurrentMm, range: UserPageRange, access: Access) -> Result<PinnedPages<ShortTerm>> {
    let mut pins = PinnedPages::new(GupOptions::new(access), range.nr_pages())?;
    pins.take_fast(mm, range, range.nr_pages())?;
    if pins.len() != range.nr_pages() {
        return Err(EFAULT);
    }
    Ok(pins)
}

fn copy(arg: usize) -> Result<isize> {
    let req: uapi::rust_gup_sample_copy =
        UserSlice::new(arg, size_of::<uapi::rust_gup_sample_copy>())
            .reader()
            .read()?;
    if req.len % PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    let src = UserPageRange::new(req.src, req.len)?;
    let dst = UserPageRange::new(req.dst, req.len)?;

    let mm = CurrentMm::get()?;
    let from = pin_all(&mm, src, Access::Read)?;
    let to = pin_all(&mm, dst, Access::WriteDirty)?;

    let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    for index in 0..src.nr_pages() {
        from.read(index, 0, &mut page)?;
        to.write(index, 0, &page)?;
    }
    Ok(0)
    // `to` and `from` go out of scope here: `to` is unpinned with its pages
    // marked dirty, `from` is unpinned as it is.
}
