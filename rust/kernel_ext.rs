// SPDX-License-Identifier: GPL-2.0

//! The rust_gup abstraction layer.
//!
//! Safe types over the kernel interfaces that the `kernel` crate does not
//! wrap (upstream's where 7.3 has them, see `Documentation/rust_gup.rst`,
//! "What differs between them"). Every `unsafe` block and every use of raw bindings in the
//! project lives below this module; the code that uses it is safe Rust.
//!
//! Each module of the project compiles this layer into its own crate: the
//! core, and the optional parts its Kbuild flags name (see `Kbuild`).

pub(crate) mod bindings;
pub(crate) mod file;
pub(crate) mod folio_refs;
pub(crate) mod gup;
pub(crate) mod miscdevice;
pub(crate) mod mm;
pub(crate) mod page;
pub(crate) mod pci;
pub(crate) mod runs;
pub(crate) mod task;
pub(crate) mod time;
pub(crate) mod uaccess;
pub(crate) mod uapi;
pub(crate) mod worker;

/// Reference-counted objects: `kernel::types` in 6.12, `kernel::sync::aref`
/// in 7.3.
pub(crate) mod aref {
    #[cfg(not(rust_gup_kernel_6_12))]
    pub(crate) use kernel::sync::aref::{ARef, AlwaysRefCounted};
    #[cfg(rust_gup_kernel_6_12)]
    pub(crate) use kernel::types::{ARef, AlwaysRefCounted};
}

/// Initialisers from closures: `kernel::init` in 6.12, the `pin_init`
/// crate in 7.3.
#[cfg(rust_gup_kernel_6_12)]
pub(crate) use kernel::init::pin_init_from_closure;
#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) use pin_init::pin_init_from_closure;

/// The C object in an `Opaque` that is being initialised, from a pointer to
/// it (`Opaque::raw_get` in 6.12, `Opaque::cast_into` in 7.3).
pub(crate) fn opaque_raw<T>(slot: *const kernel::types::Opaque<T>) -> *mut T {
    #[cfg(rust_gup_kernel_6_12)]
    return kernel::types::Opaque::raw_get(slot);
    #[cfg(not(rust_gup_kernel_6_12))]
    return kernel::types::Opaque::cast_into(slot);
}

/// What a lock guard gives out as `&mut`: 7.3's guards do only for `Unpin`
/// data (pinned data is reached through `Guard::as_mut`), 6.12's for any.
/// A generic type behind a lock is bounded by this, the same on both.
#[cfg(rust_gup_kernel_6_12)]
pub(crate) trait LockData {}
#[cfg(rust_gup_kernel_6_12)]
impl<T: ?Sized> LockData for T {}
#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) trait LockData: Unpin {}
#[cfg(not(rust_gup_kernel_6_12))]
impl<T: ?Sized + Unpin> LockData for T {}

// The optional parts, for the crates whose Kbuild flags ask for them (and
// link their C helpers).
#[cfg(rust_gup_dma)]
pub(crate) mod dma;
#[cfg(rust_gup_hmm)]
pub(crate) mod hmm;
#[cfg(rust_gup_layout)]
pub(crate) mod layout;
#[cfg(rust_gup_memfd)]
pub(crate) mod memfd;

/// `kernel::module!` with one author, which 6.12 takes as `author: "..."`
/// and 7.3 as `authors: ["..."]`.
macro_rules! module {
    (
        type: $type:ident,
        name: $name:tt,
        author: $author:tt,
        description: $description:tt,
        license: $license:tt $(,)?
    ) => {
        #[cfg(rust_gup_kernel_6_12)]
        kernel::prelude::module! {
            type: $type,
            name: $name,
            author: $author,
            description: $description,
            license: $license,
        }
        #[cfg(not(rust_gup_kernel_6_12))]
        kernel::prelude::module! {
            type: $type,
            name: $name,
            authors: [$author],
            description: $description,
            license: $license,
        }
    };
}
pub(crate) use module;
