// SPDX-License-Identifier: GPL-2.0

//! The calling task, between the long steps of a system call.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h).
//!
//! The 6.12 `kernel::task::Task` has `signal_pending()` but neither of
//! these.

use super::bindings;

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
