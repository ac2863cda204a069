// SPDX-License-Identifier: GPL-2.0

//! `/dev/rust_gup`: per-open state and ioctl dispatch.

#![forbid(unsafe_code)]

use core::{
    mem::size_of,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{new_mutex, prelude::*, sync::Mutex, uaccess::UserSlice};

use crate::gup_test;
use crate::held::{self, FileSets, HELD_PAGES, HELD_SETS};
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

/// The state of one open file of `/dev/rust_gup`: the page sets it holds.
/// Dropping it (when the file is released) releases them all.
#[pin_data]
pub(crate) struct RustGupFile {
    _open: OpenFile,
    #[pin]
    sets: Mutex<FileSets>,
}

#[vtable]
impl MiscDevice for RustGupFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::pin_init(
            try_pin_init!(RustGupFile {
                _open: OpenFile::new(),
                sets <- new_mutex!(FileSets::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::GUP_FAST_BENCHMARK
            | uapi::PIN_FAST_BENCHMARK
            | uapi::PIN_LONGTERM_BENCHMARK
            | uapi::GUP_BASIC_TEST
            | uapi::PIN_BASIC_TEST
            | uapi::DUMP_USER_PAGES_TEST => return gup_test::gup_test_ioctl(cmd, arg),
            uapi::PIN_LONGTERM_TEST_START => return held::longterm_test_start(&this.sets, arg),
            uapi::PIN_LONGTERM_TEST_STOP => return held::longterm_test_stop(&this.sets),
            uapi::PIN_LONGTERM_TEST_READ => return held::longterm_test_read(&this.sets, arg),
            uapi::RUST_GUP_IOC_BENCH => return gup_test::bench_ioctl(arg),
            uapi::RUST_GUP_IOC_PIN => return held::pin(&this.sets, arg),
            uapi::RUST_GUP_IOC_UNPIN => return held::unpin(&this.sets, arg),
            uapi::RUST_GUP_IOC_QUERY => return held::query(&this.sets, arg),
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
                    held_sets: HELD_SETS.load(Ordering::Relaxed),
                    held_pages: HELD_PAGES.load(Ordering::Relaxed),
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
