// SPDX-License-Identifier: GPL-2.0

//! rust_gup: the kernel's get_user_pages rules as Rust types, exercised
//! through `/dev/rust_gup`.
//!
//! This crate is the module's logic and is safe Rust. Raw bindings and
//! `unsafe` live in the abstraction layer under `rust/`.

#![deny(unsafe_code)]

// The abstraction layer is the one place with `unsafe`; the crate uses only
// part of it.
#[allow(dead_code, unused_imports, unsafe_code)]
#[path = "../rust/kernel_ext.rs"]
mod kernel_ext;

mod device;
mod dma;
mod gup_test;
mod held;
mod ids;
mod mirror;
mod take;

use kernel::{c_str, prelude::*};
use kernel_ext::{
    dma::DmaWatch,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
};

module! {
    type: RustGupModule,
    name: "rust_gup",
    author: "rust_gup developers",
    description: "Safe get_user_pages/pin_user_pages wrappers, exercised through /dev/rust_gup",
    license: "GPL",
}

struct RustGupModule {
    // Dropped in order: no file can be open, so no DMA mapping exists,
    // when the watch goes.
    _device: Pin<KBox<MiscDeviceRegistration<device::RustGupFile>>>,
    _dma_watch: DmaWatch,
}

impl kernel::Module for RustGupModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("rust_gup"),
            // Pinning user memory is a privileged operation: root only.
            mode: 0o600,
        };
        let dma_watch = DmaWatch::new()?;
        let device = KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?;
        pr_info!(
            "/dev/rust_gup registered, ABI version {}\n",
            device::ABI_VERSION
        );
        Ok(RustGupModule {
            _device: device,
            _dma_watch: dma_watch,
        })
    }
}
