// SPDX-License-Identifier: GPL-2.0

//! Misc devices.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)
//!
//! A [`MiscDevice`] trait whose implementor is the per-open state, and a
//! [`MiscDeviceRegistration`] that registers it, as upstream's
//! `kernel::miscdevice` has them, with two additions: a registration
//! carries data of the driver's ([`MiscDevice::RegistrationData`]), which
//! `open` reaches through the registration it is given, and every
//! operation made on behalf of a task gets its [`Syscall`]. `compat_ioctl`
//! is as upstream has it, with [`compat_ptr`] for the argument. The node
//! gets the default mode, 0600 (root only).
//!
//! On 7.3 the registration is upstream's, wrapped with the data, and the
//! file operations are upstream's, which call this trait's through an
//! adapter. The 6.12 `kernel` crate has no misc device support: there the
//! registration and the file operations are the project's own copy
//! (`v6_12`), which like upstream's names the owning module, so a module
//! cannot be unloaded while one of its device files is open.

use super::{bindings, file::File, task::Syscall};
use kernel::{error::VTABLE_DEFAULT_ERROR, prelude::*, types::ForeignOwnable};

#[cfg(rust_gup_kernel_6_12)]
pub(crate) use v6_12::MiscDeviceRegistration;
#[cfg(not(rust_gup_kernel_6_12))]
pub(crate) use v7_3::MiscDeviceRegistration;

/// What a misc device is registered as.
#[derive(Copy, Clone)]
pub(crate) struct MiscDeviceOptions {
    /// The name of the device node under `/dev`.
    pub(crate) name: &'static CStr,
}

/// The per-open state of a misc device, and its file operations.
///
/// `open` makes the state, which the file owns until `release`. The other
/// operations borrow it. Errors become errnos at the C boundary, and only
/// there.
#[vtable]
pub(crate) trait MiscDevice: Sized {
    /// The pointer type that owns the per-open state.
    type Ptr: ForeignOwnable + Send + Sync;

    /// What the registration carries for `open`, for as long as the
    /// device is registered; `()` for nothing.
    type RegistrationData: Sync;

    /// Called when the device is opened; the result is the file's state.
    /// `cx` is the opener's system call, as for every operation made on
    /// behalf of a task.
    fn open(file: &File, misc: &MiscDeviceRegistration<Self>, cx: &Syscall) -> Result<Self::Ptr>;

    /// Called when the last reference to the file goes away.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Handles an ioctl. `cmd` is the full command number (see
    /// [`kernel::ioctl`]); `arg` is usually a user pointer.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
        _cx: &Syscall,
    ) -> Result<isize> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl of a 32-bit process on a 64-bit kernel.
    ///
    /// Needed only when some command's structure has another layout in a
    /// 32-bit process. Without it, a device with [`MiscDevice::ioctl`]
    /// gets `compat_ptr_ioctl`: the argument is converted with
    /// [`compat_ptr`] and the command goes to `ioctl` unchanged. `arg` is
    /// the caller's 32-bit value, not yet converted.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
        _cx: &Syscall,
    ) -> Result<isize> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The user address a 32-bit process's pointer argument stands for.
#[cfg(CONFIG_COMPAT)]
pub(crate) fn compat_ptr(arg: usize) -> usize {
    // A 32-bit process passes 32 bits; the upper half of `arg` is zero,
    // and `compat_ptr()` may remap the value (it does on s390).
    // SAFETY: `compat_ptr()` only converts an integer.
    unsafe { bindings::rust_gup_compat_ptr(arg as u32) as usize }
}

/// 6.12's misc device registration and file operations.
#[cfg(rust_gup_kernel_6_12)]
mod v6_12 {
    use super::{bindings, File, MiscDevice, MiscDeviceOptions, Syscall};
    use crate::kernel_ext::pin_init_from_closure;
    use core::marker::PhantomData;
    use kernel::{
        container_of,
        error::to_result,
        ffi::{c_int, c_long, c_uint, c_ulong},
        prelude::*,
        types::{ForeignOwnable, Opaque},
    };

    /// A registered misc device.
    ///
    /// Dropping it deregisters the device.
    ///
    /// # Invariants
    ///
    /// `inner` is a `struct miscdevice` registered with `misc_register`, whose
    /// file operations are [`MiscDeviceVTable::<T>`].
    #[pin_data(PinnedDrop)]
    pub(crate) struct MiscDeviceRegistration<T: MiscDevice> {
        #[pin]
        inner: Opaque<bindings::miscdevice>,
        data: T::RegistrationData,
        _t: PhantomData<T>,
    }

    // SAFETY: `misc_deregister` may be called from any thread; the data is
    // `Send`.
    unsafe impl<T: MiscDevice> Send for MiscDeviceRegistration<T> where T::RegistrationData: Send {}

    // SAFETY: a shared reference only gives access to the raw pointer, which the
    // misc core serialises its own use of, and to the data, which is `Sync`.
    unsafe impl<T: MiscDevice> Sync for MiscDeviceRegistration<T> {}

    impl<T: MiscDevice> MiscDeviceRegistration<T> {
        /// Registers a misc device with a dynamic minor number, carrying
        /// `data`.
        pub(crate) fn register(
            opts: MiscDeviceOptions,
            data: T::RegistrationData,
        ) -> impl PinInit<Self, Error> {
            let init = move |slot: *mut Self| {
                // SAFETY: the initializer may write to every field of `slot`;
                // the data is in place before the device is registered, so an
                // `open` finds it.
                unsafe { core::ptr::addr_of_mut!((*slot).data).write(data) };
                // SAFETY: the initializer may write to every field of `slot`.
                let inner = unsafe { core::ptr::addr_of_mut!((*slot).inner) };
                let misc = inner.cast::<bindings::miscdevice>();
                // SAFETY: `misc` is valid for writes, and all zeroes is a valid
                // `struct miscdevice` (all pointers null, no list linkage).
                unsafe { misc.write(core::mem::zeroed()) };
                // SAFETY: `misc` was just initialised above.
                let m = unsafe { &mut *misc };
                m.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                m.name = opts.name.as_char_ptr();
                m.fops = &MiscDeviceVTable::<T>::VTABLE;
                // INVARIANT: on success `inner` is registered with our fops.
                // SAFETY: `misc` is fully set up. The registration is pinned, so
                // the list linkage `misc_register` writes into it stays valid,
                // and the drop handler deregisters before the memory goes away.
                let ret = to_result(unsafe { bindings::misc_register(misc) });
                if ret.is_err() {
                    // SAFETY: written above; nothing else refers to it.
                    unsafe { core::ptr::drop_in_place(core::ptr::addr_of_mut!((*slot).data)) };
                }
                ret
                // `_t` is a zero-sized marker: nothing to initialise.
            };
            // SAFETY: the closure initialises every non-zero-sized field, or
            // returns an error having registered nothing; the slot is not moved.
            unsafe { pin_init_from_closure(init) }
        }
    }

    impl<T: MiscDevice> MiscDeviceRegistration<T> {
        /// The data the device was registered with.
        pub(crate) fn data(&self) -> &T::RegistrationData {
            &self.data
        }
    }

    #[pinned_drop]
    impl<T: MiscDevice> PinnedDrop for MiscDeviceRegistration<T> {
        fn drop(self: Pin<&mut Self>) {
            // SAFETY: by the type invariant the device is registered.
            unsafe { bindings::misc_deregister(self.inner.get()) };
        }
    }

    /// The `struct file_operations` of a misc device whose state is `T`.
    struct MiscDeviceVTable<T: MiscDevice>(PhantomData<T>);

    impl<T: MiscDevice> MiscDeviceVTable<T> {
        /// # Safety
        ///
        /// Only the VFS calls this, through `misc_open`, for a file of a device
        /// registered by [`MiscDeviceRegistration<T>`].
        unsafe extern "C" fn open(_inode: *mut bindings::inode, raw: *mut bindings::file) -> c_int {
            // SAFETY: `misc_open` stored the `struct miscdevice` in the file's
            // private data before calling us, and holds `misc_mtx`, so the
            // device cannot be deregistered during this call.
            let misc = unsafe { (*raw).private_data }.cast::<bindings::miscdevice>();
            // SAFETY: the miscdevice is the `inner` field of a registration of
            // `T` (the only one whose fops are this table), so the containing
            // structure is valid for this call.
            let registration = unsafe { &*container_of!(misc, MiscDeviceRegistration<T>, inner) };
            // SAFETY: the file is valid for the duration of `open`.
            let file = unsafe { File::from_raw(raw) };

            match T::open(file, registration, &Syscall::enter()) {
                Ok(ptr) => {
                    // From here on the private data is the state made by
                    // `T::open`; `release` takes it back.
                    // SAFETY: `open` has exclusive use of the file's fields.
                    unsafe { (*raw).private_data = ptr.into_foreign() as *mut _ };
                    0
                }
                Err(err) => err.to_errno(),
            }
        }

        /// # Safety
        ///
        /// Only the VFS calls this, once, when the last reference to a file
        /// opened through [`Self::open`] goes away.
        unsafe extern "C" fn release(
            _inode: *mut bindings::inode,
            raw: *mut bindings::file,
        ) -> c_int {
            // SAFETY: `open` stored the result of `into_foreign` in the private
            // data. No other file operation can run now, so no borrow remains,
            // and `release` runs once: the state is taken back exactly once.
            let device = unsafe { <T::Ptr as ForeignOwnable>::from_foreign((*raw).private_data) };
            // SAFETY: the file is valid for the duration of `release`.
            T::release(device, unsafe { File::from_raw(raw) });
            0
        }

        /// Runs `f` on the state of `raw` and turns its result into the
        /// value an ioctl returns.
        ///
        /// # Safety
        ///
        /// `raw` is a file opened through [`Self::open`], valid for the call,
        /// in one of its file operations other than `open` and `release`.
        unsafe fn with_state(
            raw: *mut bindings::file,
            f: impl for<'a> FnOnce(<T::Ptr as ForeignOwnable>::Borrowed<'a>, &'a File) -> Result<isize>,
        ) -> c_long {
            // SAFETY: `open` stored the result of `into_foreign` in the private
            // data, and `release` cannot run while another file operation is
            // in progress (the caller holds a reference to the file).
            let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*raw).private_data) };
            // SAFETY: the file is valid for the duration of the call.
            let file = unsafe { File::from_raw(raw) };
            match f(device, file) {
                Ok(ret) => ret as c_long,
                Err(err) => err.to_errno() as c_long,
            }
        }

        /// # Safety
        ///
        /// Only the VFS calls this, for a file opened through [`Self::open`].
        unsafe extern "C" fn ioctl(raw: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
            // SAFETY: the VFS calls this for a file of ours during an ioctl.
            unsafe {
                Self::with_state(raw, |device, file| {
                    T::ioctl(device, file, cmd, arg, &Syscall::enter())
                })
            }
        }

        /// # Safety
        ///
        /// Only the VFS calls this, for a file opened through [`Self::open`],
        /// when a 32-bit process makes an ioctl.
        #[cfg(CONFIG_COMPAT)]
        unsafe extern "C" fn compat_ioctl(
            raw: *mut bindings::file,
            cmd: c_uint,
            arg: c_ulong,
        ) -> c_long {
            // SAFETY: the VFS calls this for a file of ours during an ioctl.
            unsafe {
                Self::with_state(raw, |device, file| {
                    T::compat_ioctl(device, file, cmd, arg, &Syscall::enter())
                })
            }
        }

        const VTABLE: bindings::file_operations = bindings::file_operations {
            // Every open file pins the module through `fops_get()` in
            // `misc_open`, so rmmod is refused while a device file is open.
            owner: core::ptr::addr_of!(bindings::__this_module).cast_mut(),
            open: Some(Self::open),
            release: Some(Self::release),
            unlocked_ioctl: if T::HAS_IOCTL {
                Some(Self::ioctl)
            } else {
                None
            },
            // Upstream's choice: a device whose layouts are the same for 32-bit
            // processes needs no compat handler of its own.
            #[cfg(CONFIG_COMPAT)]
            compat_ioctl: if T::HAS_COMPAT_IOCTL {
                Some(Self::compat_ioctl)
            } else if T::HAS_IOCTL {
                Some(bindings::compat_ptr_ioctl)
            } else {
                None
            },
            // SAFETY: all zeroes is a valid `struct file_operations`: every
            // other operation is absent.
            ..unsafe { core::mem::zeroed() }
        };
    }
}

/// 7.3's: upstream's registration and file operations, with the data.
#[cfg(not(rust_gup_kernel_6_12))]
mod v7_3 {
    use super::{File, MiscDevice, MiscDeviceOptions, Syscall};
    use core::marker::PhantomData;
    use kernel::{container_of, miscdevice as upstream, prelude::*, types::ForeignOwnable};

    /// A registered misc device: upstream's registration, carrying `data`.
    ///
    /// Dropping it deregisters the device, then drops the data.
    ///
    /// # Invariants
    ///
    /// `inner` is registered, and is the only registration of
    /// `Adapter<T>`'s file operations: every one of them is the `inner` of
    /// a `MiscDeviceRegistration<T>`.
    #[pin_data]
    pub(crate) struct MiscDeviceRegistration<T: MiscDevice> {
        // Declared before `data`, and so dropped (deregistered) first: do
        // not reorder.
        #[pin]
        inner: upstream::MiscDeviceRegistration<Adapter<T>>,
        data: T::RegistrationData,
    }

    impl<T: MiscDevice> MiscDeviceRegistration<T> {
        /// Registers a misc device with a dynamic minor number, carrying
        /// `data`.
        pub(crate) fn register(
            opts: MiscDeviceOptions,
            data: T::RegistrationData,
        ) -> impl PinInit<Self, Error> {
            // The data is in place before the device is registered, so an
            // `open` finds it; fields are dropped in declaration order, so
            // the device is deregistered first.
            try_pin_init!(Self {
                data,
                inner <- upstream::MiscDeviceRegistration::register(
                    upstream::MiscDeviceOptions { name: opts.name }
                ),
            })
        }

        /// The data the device was registered with.
        pub(crate) fn data(&self) -> &T::RegistrationData {
            &self.data
        }
    }

    /// Upstream's `MiscDevice`, implemented by calling `T`'s.
    struct Adapter<T>(PhantomData<T>);

    #[vtable]
    impl<T: MiscDevice> upstream::MiscDevice for Adapter<T> {
        type Ptr = T::Ptr;

        fn open(file: &File, misc: &upstream::MiscDeviceRegistration<Self>) -> Result<T::Ptr> {
            let misc: *const upstream::MiscDeviceRegistration<Self> = misc;
            let ours = {
                // SAFETY: by the type invariant `misc` is the `inner` field
                // of a `MiscDeviceRegistration<T>`, which is registered, so
                // valid during `open` (`misc_open` holds `misc_mtx`).
                unsafe { &*container_of!(misc.cast_mut(), MiscDeviceRegistration<T>, inner) }
            };
            T::open(file, ours, &Syscall::enter())
        }

        fn release(device: T::Ptr, file: &File) {
            T::release(device, file)
        }

        fn ioctl(
            device: <T::Ptr as ForeignOwnable>::Borrowed<'_>,
            file: &File,
            cmd: u32,
            arg: usize,
        ) -> Result<isize> {
            // Upstream's table always has this entry; without `T::ioctl`,
            // what a missing `unlocked_ioctl` gives.
            if !T::HAS_IOCTL {
                return Err(ENOTTY);
            }
            T::ioctl(device, file, cmd, arg, &Syscall::enter())
        }

        #[cfg(CONFIG_COMPAT)]
        fn compat_ioctl(
            device: <T::Ptr as ForeignOwnable>::Borrowed<'_>,
            file: &File,
            cmd: u32,
            arg: usize,
        ) -> Result<isize> {
            if T::HAS_COMPAT_IOCTL {
                T::compat_ioctl(device, file, cmd, arg, &Syscall::enter())
            } else if !T::HAS_IOCTL {
                Err(ENOTTY)
            } else {
                // What upstream's `compat_ptr_ioctl` default does.
                T::ioctl(device, file, cmd, super::compat_ptr(arg), &Syscall::enter())
            }
        }
    }
}
