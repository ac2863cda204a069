// SPDX-License-Identifier: GPL-2.0

//! The `/dev/rust_gup` ioctl ABI, from `include/uapi/linux/rust_gup.h`.
//!
//! The structures come from the header through bindgen; this module marks
//! the ones that cross the user boundary as plain bytes, and proves at
//! build time that they have no padding (padding would leak kernel memory
//! on a copy to user space).

use super::bindings;
use core::mem::size_of;
use kernel::{
    static_assert,
    types::{AsBytes, FromBytes},
};

pub(crate) use bindings::{
    rust_gup_stats, rust_gup_version, RUST_GUP_ABI_VERSION, RUST_GUP_IOC_STATS,
    RUST_GUP_IOC_VERSION,
};

/// Marks uapi structures as plain old data, after checking at build time
/// that each is exactly as large as the sum of its fields.
macro_rules! plain_uapi_struct {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        static_assert!(size_of::<$name>() == 0 $(+ field_size(|s: &$name| &s.$field))*);
        // SAFETY: the type is a C struct of integers and arrays of
        // integers (uapi headers allow nothing else), and the assertion
        // above shows it has no padding: every bit pattern is valid and
        // every byte is initialised.
        unsafe impl FromBytes for $name {}
        // SAFETY: as above.
        unsafe impl AsBytes for $name {}
    )*};
}

/// The size of the field that `f` projects to; used in const context.
const fn field_size<S, F>(_f: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

plain_uapi_struct! {
    rust_gup_version { abi_version, reserved, features }
    rust_gup_stats { open_files, reserved }
}
