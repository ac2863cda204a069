// SPDX-License-Identifier: GPL-2.0

//! Address spaces: the calling task's, others held by reference, their
//! mmap lock, and the pages charged to them.
//!
//! C headers: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h),
//! [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h),
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h).
//!
//! On 7.3, [`Mm`] and [`MmWithUser`] are upstream's `kernel::mm` types;
//! the 6.12 `kernel` crate has no `mm` module, and there they are a copy
//! with the same names and signatures (`v6_12`):
//!
//! - [`Mm`]: a `struct mm_struct` kept allocated by an `mmgrab()`
//!   reference (`ARef<Mm>`), whose address space may be gone.
//! - [`MmWithUser`]: one whose address space is kept by an `mmget()`
//!   reference (`ARef<MmWithUser>`), and `Mm::mmget_not_zero`, returning
//!   `Option<ARef<MmWithUser>>`.
//!
//! The rest is the layer's own, on both kernels:
//!
//! - [`MmExt`]: what the layer reads of an `Mm` beyond upstream's type.
//! - [`MmapReadGuard`] is named after upstream's guard, and differs: it
//!   names, as a type parameter, whose lock it holds ([`CurrentMm`]'s or another
//!   [`MmWithUser`]'s), because GUP's locked and remote entry points need
//!   the lock of different address spaces. Upstream's guard has no
//!   parameter, and is taken with `mmap_read_lock()`, which cannot be
//!   interrupted; here it is taken with `mmap_read_lock_killable()`.
//! - [`CurrentMm`] has no upstream counterpart: it is `current->mm` for the
//!   duration of a system call, which GUP's fast and unlocked entry points
//!   use implicitly. It is an [`MmWithUser`] (the running task is a user).
//! - [`PinnedVmCharge`] has none either: it is the `pinned_vm` accounting
//!   of RDMA memory registration.
//! - [`MmOwner`] and [`OwnerMm`] have none: they are the owner of an
//!   address space as a long-term remote pinner records it (VFIO's
//!   `vfio_dma`), and that address space taken for one operation.

use super::{aref::ARef, bindings, task::Syscall};
use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::{addr_of_mut, NonNull},
};
use kernel::{ffi::c_int, page::PAGE_SHIFT, prelude::*, task::Task};

#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) use kernel::mm::{Mm, MmWithUser};
#[cfg(rust_gup_kernel_6_12)]
pub(crate) use v6_12::{Mm, MmWithUser};

/// 6.12's copy of upstream's `Mm` and `MmWithUser` (7.3 has them in
/// `kernel::mm`): the part rust_gup uses, with the same names and
/// signatures.
#[cfg(rust_gup_kernel_6_12)]
mod v6_12 {
    use super::super::aref::{ARef, AlwaysRefCounted};
    use super::bindings;
    use core::{ops::Deref, ptr::NonNull};
    use kernel::{prelude::*, types::Opaque};

    /// A `struct mm_struct`, which stays allocated while it is referenced
    /// (`mmgrab()`); its address space may be gone (`mm_users` zero).
    ///
    /// # Invariants
    ///
    /// Values of this type are always referenced with `mmgrab()`.
    #[repr(transparent)]
    pub(crate) struct Mm {
        mm: Opaque<bindings::mm_struct>,
    }

    // SAFETY: `mmgrab()` references may be dropped from any task.
    unsafe impl Send for Mm {}
    // SAFETY: the functions that shared references reach are safe to call from
    // several tasks at once.
    unsafe impl Sync for Mm {}

    // SAFETY: `mmgrab()` and `mmdrop()` keep the structure allocated while any
    // reference exists.
    unsafe impl AlwaysRefCounted for Mm {
        fn inc_ref(&self) {
            // SAFETY: the structure is allocated while `self` exists.
            unsafe { bindings::rust_gup_mmgrab(self.as_raw()) };
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: the caller gives up a reference it holds.
            unsafe { bindings::rust_gup_mmdrop(obj.cast().as_ptr()) };
        }
    }

    impl Mm {
        /// # Safety
        ///
        /// `ptr` points to a `struct mm_struct` that stays allocated for `'a`.
        pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a Mm {
            // SAFETY: `Mm` is a transparent wrapper of the structure, which is
            // allocated for `'a` by the function's safety requirement.
            unsafe { &*ptr.cast() }
        }

        pub(crate) fn as_raw(&self) -> *mut bindings::mm_struct {
            self.mm.get()
        }

        /// A reference of our own on the address space (`mmget_not_zero()`);
        /// `None` when its last user is gone (its tasks exited).
        pub(crate) fn mmget_not_zero(&self) -> Option<ARef<MmWithUser>> {
            // SAFETY: the structure is allocated while `self` exists;
            // `mmget_not_zero()` takes a user reference only if one still
            // exists.
            if !unsafe { bindings::rust_gup_mmget_not_zero(self.as_raw()) } {
                return None;
            }
            // SAFETY: the reference taken above is handed to the `ARef`.
            Some(unsafe { ARef::from_raw(NonNull::from(self).cast()) })
        }
    }

    /// A `struct mm_struct` whose address space exists while it is referenced
    /// (`mmget()`).
    ///
    /// # Invariants
    ///
    /// Values of this type are always referenced with `mmget()`, or are the
    /// address space of a task that is running (see [`CurrentMm`]).
    #[repr(transparent)]
    pub(crate) struct MmWithUser {
        mm: Mm,
    }

    // SAFETY: `mmput()` may be called from any task that may sleep, which is
    // where references are dropped.
    unsafe impl Send for MmWithUser {}
    // SAFETY: as for `Mm`.
    unsafe impl Sync for MmWithUser {}

    // SAFETY: `mmget()` and `mmput()` keep the address space while any
    // reference exists.
    unsafe impl AlwaysRefCounted for MmWithUser {
        fn inc_ref(&self) {
            // SAFETY: the address space has a user while `self` exists.
            unsafe { bindings::rust_gup_mmget(self.as_raw()) };
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: the caller gives up a reference it holds.
            unsafe { bindings::mmput(obj.cast().as_ptr()) };
        }
    }

    impl Deref for MmWithUser {
        type Target = Mm;

        fn deref(&self) -> &Mm {
            &self.mm
        }
    }
}

/// What the layer reads of an address space beyond upstream's `Mm`.
pub(crate) trait MmExt {
    /// The top of the user address space (`mm->task_size`): what the
    /// owner's `TASK_SIZE` was when it set the address space up.
    fn task_size(&self) -> u64;
}

impl MmExt for Mm {
    fn task_size(&self) -> u64 {
        // SAFETY: the structure is allocated while `self` exists, and the
        // field is set at exec and not changed after.
        unsafe { (*self.as_raw()).__bindgen_anon_1.task_size as u64 }
    }
}

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
/// whose address space cannot change under a running system call, and which
/// is one of its users.
pub(crate) struct CurrentMm {
    mm: NonNull<MmWithUser>,
    _not_send: PhantomData<*mut ()>,
}

impl CurrentMm {
    /// The calling task's address space; `EFAULT` in a kernel thread.
    pub(crate) fn get(_cx: &Syscall) -> Result<Self> {
        // SAFETY: reading `current->mm` is always allowed for the current
        // task.
        let mm = unsafe { bindings::rust_gup_current_mm() };
        // INVARIANT: `mm` is the current task's, checked non-null.
        Ok(CurrentMm {
            mm: NonNull::new(mm.cast()).ok_or(EFAULT)?,
            _not_send: PhantomData,
        })
    }
}

impl Deref for CurrentMm {
    type Target = MmWithUser;

    fn deref(&self) -> &MmWithUser {
        // SAFETY: the running task is a user of its address space, for as
        // long as this value (which stays with the task) exists.
        unsafe { self.mm.as_ref() }
    }
}

mod private {
    pub(crate) trait Sealed {}
}

/// An address space whose mmap lock can be taken: [`CurrentMm`] or another
/// [`MmWithUser`]. The guard's type says which, because the locked and the
/// remote GUP entry points need the lock of different address spaces.
pub(crate) trait AddressSpace: private::Sealed + Sized {
    /// The address space.
    fn mm(&self) -> &MmWithUser;

    /// Takes the mmap lock for reading; `EINTR` if a fatal signal arrives
    /// while waiting.
    fn mmap_read_lock_killable(&self) -> Result<MmapReadGuard<'_, Self>> {
        // SAFETY: the address space exists while `self` lives.
        match unsafe { bindings::rust_gup_mmap_read_lock_killable(self.mm().as_raw()) } {
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
impl private::Sealed for MmWithUser {}
impl private::Sealed for OwnerMm {}

impl AddressSpace for CurrentMm {
    fn mm(&self) -> &MmWithUser {
        self
    }
}

impl AddressSpace for MmWithUser {
    fn mm(&self) -> &MmWithUser {
        self
    }
}

impl AddressSpace for OwnerMm {
    fn mm(&self) -> &MmWithUser {
        &self.mm
    }
}

/// Who owns an address space that others may pin, as long-term remote
/// pinners record it when the mapping is made (VFIO's `vfio_dma`: `mm`,
/// `task` and `lock_cap`): the address space, kept allocated by a grab
/// (not its pages, nor its users); the thread-group leader, whose
/// `RLIMIT_MEMLOCK` bounds the pages charged to it; and whether it could
/// lock memory (`CAP_IPC_LOCK`) at that point.
#[derive(Clone)]
pub(crate) struct MmOwner {
    mm: ARef<Mm>,
    leader: ARef<Task>,
    ipc_lock: bool,
}

impl MmOwner {
    /// The calling task, owner of `mm` (its own address space).
    pub(crate) fn of_current(mm: &CurrentMm) -> Self {
        // Not `Task::current().group_leader()`: the 6.12 kernel crate's
        // layout of `task_struct` is wrong past `stats` (see the helper).
        // SAFETY: the running task's group leader is a valid task while the
        // task runs, long enough to take a reference of our own; `Task` is
        // a transparent wrapper of `struct task_struct`.
        let leader = unsafe { &*bindings::rust_gup_current_group_leader().cast::<Task>() };
        let leader = ARef::from(leader);
        MmOwner {
            mm: ARef::from(&***mm),
            leader,
            // Recorded, not decided on: read from the credentials, not
            // asked with `capable()`, which audits and marks the task.
            // SAFETY: reads the calling task's own credentials.
            ipc_lock: unsafe { bindings::rust_gup_current_ipc_lock() },
        }
    }

    /// The owner's address space for one operation, referenced
    /// (`mmget_not_zero()`); `ESRCH` once its tasks have exited.
    pub(crate) fn mmget(&self) -> Result<OwnerMm> {
        Ok(OwnerMm {
            mm: self.mm.mmget_not_zero().ok_or(ESRCH)?,
            owner: self.clone(),
        })
    }

    /// Charges `pages` to the owner's address space, against the owner's
    /// `RLIMIT_MEMLOCK` unless it had `CAP_IPC_LOCK` when it was recorded;
    /// `ENOMEM` past it, with nothing charged. Whoever calls, the charge is
    /// the owner's, and it can be given back after the owner has exited.
    pub(crate) fn charge(&self, pages: usize) -> Result<PinnedVmCharge> {
        let leader = core::ptr::from_ref::<Task>(&self.leader).cast::<bindings::task_struct>();
        // SAFETY: `Task` is a transparent wrapper of `struct task_struct`,
        // and the leader is referenced; `task_rlimit` reads its signal
        // structure, which a referenced task keeps (it is freed with the
        // task).
        let limit = unsafe { bindings::rust_gup_task_rlimit(leader, bindings::RLIMIT_MEMLOCK) };
        PinnedVmCharge::charge_to(&self.mm, pages, limit, || self.ipc_lock)
    }
}

/// The address space of an [`MmOwner`], referenced for one operation: the
/// only address space the remote GUP entry points take, so the caller's own
/// cannot be passed for the owner's (or the owner's to the entry points
/// that work on the caller's). It is `Send`: a kernel worker may take the
/// pages (see [`Workers::run`]).
///
/// [`Workers::run`]: super::worker::Workers::run
pub(crate) struct OwnerMm {
    mm: ARef<MmWithUser>,
    owner: MmOwner,
}

impl OwnerMm {
    /// The address space of the process whose pid, in the caller's pid
    /// namespace, is `nr`, with that process as its owner (its CAP_IPC_LOCK
    /// as it is now). A thread's id does not name its process: only the
    /// thread-group leader's does, as for `pidfd_open()`.
    ///
    /// `EPERM` unless the caller has `CAP_SYS_PTRACE`, the only check: the
    /// kernel exports no ptrace access check (`ptrace_may_access()`,
    /// `mm_access()`, the LSM's hook) to modules, so that of
    /// `process_vm_readv()` cannot be made. It is stricter on users (the
    /// capability is always needed) and looser on the LSM (never asked).
    /// `ESRCH` when no such process exists, or it has no
    /// user address space (a kernel thread, or one that has exited), as
    /// `process_vm_readv()` answers then.
    pub(crate) fn of_pid(_cx: &Syscall, nr: i32) -> Result<Self> {
        // Before any lookup: an unprivileged caller learns nothing of which
        // pids exist.
        // SAFETY: `capable` may be called from any task context.
        if !unsafe { bindings::capable(bindings::CAP_SYS_PTRACE as c_int) } {
            return Err(EPERM);
        }
        if nr <= 0 {
            return Err(ESRCH);
        }
        // SAFETY: `find_get_pid` looks `nr` up in the calling task's pid
        // namespace (`_cx`: the caller is running) and returns a reference
        // of our own, or null.
        let pid = unsafe { bindings::find_get_pid(nr) };
        if pid.is_null() {
            return Err(ESRCH);
        }
        // SAFETY: `pid` is referenced; `get_pid_task` returns a reference of
        // our own on the thread-group leader of that id, or null.
        let task = unsafe { bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_TGID) };
        // SAFETY: gives back the reference `find_get_pid` took.
        unsafe { bindings::put_pid(pid) };
        let task = NonNull::new(task).ok_or(ESRCH)?;
        // SAFETY: the reference taken above is handed to the `ARef`; `Task`
        // is a transparent wrapper of `struct task_struct`.
        let leader: ARef<Task> = unsafe { ARef::from_raw(task.cast()) };
        // SAFETY: the task is referenced; `get_task_mm` returns its address
        // space with a user reference of our own, or null for a kernel
        // thread and a task that has exited.
        let mm = unsafe { bindings::get_task_mm(task.as_ptr()) };
        let mm = NonNull::new(mm).ok_or(ESRCH)?;
        // SAFETY: the reference taken above is handed to the `ARef`;
        // `MmWithUser` is a transparent wrapper of `struct mm_struct`.
        let mm: ARef<MmWithUser> = unsafe { ARef::from_raw(mm.cast()) };
        let owner = MmOwner {
            mm: ARef::from(&**mm),
            // SAFETY: the task is referenced; its credentials are read
            // with a reference of their own.
            ipc_lock: unsafe { bindings::rust_gup_task_ipc_lock(task.as_ptr()) },
            leader,
        };
        Ok(OwnerMm { mm, owner })
    }

    /// Charges `pages` to this address space, against its owner's limit;
    /// see [`MmOwner::charge`].
    pub(crate) fn charge(&self, pages: usize) -> Result<PinnedVmCharge> {
        self.owner.charge(pages)
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
    /// The address space whose lock is held.
    pub(crate) fn mm(&self) -> &MmWithUser {
        self.mm.mm()
    }
}

impl<M: AddressSpace> Drop for MmapReadGuard<'_, M> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this guard holds the read lock.
        unsafe { bindings::rust_gup_mmap_read_unlock(self.mm.mm().as_raw()) };
    }
}

/// Pages charged to an address space's `pinned_vm`, the way RDMA memory
/// registration (`ib_umem_get()`) accounts long-term pins: checked against
/// `RLIMIT_MEMLOCK` unless the caller has `CAP_IPC_LOCK`. Dropping it gives
/// the charge back, even after the address space's tasks have exited: the
/// structure is referenced.
///
/// # Invariants
///
/// `pages` pages are charged to `mm`'s `pinned_vm` by this value.
pub(crate) struct PinnedVmCharge {
    mm: ARef<Mm>,
    pages: usize,
}

impl PinnedVmCharge {
    /// The `pinned_vm` counter of `mm`.
    fn pinned_vm(mm: &Mm) -> *mut bindings::atomic64_t {
        // SAFETY: `mm` is allocated while referenced; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*mm.as_raw()).__bindgen_anon_1.pinned_vm) }
    }

    /// The pages charged.
    pub(crate) fn pages(&self) -> usize {
        self.pages
    }

    /// Charges `pages` to the calling task's address space; `ENOMEM` past
    /// its `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`, with nothing charged.
    pub(crate) fn charge(mm: &CurrentMm, pages: usize) -> Result<Self> {
        // SAFETY: `task_rlimit` reads the limits of the running task, which
        // is valid while it runs.
        let current = unsafe { bindings::get_current() };
        // SAFETY: as above.
        let limit = unsafe { bindings::rust_gup_task_rlimit(current, bindings::RLIMIT_MEMLOCK) };
        // Asked only past the limit, as `capable()` records its use.
        // SAFETY: `capable` may be called from any task context.
        let exempt = || unsafe { bindings::capable(bindings::CAP_IPC_LOCK as c_int) };
        Self::charge_to(mm, pages, limit, exempt)
    }

    /// Charges `pages` to `mm`; `ENOMEM`, with nothing charged, when that
    /// takes it past `limit` bytes and `exempt()` says no.
    fn charge_to(
        mm: &Mm,
        pages: usize,
        limit: usize,
        exempt: impl FnOnce() -> bool,
    ) -> Result<Self> {
        let delta = i64::try_from(pages).map_err(|_| ENOMEM)?;
        let pinned_vm = Self::pinned_vm(mm);
        // SAFETY: the counter is an atomic of a referenced structure, only
        // changed atomically.
        let pinned = unsafe { bindings::rust_gup_atomic64_add_return(delta, pinned_vm) };
        if pinned as u64 > (limit >> PAGE_SHIFT) as u64 && !exempt() {
            // SAFETY: gives back what was added above.
            unsafe { bindings::rust_gup_atomic64_sub(delta, pinned_vm) };
            return Err(ENOMEM);
        }
        // INVARIANT: charged above, to the structure now referenced.
        Ok(PinnedVmCharge {
            mm: ARef::from(mm),
            pages,
        })
    }
}

impl Drop for PinnedVmCharge {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the pages are charged to `mm`, which
        // is referenced until after this (the field drops later).
        unsafe { bindings::rust_gup_atomic64_sub(self.pages as i64, Self::pinned_vm(&self.mm)) };
    }
}

/// Whether the task of system call `_cx` may keep long-term pins that no
/// [`PinnedVmCharge`] accounts for: `CAP_IPC_LOCK`, which lifts
/// `RLIMIT_MEMLOCK` anyway, as io_uring charges registered buffers only to
/// users without it. Asked with `capable()` (audited): it decides.
pub(crate) fn may_pin_uncharged(_cx: &Syscall) -> bool {
    // SAFETY: `capable` may be called from any task context.
    unsafe { bindings::capable(bindings::CAP_IPC_LOCK as c_int) }
}

/// The top of the user address space of the calling task (`TASK_SIZE`).
pub(crate) fn task_size(_cx: &Syscall) -> u64 {
    // SAFETY: `TASK_SIZE` only reads the current task's personality.
    unsafe { bindings::rust_gup_task_size() as u64 }
}
