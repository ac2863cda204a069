// SPDX-License-Identifier: GPL-2.0

//! The calling task: the system call it is making, and what it does
//! between the long steps of one.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h).
//!
//! The 6.12 `kernel::task::Task` has `signal_pending()` but neither
//! `cond_resched()` nor `fatal_signal_pending()`.

use super::bindings;
use core::marker::PhantomData;

/// A system call that a user task is making: code given one runs in that
/// task, on its behalf, so `current` is the caller.
///
/// What depends on the caller takes one: its address space
/// ([`CurrentMm::get`]), its `TASK_SIZE` ([`UserPageRange::new`]), its
/// capabilities ([`may_map_for_dma`], [`OwnerMm::of_pid`]) and its pid
/// namespace. Only the layer's file operations make one (see
/// [`MiscDevice`]). It is neither `Send` nor `Sync`, so neither it nor a
/// reference to it can reach a kernel worker ([`Workers::run`]): code
/// that runs there cannot even express a path that needs the caller.
///
/// [`CurrentMm::get`]: super::mm::CurrentMm::get
/// [`UserPageRange::new`]: super::gup::UserPageRange::new
/// [`may_map_for_dma`]: super::dma::may_map_for_dma
/// [`OwnerMm::of_pid`]: super::mm::OwnerMm::of_pid
/// [`MiscDevice`]: super::miscdevice::MiscDevice
/// [`Workers::run`]: super::worker::Workers::run
pub(crate) struct Syscall {
    _not_send: PhantomData<*mut ()>,
}

impl Syscall {
    /// The system call the running code is part of: for the layer's file
    /// operations only, which the VFS calls in the task that makes it.
    pub(in crate::kernel_ext) fn enter() -> Self {
        Syscall {
            _not_send: PhantomData,
        }
    }
}

/// Lets other tasks run if it is time to (`cond_resched()`): the test
/// kernel is not preemptible, and a loop over a large range would hold the
/// CPU.
pub(crate) fn cond_resched() {
    // SAFETY: code of this layer runs in process context, where
    // `cond_resched` may be called.
    unsafe { bindings::rust_gup_cond_resched() };
}

/// Whether the calling task was killed (`fatal_signal_pending(current)`).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: `current` is always a valid task for the running code.
    unsafe { bindings::rust_gup_fatal_signal_pending(bindings::get_current()) }
}
