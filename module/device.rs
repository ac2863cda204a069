// SPDX-License-Identifier: GPL-2.0

//! `/dev/rust_gup`: per-open state and ioctl dispatch.

#![forbid(unsafe_code)]

use core::{
    mem::size_of,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{prelude::*, uaccess::UserSlice};

use crate::kernel_ext::{
    file::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    uapi,
};

pub(crate) const ABI_VERSION: u32 = uapi::RUST_GUP_ABI_VERSION;

/// Files open on the device, module-wide. Counted by [`OpenFile`], so it
/// falls back only when a file's state is really dropped: a test that sees
/// it return to its baseline knows no per-open state leaked.
static OPEN_FILES: AtomicU32 = AtomicU32::new(0);

/// Counts one open file for as long as it lives.
struct OpenFile;

impl OpenFile {
    fn new() -> Self {
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        OpenFile
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The state of one open file of `/dev/rust_gup`.
pub(crate) struct RustGupFile {
    _open: OpenFile,
}

#[vtable]
impl MiscDevice for RustGupFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        Ok(KBox::pin(
            RustGupFile {
                _open: OpenFile::new(),
            },
            GFP_KERNEL,
        )?)
    }

    fn ioctl(_this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::RUST_GUP_IOC_VERSION => {
                let version = uapi::rust_gup_version {
                    abi_version: ABI_VERSION,
                    ..Default::default()
                };
                write_to_user(arg, &version)?;
            }
            uapi::RUST_GUP_IOC_STATS => {
                let stats = uapi::rust_gup_stats {
                    open_files: OPEN_FILES.load(Ordering::Relaxed),
                    ..Default::default()
                };
                write_to_user(arg, &stats)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// Copies `value` to the user address `arg`; a bad address is `EFAULT`.
fn write_to_user<T: kernel::types::AsBytes>(arg: usize, value: &T) -> Result {
    UserSlice::new(arg, size_of::<T>()).writer().write(value)
}
