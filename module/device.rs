// SPDX-License-Identifier: GPL-2.0

//! `/dev/rust_gup`: per-open state and ioctl dispatch.

#![forbid(unsafe_code)]

use core::mem::size_of;
use kernel::{
    ioctl::_IOC_SIZE,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::dma;
use crate::gup_test;
#[cfg(CONFIG_COMPAT)]
use crate::kernel_ext::miscdevice::compat_ptr;
use crate::kernel_ext::{
    dma::DmaRegistry,
    file::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    mm::{CurrentMm, MmOwner},
    task::Syscall,
    uaccess::{user_slice, AsBytes},
    uapi,
    worker::Workers,
};
use crate::mirror::{self, FileMirrors};
use crate::pin;
use crate::set::FileSets;
use crate::stats::{self, Counted, OPEN_FILES};

pub(crate) const ABI_VERSION: u32 = uapi::RUST_GUP_ABI_VERSION;

/// What the files of the device share, carried by its registration: the
/// DMA registry their mappings are made through (watched by the module's
/// `DmaWatch`), and the workers that take pages for `RUST_GUP_F_WORKER`.
/// Both go at the module's unload, when no file is open: the registry after
/// the last mapping and the watch, the workers after their last job.
pub(crate) struct Shared {
    pub(crate) dma: Arc<DmaRegistry>,
    pub(crate) workers: Arc<Workers>,
}

/// The state of one open file of `/dev/rust_gup`: the page sets and the
/// mirrors it holds, and what it shares with the other files. Dropping it
/// (when the file is released) releases them all.
#[pin_data]
pub(crate) struct RustGupFile {
    _open: Counted,
    /// Who opened the file: the remote entry points work on its address
    /// space, whoever calls (the opener, a child that inherited the file,
    /// or a process that received it).
    owner: MmOwner,
    dma: Arc<DmaRegistry>,
    workers: Arc<Workers>,
    #[pin]
    sets: Mutex<FileSets>,
    #[pin]
    mirrors: Mutex<FileMirrors>,
}

#[vtable]
impl MiscDevice for RustGupFile {
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = Shared;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>, cx: &Syscall) -> Result<Self::Ptr> {
        let owner = MmOwner::of_current(&CurrentMm::get(cx)?);
        KBox::pin_init(
            try_pin_init!(RustGupFile {
                _open: Counted::new(&OPEN_FILES, 1),
                owner,
                dma: misc.data().dma.clone(),
                workers: misc.data().workers.clone(),
                sets <- new_mutex!(FileSets::default()),
                mirrors <- new_mutex!(FileMirrors::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize, cx: &Syscall) -> Result<isize> {
        this.dispatch(cmd, arg, _IOC_SIZE(cmd), cx)
    }

    /// A 32-bit process: every structure has the 64-bit layout but
    /// gup_test's, which lack their tail padding and so have other command
    /// numbers (see the uapi header). Those are answered too, with only the
    /// caller's bytes read and written.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        this: Pin<&Self>,
        _file: &File,
        cmd: u32,
        arg: usize,
        cx: &Syscall,
    ) -> Result<isize> {
        let native = uapi::COMPAT_COMMANDS
            .iter()
            .find(|(compat, _)| *compat == cmd)
            .map_or(cmd, |(_, native)| *native);
        this.dispatch(native, compat_ptr(arg), _IOC_SIZE(cmd), cx)
    }
}

impl RustGupFile {
    /// Runs command `cmd` on the structure at `arg`, of which the caller
    /// has `len` bytes: the size its own command number gives. `cx` is the
    /// caller's system call.
    fn dispatch(&self, cmd: u32, arg: usize, len: usize, cx: &Syscall) -> Result<isize> {
        match cmd {
            uapi::GUP_FAST_BENCHMARK
            | uapi::PIN_FAST_BENCHMARK
            | uapi::PIN_LONGTERM_BENCHMARK
            | uapi::GUP_BASIC_TEST
            | uapi::PIN_BASIC_TEST
            | uapi::DUMP_USER_PAGES_TEST => {
                return gup_test::gup_test_ioctl(&self.owner, cmd, arg, len, cx)
            }
            uapi::PIN_LONGTERM_TEST_START => {
                return gup_test::longterm_test_start(&self.sets, &self.owner, arg, len, cx)
            }
            uapi::PIN_LONGTERM_TEST_STOP => return gup_test::longterm_test_stop(&self.sets),
            uapi::PIN_LONGTERM_TEST_READ => return gup_test::longterm_test_read(&self.sets, arg),
            uapi::RUST_GUP_IOC_BENCH => return gup_test::bench_ioctl(&self.owner, arg, cx),
            uapi::RUST_GUP_IOC_PIN | uapi::RUST_GUP_IOC_PIN_V8 => {
                return pin::pin(
                    &self.sets,
                    &self.owner,
                    &self.dma,
                    &self.workers,
                    arg,
                    len,
                    cx,
                )
            }
            uapi::RUST_GUP_IOC_UNPIN => return pin::unpin(&self.sets, arg),
            uapi::RUST_GUP_IOC_QUERY | uapi::RUST_GUP_IOC_QUERY_V6 => {
                return pin::query(&self.sets, arg, len)
            }
            uapi::RUST_GUP_IOC_ACCESS => return pin::access(&self.sets, arg),
            uapi::RUST_GUP_IOC_MIRROR => return mirror::create(&self.mirrors, &self.dma, arg, cx),
            uapi::RUST_GUP_IOC_MIRROR_FAULT => return mirror::fault(&self.mirrors, arg, cx),
            uapi::RUST_GUP_IOC_MIRROR_READ => return mirror::read(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_ACCESS => return mirror::access(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_DROP => return mirror::drop_mirror(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_MIRROR_DMA => return mirror::read_dma(&self.mirrors, arg),
            uapi::RUST_GUP_IOC_DMA_MAP | uapi::RUST_GUP_IOC_DMA_MAP_V8 => {
                return dma::dma_map(&self.sets, &self.owner, &self.dma, arg, len, cx)
            }
            uapi::RUST_GUP_IOC_DMA_SEGMENTS => return dma::dma_segments(&self.sets, arg),
            uapi::RUST_GUP_IOC_VERSION => {
                let mut features = uapi::RUST_GUP_FEATURE_MIRROR | uapi::RUST_GUP_FEATURE_DMA_MAP;
                if cfg!(CONFIG_COMPAT) {
                    features |= uapi::RUST_GUP_FEATURE_COMPAT;
                }
                features |= uapi::RUST_GUP_FEATURE_OWNER
                    | uapi::RUST_GUP_FEATURE_WORKER
                    | uapi::RUST_GUP_FEATURE_PID
                    | uapi::RUST_GUP_FEATURE_ACCESS
                    | uapi::RUST_GUP_FEATURE_REVOKE
                    | uapi::RUST_GUP_FEATURE_MIRROR_DMA
                    | uapi::RUST_GUP_FEATURE_MEMFD;
                let version = uapi::rust_gup_version {
                    abi_version: ABI_VERSION,
                    features: features.into(),
                    ..Default::default()
                };
                write_to_user(arg, &version)?;
            }
            uapi::RUST_GUP_IOC_STATS
            | uapi::RUST_GUP_IOC_STATS_V9
            | uapi::RUST_GUP_IOC_STATS_V5 => {
                let mut writer = user_slice(arg, len).writer();
                uapi::write_prefix(&mut writer, &stats::stats())?
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// Copies `value` to the user address `arg`; a bad address is `EFAULT`.
fn write_to_user<T: AsBytes>(arg: usize, value: &T) -> Result {
    user_slice(arg, size_of::<T>()).writer().write(value)
}
