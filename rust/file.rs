// SPDX-License-Identifier: GPL-2.0

//! Files, as the VFS hands them to file operations.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) use kernel::fs::File;
#[cfg(rust_gup_kernel_6_12)]
pub(crate) use v6_12::File;

/// 6.12's copy of the part of upstream's `kernel::fs::File` (7.3) that
/// rust_gup needs.
#[cfg(rust_gup_kernel_6_12)]
mod v6_12 {
    use super::super::bindings;
    use kernel::types::Opaque;

    /// A `struct file` borrowed for the duration of one file operation.
    ///
    /// # Invariants
    ///
    /// The wrapped `struct file` is valid for as long as the reference to this
    /// type lives: the VFS keeps the file alive during the operation that
    /// received it.
    #[repr(transparent)]
    pub(crate) struct File(Opaque<bindings::file>);

    impl File {
        /// Borrows the file that a file operation received.
        ///
        /// # Safety
        ///
        /// `ptr` must point to a valid `struct file` that stays valid for `'a`,
        /// as it does for the duration of a file operation.
        pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
            // SAFETY: `File` is a transparent wrapper of `struct file`, and the
            // caller guarantees that `ptr` is valid for `'a`.
            // INVARIANT: the file is valid for `'a`, as the caller guarantees.
            unsafe { &*ptr.cast() }
        }
    }
}
