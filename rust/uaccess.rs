// SPDX-License-Identifier: GPL-2.0

//! User memory named by an ioctl argument.
//!
//! 6.12's `UserSlice::new` takes the address as a `usize`; 7.3's takes a
//! `UserPtr`. [`user_slice`] takes the address an ioctl argument carries
//! on both.

use kernel::uaccess::UserSlice;

/// The `len` bytes of user memory at `addr` (checked on access, not here).
pub(crate) fn user_slice(addr: usize, len: usize) -> UserSlice {
    #[cfg(rust_gup_kernel_6_12)]
    return UserSlice::new(addr, len);
    #[cfg(not(rust_gup_kernel_6_12))]
    return UserSlice::new(kernel::uaccess::UserPtr::from_addr(addr), len);
}

// The marker traits of the types that may be copied to and from user
// memory (`kernel::types` in 6.12, `kernel::transmute` in 7.3).
#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) use kernel::transmute::{AsBytes, FromBytes};
#[cfg(rust_gup_kernel_6_12)]
pub(crate) use kernel::types::{AsBytes, FromBytes};
