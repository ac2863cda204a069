// SPDX-License-Identifier: GPL-2.0

//! The monotonic clock, for timing GUP calls.
//!
//! C header: [`include/linux/timekeeping.h`](srctree/include/linux/timekeeping.h)
//!
//! 6.12's `kernel::time` has `Ktime`; 7.3's has `Instant<Monotonic>` and
//! `Delta` instead. [`Instant`] is the one name the project times with on
//! both: `ktime_get()` underneath.

#[cfg(rust_gup_kernel_6_12)]
type Raw = kernel::time::Ktime;
#[cfg(not(rust_gup_kernel_6_12))]
type Raw = kernel::time::Instant<kernel::time::Monotonic>;

/// A point in time on the monotonic clock (`ktime_get()`).
#[derive(Copy, Clone)]
pub(crate) struct Instant(Raw);

impl Instant {
    /// The current time.
    pub(crate) fn now() -> Self {
        #[cfg(rust_gup_kernel_6_12)]
        return Self(Raw::ktime_get());
        #[cfg(not(rust_gup_kernel_6_12))]
        return Self(Raw::now());
    }

    /// Nanoseconds from `self` to now (zero if the clock has not moved).
    pub(crate) fn elapsed_ns(self) -> u64 {
        #[cfg(rust_gup_kernel_6_12)]
        let ns = (Raw::ktime_get() - self.0).to_ns();
        #[cfg(not(rust_gup_kernel_6_12))]
        let ns = self.0.elapsed().as_nanos();
        ns.max(0) as u64
    }

    /// Milliseconds from `self` to now.
    pub(crate) fn elapsed_ms(self) -> u64 {
        self.elapsed_ns() / 1_000_000
    }
}
