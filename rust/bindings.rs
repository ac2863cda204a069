// SPDX-License-Identifier: GPL-2.0

//! Raw bindings: the `kernel` crate's, plus the project's own bindgen pass.
//!
//! `bindings_generated.rs` is made at build time from `bindings_helper.h`
//! with the kernel's own compiler flags (see `Kbuild`). It covers what the
//! kernel crate's bindings lack (`linux/hmm.h` on both kernels, and on
//! 6.12 `linux/miscdevice.h` and PCI) and the project's uapi header.
//! Types it shares with the kernel's bindings come from there, so a
//! `struct file` is one Rust type in both.

#![allow(
    improper_ctypes,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    unreachable_pub,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

pub(crate) use kernel::bindings::*;

include!("bindings_generated.rs");
