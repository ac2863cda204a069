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

// The abstraction layer is the one place with `unsafe`. It is a library
// compiled into each crate, which uses part of it (and `uapi.rs` re-exports
// the ABI of all three devices): what one crate leaves unused is not dead.
#[allow(dead_code, unused_imports, unsafe_code)]
#[path = "../rust/kernel_ext.rs"]
mod kernel_ext;

use core::mem::size_of;
use kernel::{c_str, page::PAGE_SIZE, prelude::*};
use kernel_ext::{
    file::File,
    gup::{Access, GupOptions, PageSet, PinnedPages, ShortTerm, TakePages, UserPageRange},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::CurrentMm,
    task::Syscall,
    uaccess::user_slice,
    uapi,
};

kernel_ext::module! {
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
        // Pinning user memory is a privileged operation: the node is
        // root only (a misc device's default mode, 0600).
        let options = MiscDeviceOptions {
            name: c_str!("rust_gup_sample"),
        };
        Ok(SampleModule {
            _device: KBox::pin_init(MiscDeviceRegistration::register(options, ()), GFP_KERNEL)?,
        })
    }
}

/// An open file of the sample device; it keeps no state.
struct SampleFile;

#[vtable]
impl MiscDevice for SampleFile {
    type Ptr = KBox<Self>;
    type RegistrationData = ();

    fn open(
        _file: &File,
        _misc: &MiscDeviceRegistration<Self>,
        _cx: &Syscall,
    ) -> Result<KBox<Self>> {
        Ok(KBox::new(SampleFile, GFP_KERNEL)?)
    }

    fn ioctl(
        _this: &SampleFile,
        _file: &File,
        cmd: u32,
        arg: usize,
        cx: &Syscall,
    ) -> Result<isize> {
        match cmd {
            uapi::RUST_GUP_SAMPLE_COPY => copy(arg, cx),
            _ => Err(ENOTTY),
        }
    }
}

/// Pins all of `range` into `pins`; a driver that needs the whole buffer
/// treats a prefix as a failure (and the holder releases the prefix).
fn pin_all(mm: &CurrentMm, pins: &mut PinnedPages<ShortTerm>, range: UserPageRange) -> Result {
    pins.take_fast(mm, range, range.nr_pages())?;
    if pins.len() != range.nr_pages() {
        return Err(EFAULT);
    }
    Ok(())
}

fn copy(arg: usize, cx: &Syscall) -> Result<isize> {
    let req: uapi::rust_gup_sample_copy = user_slice(arg, size_of::<uapi::rust_gup_sample_copy>())
        .reader()
        .read()?;
    if req.len % PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    let src = UserPageRange::new(cx, req.src, req.len)?;
    let dst = UserPageRange::new(cx, req.dst, req.len)?;

    let mm = CurrentMm::get(cx)?;
    let n = src.nr_pages();
    let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    // Short-term pins, scoped to this call: when each closure returns, its
    // pins are released, `to`'s with its pages marked dirty.
    PinnedPages::scoped(GupOptions::new(Access::Read), n, |from| {
        pin_all(&mm, from, src)?;
        PinnedPages::scoped(GupOptions::new(Access::WriteDirty), n, |to| {
            pin_all(&mm, to, dst)?;
            for index in 0..n {
                from.read(index, 0, &mut page)?;
                to.write(index, 0, &page)?;
            }
            Ok(())
        })
    })?;
    Ok(0)
}
