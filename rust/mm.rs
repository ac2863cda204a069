// SPDX-License-Identifier: GPL-2.0

//! The calling task's address space, and its mmap lock.
//!
//! C header: [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h)

use super::bindings;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::prelude::*;

/// The address space of the task that is running this code, for the
/// duration of a system call.
///
/// GUP's `*_fast` and `*_unlocked` entry points work on `current->mm`
/// implicitly; they take a `&CurrentMm` as proof that there is one (a
/// kernel thread has none).
///
/// # Invariants
///
/// `mm` is `current->mm` of the task that made this value, and is not
/// null. The type is neither `Send` nor `Sync`, so it stays with that task,
/// whose address space cannot change under a running system call.
pub(crate) struct CurrentMm {
    mm: NonNull<bindings::mm_struct>,
    _not_send: PhantomData<*mut ()>,
}

impl CurrentMm {
    /// The calling task's address space; `EFAULT` in a kernel thread.
    pub(crate) fn get() -> Result<Self> {
        // SAFETY: reading `current->mm` is always allowed for the current
        // task.
        let mm = unsafe { bindings::rust_gup_current_mm() };
        // INVARIANT: `mm` is the current task's, checked non-null.
        Ok(CurrentMm {
            mm: NonNull::new(mm).ok_or(EFAULT)?,
            _not_send: PhantomData,
        })
    }

    /// Takes the mmap lock for reading; `EINTR` if a fatal signal arrives
    /// while waiting.
    pub(crate) fn read_lock_killable(&self) -> Result<MmapReadGuard<'_>> {
        // SAFETY: by the type invariant `mm` is a live address space.
        match unsafe { bindings::rust_gup_mmap_read_lock_killable(self.mm.as_ptr()) } {
            0 => Ok(MmapReadGuard { mm: self }),
            _ => Err(EINTR),
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::mm_struct {
        self.mm.as_ptr()
    }
}

/// The mmap lock of the calling task's address space, held for reading.
///
/// GUP's locked entry points require it; they take a `&MmapReadGuard` as
/// proof. Dropping it unlocks.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for reading, by this guard.
pub(crate) struct MmapReadGuard<'a> {
    mm: &'a CurrentMm,
}

impl MmapReadGuard<'_> {
    pub(crate) fn mm(&self) -> &CurrentMm {
        self.mm
    }
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this guard holds the read lock.
        unsafe { bindings::rust_gup_mmap_read_unlock(self.mm.as_ptr()) };
    }
}

/// The top of the user address space of the calling task (`TASK_SIZE`).
pub(crate) fn task_size() -> u64 {
    // SAFETY: `TASK_SIZE` only reads the current task's personality.
    unsafe { bindings::rust_gup_task_size() as u64 }
}
