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
}

/// An address space held with a reference of its own (`mmget`), as the
/// `*_remote` GUP entry points use it: it stays usable even if the task
/// that owned it exits. Dropping it puts the reference (`mmput`).
///
/// # Invariants
///
/// `mm` is a live address space on which this value holds one `mm_users`
/// reference.
pub(crate) struct RemoteMm {
    mm: NonNull<bindings::mm_struct>,
}

// SAFETY: an `mm_users` reference may be dropped from any task.
unsafe impl Send for RemoteMm {}
// SAFETY: shared references only lock the mmap lock, which is safe from
// any task.
unsafe impl Sync for RemoteMm {}

impl RemoteMm {
    /// The calling task's own address space, through a reference of its own
    /// (`get_task_mm(current)`); `EFAULT` in a kernel thread.
    pub(crate) fn of_current() -> Result<Self> {
        // SAFETY: `get_task_mm` may be called on the current task; it
        // returns a referenced address space or null.
        let mm = unsafe { bindings::rust_gup_get_current_mm() };
        // INVARIANT: the reference taken above is ours.
        Ok(RemoteMm {
            mm: NonNull::new(mm).ok_or(EFAULT)?,
        })
    }
}

impl RemoteMm {
    /// A reference of our own on `mm` (`mmget_not_zero`); `EFAULT` when
    /// its last user is gone (the task exited).
    ///
    /// # Safety
    ///
    /// `mm` must point to a `struct mm_struct` that stays allocated for the
    /// duration of the call (e.g. one the caller has grabbed).
    pub(crate) unsafe fn get_not_zero(mm: *mut bindings::mm_struct) -> Result<Self> {
        let mm = NonNull::new(mm).ok_or(EFAULT)?;
        // SAFETY: `mm` is allocated, by the function's safety requirement;
        // `mmget_not_zero` takes a user reference only if one still exists.
        if !unsafe { bindings::rust_gup_mmget_not_zero(mm.as_ptr()) } {
            return Err(EFAULT);
        }
        // INVARIANT: the reference taken above is ours.
        Ok(RemoteMm { mm })
    }
}

impl Drop for RemoteMm {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds one reference.
        unsafe { bindings::mmput(self.mm.as_ptr()) };
    }
}

mod private {
    pub(crate) trait Sealed {}
}

/// An address space whose mmap lock can be taken: [`CurrentMm`] or
/// [`RemoteMm`]. The guard's type says which, because the locked and the
/// remote GUP entry points need the lock of different address spaces.
pub(crate) trait AddressSpace: private::Sealed + Sized {
    /// The `struct mm_struct`; valid while `self` lives.
    fn as_ptr(&self) -> *mut bindings::mm_struct;

    /// Takes the mmap lock for reading; `EINTR` if a fatal signal arrives
    /// while waiting.
    fn read_lock_killable(&self) -> Result<MmapReadGuard<'_, Self>> {
        // SAFETY: `as_ptr` is a live address space while `self` lives.
        match unsafe { bindings::rust_gup_mmap_read_lock_killable(self.as_ptr()) } {
            // INVARIANT: the lock is held, by the guard made here.
            0 => Ok(MmapReadGuard {
                mm: self,
                _not_send: PhantomData,
            }),
            _ => Err(EINTR),
        }
    }
}

impl private::Sealed for CurrentMm {}
impl private::Sealed for RemoteMm {}

impl AddressSpace for CurrentMm {
    fn as_ptr(&self) -> *mut bindings::mm_struct {
        self.mm.as_ptr()
    }
}

impl AddressSpace for RemoteMm {
    fn as_ptr(&self) -> *mut bindings::mm_struct {
        self.mm.as_ptr()
    }
}

/// The mmap lock of the address space `M`, held for reading.
///
/// GUP's locked and remote entry points take a guard as proof that the
/// lock they require is held. Dropping it unlocks.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for reading, by this guard. The guard is
/// neither `Send` nor `Sync`: the task that took the lock releases it.
pub(crate) struct MmapReadGuard<'a, M: AddressSpace> {
    mm: &'a M,
    _not_send: PhantomData<*mut ()>,
}

impl<M: AddressSpace> MmapReadGuard<'_, M> {
    pub(crate) fn mm(&self) -> &M {
        self.mm
    }
}

impl<M: AddressSpace> Drop for MmapReadGuard<'_, M> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this guard holds the read lock.
        unsafe { bindings::rust_gup_mmap_read_unlock(self.mm.as_ptr()) };
    }
}

/// Pages charged to an address space's `pinned_vm`, the way RDMA memory
/// registration (`ib_umem_get()`) accounts long-term pins: checked against
/// `RLIMIT_MEMLOCK` unless the caller has `CAP_IPC_LOCK`. Dropping it gives
/// the charge back.
///
/// # Invariants
///
/// `pages` pages are charged to `mm->pinned_vm`, and `mm` is grabbed
/// (`mmgrab`), by this value.
pub(crate) struct PinnedVmCharge {
    mm: NonNull<bindings::mm_struct>,
    pages: usize,
}

// SAFETY: the charge and the grab may be given back from any task.
unsafe impl Send for PinnedVmCharge {}
// SAFETY: a shared reference gives no access to anything.
unsafe impl Sync for PinnedVmCharge {}

impl PinnedVmCharge {
    /// Charges `pages` to the calling task's address space; `ENOMEM` past
    /// its `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`, with nothing charged.
    pub(crate) fn charge(mm: &CurrentMm, pages: usize) -> Result<Self> {
        // SAFETY: `mm` is a live address space (the calling task's).
        let ret = unsafe { bindings::rust_gup_pinned_vm_charge(mm.as_ptr(), pages as _) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: the helper charged the pages and grabbed the mm.
        Ok(PinnedVmCharge { mm: mm.mm, pages })
    }
}

impl Drop for PinnedVmCharge {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds the charge and the
        // grab that the helper gives back.
        unsafe { bindings::rust_gup_pinned_vm_uncharge(self.mm.as_ptr(), self.pages as _) };
    }
}

/// The top of the user address space of the calling task (`TASK_SIZE`).
pub(crate) fn task_size() -> u64 {
    // SAFETY: `TASK_SIZE` only reads the current task's personality.
    unsafe { bindings::rust_gup_task_size() as u64 }
}
