// SPDX-License-Identifier: GPL-2.0

//! Running a job in a kernel worker, away from the task that asks for it,
//! as a driver pins memory on behalf of a process from a context of its
//! own (VFIO's `vfio_pin_pages()`, called by mediated-device drivers).
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h).
//!
//! The 6.12 kernel crate has work items, `Queue::try_spawn()` and the
//! system workqueues, but neither a workqueue of one's own nor a
//! completion; 7.3's `kernel::sync::Completion` has no interruptible wait,
//! which this needs. A job may outlive the
//! wait for it (the waiter may be interrupted), and its code is the
//! module's: it runs on the module's own workqueue, which the module's
//! unload destroys, and `destroy_workqueue()` waits for every job queued
//! on it. On a system workqueue the job could still be running after the
//! module's text is gone. The result comes back through a mutex and a
//! condition variable.

use super::{bindings, LockData};
use core::ptr::NonNull;
use kernel::{
    c_str, new_condvar, new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, CondVar, Mutex},
    workqueue::Queue,
};

/// A workqueue of the module's own: unbound (a job may sleep for long, on
/// page faults and page migration), destroyed on drop after the jobs
/// queued on it have finished.
///
/// # Invariants
///
/// `queue` was made by `alloc_workqueue()` and is destroyed only by drop.
pub(crate) struct Workers {
    queue: NonNull<bindings::workqueue_struct>,
}

// SAFETY: a workqueue may be used and destroyed from any task.
unsafe impl Send for Workers {}
// SAFETY: queueing work is safe from several tasks at once.
unsafe impl Sync for Workers {}

/// Where a job's result waits for the task that asked for it.
#[pin_data]
struct Outcome<T> {
    #[pin]
    result: Mutex<Option<T>>,
    #[pin]
    done: CondVar,
}

impl Workers {
    /// A new workqueue, named `name` (as `/sys/bus/workqueue` and the
    /// kworkers' names show it); `ENOMEM` if it cannot be made.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string, which
        // `alloc_workqueue` copies.
        let queue = unsafe { bindings::rust_gup_alloc_workqueue(name.as_char_ptr()) };
        // INVARIANT: made above; checked non-null.
        Ok(Workers {
            queue: NonNull::new(queue).ok_or(ENOMEM)?,
        })
    }

    /// Runs `job` in a kernel worker and waits for its result.
    ///
    /// `job` is `Send + 'static`: it can neither borrow from the caller nor
    /// carry a [`Syscall`], so nothing it does can depend on the calling
    /// task. In the worker, `current` is a kworker, with no user address
    /// space.
    ///
    /// `EINTR` when a signal arrives while waiting. The job still runs to
    /// its end, and its result is then dropped where the last reference to
    /// it goes (in the worker, or here), releasing whatever it holds.
    ///
    /// [`Syscall`]: super::task::Syscall
    pub(crate) fn run<T: Send + LockData + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let outcome = Arc::pin_init(
            pin_init!(Outcome {
                result <- new_mutex!(None),
                done <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        let theirs = outcome.clone();
        // SAFETY: by the type invariant the workqueue exists until `self`
        // is dropped, which outlives this borrow.
        let queue = unsafe { Queue::from_raw(self.queue.as_ptr()) };
        queue.try_spawn(GFP_KERNEL, move || {
            let value = job();
            *theirs.result.lock() = Some(value);
            theirs.done.notify_all();
        })?;
        let mut result = outcome.result.lock();
        loop {
            if let Some(value) = result.take() {
                return Ok(value);
            }
            if outcome.done.wait_interruptible(&mut result) && result.is_none() {
                return Err(EINTR);
            }
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the workqueue exists and is
        // destroyed once, here; `destroy_workqueue` first waits for the
        // jobs queued on it, which therefore cannot outlive the module.
        unsafe { bindings::destroy_workqueue(self.queue.as_ptr()) };
    }
}
