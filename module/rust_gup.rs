// SPDX-License-Identifier: GPL-2.0

//! rust_gup: the kernel's get_user_pages rules as Rust types, exercised
//! through `/dev/rust_gup`.
//!
//! This crate is the module's logic and is safe Rust. Raw bindings and
//! `unsafe` live in the abstraction layer under `rust/`.

#![deny(unsafe_code)]

// The abstraction layer is the one place with `unsafe`. It is a library
// compiled into each crate, which uses part of it (and `uapi.rs` re-exports
// the ABI of all three devices): what one crate leaves unused is not dead.
#[allow(dead_code, unused_imports, unsafe_code)]
#[path = "../rust/kernel_ext.rs"]
mod kernel_ext;

mod abi;
mod access;
mod device;
mod dma;
mod gup_test;
mod ids;
mod memfd;
mod mirror;
mod pin;
mod set;
mod stats;
mod take;

use kernel::{c_str, prelude::*, sync::Arc};
use kernel_ext::{
    dma::DmaWatch,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    worker::Workers,
};

kernel_ext::module! {
    type: RustGupModule,
    name: "rust_gup",
    author: "rust_gup developers",
    description: "Safe get_user_pages/pin_user_pages wrappers, exercised through /dev/rust_gup",
    license: "GPL",
}

/// The device, and the DMA registry's watch of PCI driver unbinds. The
/// device's registration carries what the files share ([`device::Shared`]):
/// the DMA registry they map through, and the workers, whose workqueue is
/// destroyed after their last job. No file can be open at the module's
/// exit, so no mapping exists; fields drop in order, and the watch goes
/// last: its bus notifier is unregistered there, once no callback runs,
/// never by a callback's own release of the last mapping.
struct RustGupModule {
    _device: Pin<KBox<MiscDeviceRegistration<device::RustGupFile>>>,
    _dma: Pin<KBox<DmaWatch>>,
}

impl kernel::Module for RustGupModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        kernel_ext::layout::check()?;
        // Pinning user memory is a privileged operation: the node is
        // root only (a misc device's default mode, 0600).
        let options = MiscDeviceOptions {
            name: c_str!("rust_gup"),
        };
        let dma = KBox::pin_init(DmaWatch::new(), GFP_KERNEL)?;
        let shared = device::Shared {
            dma: dma.registry().clone(),
            workers: Arc::new(Workers::new(c_str!("rust_gup"))?, GFP_KERNEL)?,
        };
        let device = KBox::pin_init(
            MiscDeviceRegistration::register(options, shared),
            GFP_KERNEL,
        )?;
        pr_info!(
            "/dev/rust_gup registered, ABI version {}\n",
            device::ABI_VERSION
        );
        Ok(RustGupModule {
            _device: device,
            _dma: dma,
        })
    }
}
