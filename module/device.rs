// SPDX-License-Identifier: GPL-2.0

//! `/dev/rust_gup`: per-open state and ioctl dispatch.

#![forbid(unsafe_code)]

use core::{
    mem::size_of,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{ioctl::_IOC_SIZE, new_mutex, prelude::*, sync::Mutex, uaccess::UserSlice};

use crate::dma;
use crate::gup_test;
use crate::held::{self, FileSets, HELD_PAGES, HELD_SETS};
#[cfg(CONFIG_COMPAT)]
use crate::kernel_ext::miscdevice::compat_ptr;
use crate::kernel_ext::{
    file::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    uapi,
};
use crate::mirror::{self, FileMirrors, MIRRORS};

pub(crate) const ABI_VERSION: u32 = uapi::RUST_GUP_ABI_VERSION;

/// Files open on the device, module-wide. Counted by [`Counted`], so it
/// falls back only when a file's state is really dropped: a test that sees
/// it return to its baseline knows no per-open state leaked.
static OPEN_FILES: AtomicU32 = AtomicU32::new(0);

/// Counts one object in a module-wide counter for as long as it lives.
pub(crate) struct Counted(&'static AtomicU32);

impl Counted {
    pub(crate) fn new(counter: &'static AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The state of one open file of `/dev/rust_gup`: the page sets and the
/// mirrors it holds. Dropping it (when the file is released) releases
/// them all.
#[pin_data]
pub(crate) struct RustGupFile {
    _open: Counted,
    #[pin]
    sets: Mutex<FileSets>,
    #[pin]
    mirrors: Mutex<FileMirrors>,
}

#[vtable]
impl MiscDevice for RustGupFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::pin_init(
            try_pin_init!(RustGupFile {
                _open: Counted::new(&OPEN_FILES),
                sets <- new_mutex!(FileSets::default()),
                mirrors <- new_mutex!(FileMirrors::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        this.dispatch(cmd, arg, _IOC_SIZE(cmd))
    }

    /// A 32-bit process: every structure has the 64-bit layout but
    /// gup_test's, which lack their tail padding and so have other command
    /// numbers (see the uapi header). Those are answered too, with only the
    /// caller's bytes read and written.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let native = uapi::COMPAT_COMMANDS
            .iter()
            .find(|(compat, _)| *compat == cmd)
            .map_or(cmd, |(_, native)| *native);
        this.dispatch(native, compat_ptr(arg), _IOC_SIZE(cmd))
    }
}

impl RustGupFile {
    /// Runs command `cmd` on the structure at `arg`, of which the caller
    /// has `len` bytes: the size its own command number gives.
    fn dispatch(&self, cmd: u32, arg: usize, len: usize) -> Result<isize> {
        match cmd {
            uapi::GUP_FAST_BENCHMARK
            | uapi::PIN_FAST_BENCHMARK
            | uapi::PIN_LONGTERM_BENCHMARK
            | uapi::GUP_BASIC_TEST
            | uapi::PIN_BASIC_TEST
            | uapi::DUMP_USER_PAGES_TEST => return gup_test::gup_test_ioctl(cmd, arg, len),
            uapi::PIN_LONGTERM_TEST_START => {
                return held::longterm_test_start(&self.sets, arg, len)
            }
            uapi::PIN_LONGTERM_TEST_STOP => return held::longterm_test_stop(&self.sets),
            uapi::PIN_LONGTERM_TEST_READ => return held::longterm_test_read(&self.sets, arg),
            uapi::RUST_GUP_IOC_BENCH => return gup_test::bench_ioctl(arg),
            uapi::RUST_GUP_IOC_PIN => return held::pin(&self.sets, arg),
            uapi::RUST_GUP_IOC_UNPIN => return held::unpin(&self.sets, arg),
            uapi::RUST_GUP_IOC_QUERY => return held::query(&self.sets, arg),
            uapi::RUST_GUP_IOC_MIRROR => return mirror::create(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_FAULT => return mirror::fault(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_READ => return mirror::read(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_ACCESS => return mirror::access(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_DROP => return mirror::drop_mirror(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_DMA_MAP => return dma::dma_map(&self.sets, arg),
            uapi::RUST_GUP_IOC_DMA_SEGMENTS => return dma::dma_segments(&self.sets, arg),
            uapi::RUST_GUP_IOC_VERSION => {
                let mut features = uapi::RUST_GUP_FEATURE_MIRROR | uapi::RUST_GUP_FEATURE_DMA_MAP;
                if cfg!(CONFIG_COMPAT) {
                    features |= uapi::RUST_GUP_FEATURE_COMPAT;
                }
                let version = uapi::rust_gup_version {
                    abi_version: ABI_VERSION,
                    features: features.into(),
                    ..Default::default()
                };
                write_to_user(arg, &version)?;
            }
            uapi::RUST_GUP_IOC_STATS => {
                let stats = uapi::rust_gup_stats {
                    open_files: OPEN_FILES.load(Ordering::Relaxed),
                    mirrors: MIRRORS.load(Ordering::Relaxed),
                    held_sets: HELD_SETS.load(Ordering::Relaxed),
                    held_pages: HELD_PAGES.load(Ordering::Relaxed),
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
