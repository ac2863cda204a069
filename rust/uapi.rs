// SPDX-License-Identifier: GPL-2.0

//! The `/dev/rust_gup` ioctl ABI, from `include/uapi/linux/rust_gup.h`.
//!
//! The structures come from the header through bindgen, with padding made
//! explicit. This module marks the ones that cross the user boundary as
//! plain bytes: every structure may be read from user space (any bit
//! pattern of integers is valid), and the ones written to user space are
//! proven at build time to have no implicit padding, which would leak
//! uninitialised kernel memory.

use super::{
    bindings,
    uaccess::{AsBytes, FromBytes},
};
use core::mem::{offset_of, size_of};
use kernel::{
    prelude::*,
    static_assert,
    uaccess::{UserSliceReader, UserSliceWriter},
};

pub(crate) use bindings::{
    gup_test, pin_longterm_test, rust_gup_bench, rust_gup_mr_reg, rust_gup_mr_xfer,
    rust_gup_page_info, rust_gup_pin, rust_gup_query, rust_gup_sample_copy, rust_gup_stats,
    rust_gup_version, DUMP_USER_PAGES_TEST, GUP_BASIC_TEST, GUP_FAST_BENCHMARK,
    GUP_TEST_FLAG_DUMP_PAGES_USE_PIN, PIN_BASIC_TEST, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK,
    PIN_LONGTERM_TEST_FLAG_USE_FAST, PIN_LONGTERM_TEST_FLAG_USE_WRITE, PIN_LONGTERM_TEST_READ,
    PIN_LONGTERM_TEST_START, PIN_LONGTERM_TEST_STOP, RUST_GUP_ABI_VERSION, RUST_GUP_FOLL_FORCE,
    RUST_GUP_FOLL_GET, RUST_GUP_FOLL_LONGTERM, RUST_GUP_FOLL_PCI_P2PDMA, RUST_GUP_FOLL_WRITE,
    RUST_GUP_F_ACCOUNT, RUST_GUP_F_ALL, RUST_GUP_F_DIRTY, RUST_GUP_F_FORCE, RUST_GUP_F_LONGTERM,
    RUST_GUP_F_P2PDMA, RUST_GUP_F_WRITE, RUST_GUP_ID_LONGTERM_TEST, RUST_GUP_IOC_BENCH,
    RUST_GUP_IOC_PIN, RUST_GUP_IOC_QUERY, RUST_GUP_IOC_STATS, RUST_GUP_IOC_UNPIN,
    RUST_GUP_IOC_VERSION, RUST_GUP_MR_ACCESS_WRITE, RUST_GUP_MR_DEREG, RUST_GUP_MR_READ,
    RUST_GUP_MR_REG, RUST_GUP_MR_WRITE, RUST_GUP_OP_GET_FAST, RUST_GUP_OP_GET_LOCKED,
    RUST_GUP_OP_GET_REMOTE, RUST_GUP_OP_GET_UNLOCKED, RUST_GUP_OP_PIN_FAST, RUST_GUP_OP_PIN_LOCKED,
    RUST_GUP_OP_PIN_REMOTE, RUST_GUP_OP_PIN_UNLOCKED, RUST_GUP_SAMPLE_COPY,
};
pub(crate) use bindings::{
    rust_gup_access, RUST_GUP_ACCESS_WRITE, RUST_GUP_FEATURE_ACCESS, RUST_GUP_FEATURE_PID,
    RUST_GUP_FEATURE_WORKER, RUST_GUP_F_PID, RUST_GUP_F_WORKER, RUST_GUP_IOC_ACCESS,
};
pub(crate) use bindings::{
    rust_gup_dma_map, rust_gup_dma_segment, rust_gup_dma_segments, RUST_GUP_DMA_BUS_ADDR,
    RUST_GUP_FEATURE_DMA_MAP, RUST_GUP_IOC_DMA_MAP, RUST_GUP_IOC_DMA_SEGMENTS,
};
pub(crate) use bindings::{
    rust_gup_mirror, rust_gup_mirror_access, rust_gup_mirror_dma, rust_gup_mirror_entry,
    rust_gup_mirror_read, RUST_GUP_FEATURE_MIRROR, RUST_GUP_FEATURE_MIRROR_DMA,
    RUST_GUP_IOC_MIRROR, RUST_GUP_IOC_MIRROR_ACCESS, RUST_GUP_IOC_MIRROR_DMA,
    RUST_GUP_IOC_MIRROR_DROP, RUST_GUP_IOC_MIRROR_FAULT, RUST_GUP_IOC_MIRROR_READ,
    RUST_GUP_MIRROR_ACCESS_WRITE, RUST_GUP_MIRROR_ERROR, RUST_GUP_MIRROR_F_ALL,
    RUST_GUP_MIRROR_F_DMA, RUST_GUP_MIRROR_F_SNAPSHOT, RUST_GUP_MIRROR_F_WRITE,
    RUST_GUP_MIRROR_MAX_PAGES, RUST_GUP_MIRROR_NO_DMA, RUST_GUP_MIRROR_VALID,
    RUST_GUP_MIRROR_WRITE,
};
pub(crate) use bindings::{
    RUST_GUP_COMPAT_GUP_TEST_SIZE, RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE, RUST_GUP_FEATURE_COMPAT,
    RUST_GUP_FEATURE_OWNER,
};
pub(crate) use bindings::{RUST_GUP_FEATURE_MEMFD, RUST_GUP_OP_PIN_MEMFD};
pub(crate) use bindings::{RUST_GUP_FEATURE_REVOKE, RUST_GUP_QUERY_REVOKED};
pub(crate) use bindings::{
    RUST_GUP_PAGE_ANON, RUST_GUP_PAGE_DIRTY, RUST_GUP_PAGE_DMA_PINNED, RUST_GUP_PAGE_HUGETLB,
    RUST_GUP_PAGE_P2PDMA, RUST_GUP_PAGE_PROVIDER, RUST_GUP_ZONE_DEVICE, RUST_GUP_ZONE_DMA,
    RUST_GUP_ZONE_DMA32, RUST_GUP_ZONE_MOVABLE, RUST_GUP_ZONE_NORMAL, RUST_GUP_ZONE_OTHER,
};

/// The size of the field that `f` projects to; used in const context.
const fn field_size<S, F>(_f: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

/// Marks uapi structures as readable from user space.
macro_rules! from_user {
    ($($name:ident),* $(,)?) => {$(
        // SAFETY: the type is a C struct of integers, arrays of integers
        // and explicit padding arrays (uapi headers allow nothing else), so
        // every bit pattern is a valid value.
        unsafe impl FromBytes for $name {}
    )*};
}

/// Marks uapi structures as writable to user space, after checking at
/// build time that each is exactly as large as the sum of its fields.
macro_rules! to_user {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        static_assert!(size_of::<$name>() == 0 $(+ field_size(|s: &$name| &s.$field))*);
        // SAFETY: as for `FromBytes`; and the assertion above shows there
        // is no implicit padding, so every byte is initialised.
        unsafe impl AsBytes for $name {}
    )*};
}

from_user!(
    gup_test,
    pin_longterm_test,
    rust_gup_bench,
    rust_gup_pin,
    rust_gup_query,
    rust_gup_access,
    rust_gup_mr_reg,
    rust_gup_mr_xfer,
    rust_gup_sample_copy,
    rust_gup_mirror,
    rust_gup_mirror_read,
    rust_gup_mirror_access,
    rust_gup_dma_map,
    rust_gup_dma_segments,
);

to_user! {
    rust_gup_version { abi_version, reserved, features }
    rust_gup_stats { open_files, mirrors, held_sets, held_pages, charged_pages, held_meta_bytes }
    gup_test {
        get_delta_usec, put_delta_usec, addr, size, nr_pages_per_call, gup_flags,
        test_flags, which_pages, __bindgen_padding_0,
    }
    rust_gup_bench {
        addr, size, op, flags, nr_pages_per_call, fd, get_ns, put_ns, calls,
    }
    rust_gup_pin { addr, size, op, flags, id, pid, fd, reserved }
    rust_gup_query { id, nr, first, pages, set_pages, flags, reserved }
    rust_gup_page_info { pfn, zone, order, flags, pincount, refcount, provider }
    rust_gup_mr_reg { addr, len, access, key }
    rust_gup_mirror { addr, size, flags, id, valid, ns, retries, client }
    rust_gup_mirror_read { id, nr, first, entries, mirror_pages, invalidations }
    rust_gup_mirror_entry { pfn, flags, order }
    rust_gup_mirror_dma { addr, flags, reserved }
    rust_gup_dma_map {
        addr, size, op, flags, client, id, nr_segments, bus_segments, fd, reserved,
    }
    rust_gup_dma_segments { id, nr, first, segments, nr_segments }
    rust_gup_dma_segment { addr, len, flags }
    // Never written back, but `read_prefix` views it as bytes.
    pin_longterm_test { addr, size, flags, __bindgen_padding_0 }
}

// A 32-bit process's gup_test structures are the 64-bit ones without their
// tail padding (see the uapi header), so reading and writing a prefix of
// the 64-bit structure is the conversion.
static_assert!(offset_of!(gup_test, __bindgen_padding_0) == RUST_GUP_COMPAT_GUP_TEST_SIZE as usize);
static_assert!(
    offset_of!(pin_longterm_test, __bindgen_padding_0)
        == RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE as usize
);

/// `cmd` with another structure size in its size field.
const fn with_size(cmd: u32, size: u32) -> u32 {
    let field = kernel::uapi::_IOC_SIZEMASK << kernel::uapi::_IOC_SIZESHIFT;
    (cmd & !field) | (size << kernel::uapi::_IOC_SIZESHIFT)
}

/// `RUST_GUP_IOC_STATS` as ABI version 5 numbered it: its structure ended
/// at `held_pages`. Answered with that prefix, so the number keeps working.
pub(crate) const RUST_GUP_IOC_STATS_V5: u32 = with_size(
    RUST_GUP_IOC_STATS,
    offset_of!(rust_gup_stats, charged_pages) as u32,
);

/// `RUST_GUP_IOC_STATS` as ABI versions 6 to 9 numbered it: its structure
/// ended at `charged_pages`. Answered with that prefix.
pub(crate) const RUST_GUP_IOC_STATS_V9: u32 = with_size(
    RUST_GUP_IOC_STATS,
    offset_of!(rust_gup_stats, held_meta_bytes) as u32,
);

/// `RUST_GUP_IOC_PIN` as ABI version 8 numbered it: its structure ended at
/// `pid`. Answered with that prefix.
pub(crate) const RUST_GUP_IOC_PIN_V8: u32 =
    with_size(RUST_GUP_IOC_PIN, offset_of!(rust_gup_pin, fd) as u32);

/// `RUST_GUP_IOC_DMA_MAP` as ABI version 8 numbered it: its structure
/// ended at `bus_segments`. Answered with that prefix.
pub(crate) const RUST_GUP_IOC_DMA_MAP_V8: u32 = with_size(
    RUST_GUP_IOC_DMA_MAP,
    offset_of!(rust_gup_dma_map, fd) as u32,
);

/// `RUST_GUP_IOC_QUERY` as ABI version 6 numbered it: its structure ended
/// at `set_pages`. Answered with that prefix.
pub(crate) const RUST_GUP_IOC_QUERY_V6: u32 =
    with_size(RUST_GUP_IOC_QUERY, offset_of!(rust_gup_query, flags) as u32);

/// The gup_test commands whose number differs in a 32-bit process, as
/// (32-bit number, the command it stands for).
pub(crate) const COMPAT_COMMANDS: [(u32, u32); 7] = {
    const G: u32 = RUST_GUP_COMPAT_GUP_TEST_SIZE;
    const L: u32 = RUST_GUP_COMPAT_PIN_LONGTERM_TEST_SIZE;
    [
        (with_size(GUP_FAST_BENCHMARK, G), GUP_FAST_BENCHMARK),
        (with_size(PIN_FAST_BENCHMARK, G), PIN_FAST_BENCHMARK),
        (with_size(PIN_LONGTERM_BENCHMARK, G), PIN_LONGTERM_BENCHMARK),
        (with_size(GUP_BASIC_TEST, G), GUP_BASIC_TEST),
        (with_size(PIN_BASIC_TEST, G), PIN_BASIC_TEST),
        (with_size(DUMP_USER_PAGES_TEST, G), DUMP_USER_PAGES_TEST),
        (
            with_size(PIN_LONGTERM_TEST_START, L),
            PIN_LONGTERM_TEST_START,
        ),
    ]
};

/// Reads a `T` of which the caller's layout has the first `reader.len()`
/// bytes; the bytes past them are zero.
///
/// A 32-bit process's layout of some structures is a prefix of the
/// kernel's (see the uapi header). More bytes than a `T` is `EINVAL`.
pub(crate) fn read_prefix<T: FromBytes + AsBytes + Default>(
    reader: &mut UserSliceReader,
) -> Result<T> {
    let len = reader.len();
    if len > size_of::<T>() {
        return Err(EINVAL);
    }
    let mut value = T::default();
    // SAFETY: `value` is a `T` that lives for the borrow, and its bytes are
    // all initialised (`AsBytes`: no implicit padding). Any bytes written
    // through the slice leave a valid `T` (`FromBytes`).
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            core::ptr::from_mut(&mut value).cast::<u8>(),
            size_of::<T>(),
        )
    };
    reader.read_slice(&mut bytes[..len])?;
    Ok(value)
}

/// Writes the first `writer.len()` bytes of `value`: the caller's layout,
/// as for [`read_prefix`]. More bytes than a `T` is `EINVAL`.
pub(crate) fn write_prefix<T: AsBytes>(writer: &mut UserSliceWriter, value: &T) -> Result {
    let len = writer.len();
    if len > size_of::<T>() {
        return Err(EINVAL);
    }
    // SAFETY: `value` lives for the borrow, and every byte of a `T` is
    // initialised (`AsBytes`).
    let bytes = unsafe {
        core::slice::from_raw_parts(core::ptr::from_ref(value).cast::<u8>(), size_of::<T>())
    };
    writer.write_slice(&bytes[..len])
}

// The gup_flags bits the uapi header names are the kernel's FOLL values.
static_assert!(RUST_GUP_FOLL_WRITE == bindings::FOLL_WRITE);
static_assert!(RUST_GUP_FOLL_GET == bindings::FOLL_GET);
static_assert!(RUST_GUP_FOLL_FORCE == bindings::FOLL_FORCE);
static_assert!(RUST_GUP_FOLL_LONGTERM == bindings::FOLL_LONGTERM);
static_assert!(RUST_GUP_FOLL_PCI_P2PDMA == bindings::FOLL_PCI_P2PDMA);
