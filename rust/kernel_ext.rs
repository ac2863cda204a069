// SPDX-License-Identifier: GPL-2.0

//! The rust_gup abstraction layer.
//!
//! Safe types over the kernel interfaces that the 6.12 `kernel` crate does
//! not wrap. Every `unsafe` block and every use of raw bindings in the
//! project lives below this module; the code that uses it is safe Rust.
//!
//! Each module of the project compiles this layer into its own crate: the
//! core, and the optional parts its Kbuild flags name (see `Kbuild`).

pub(crate) mod bindings;
pub(crate) mod file;
pub(crate) mod gup;
pub(crate) mod miscdevice;
pub(crate) mod mm;
pub(crate) mod page;
pub(crate) mod pci;
pub(crate) mod task;
pub(crate) mod uapi;
pub(crate) mod worker;

// The optional parts, for the crates whose Kbuild flags ask for them (and
// link their C helpers).
#[cfg(rust_gup_dma)]
pub(crate) mod dma;
#[cfg(rust_gup_hmm)]
pub(crate) mod hmm;
