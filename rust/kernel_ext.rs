// SPDX-License-Identifier: GPL-2.0

//! The rust_gup abstraction layer.
//!
//! Safe types over the kernel interfaces that the 6.12 `kernel` crate does
//! not wrap. Every `unsafe` block and every use of raw bindings in the
//! project lives below this module; the code that uses it is safe Rust.
//!
//! Each module of the project compiles this layer into its own crate, so a
//! module that uses only part of it leaves the rest unused.

pub(crate) mod bindings;
pub(crate) mod dma;
pub(crate) mod file;
pub(crate) mod gup;
pub(crate) mod hmm;
pub(crate) mod miscdevice;
pub(crate) mod mm;
pub(crate) mod uapi;
