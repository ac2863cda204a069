// SPDX-License-Identifier: GPL-2.0

//! rust_gup_mr: memory registration as RDMA (and VFIO) drivers do it, on
//! rust_gup's long-term pinning types.
//!
//! `/dev/rust_gup_mr` registers user memory regions (`RUST_GUP_MR_REG`):
//! each is pinned long-term (FOLL_LONGTERM: moved out of ZONE_MOVABLE and
//! CMA first) and charged to the owner's `pinned_vm` against
//! `RLIMIT_MEMLOCK`, like `ib_umem_get()`. A region the "device" may write
//! to is pinned with dirty-on-release, as `IB_ACCESS_REMOTE_WRITE` memory
//! must be. `RUST_GUP_MR_WRITE` and `RUST_GUP_MR_READ` play the device:
//! they move data into and out of a region through its pinned pages, while
//! the process keeps using the memory. Regions go on `RUST_GUP_MR_DEREG`
//! and when the last reference to the file goes (on close, or when every
//! process holding it has exited); nothing here unpins or uncharges by
//! hand: dropping a region does both, in that order.

#![deny(unsafe_code)]

// The abstraction layer is the one place with `unsafe`. It is a library
// compiled into each crate, which uses part of it (and `uapi.rs` re-exports
// the ABI of all three devices): what one crate leaves unused is not dead.
#[allow(dead_code, unused_imports, unsafe_code)]
#[path = "../rust/kernel_ext.rs"]
mod kernel_ext;

use core::mem::size_of;
use kernel::{
    c_str, new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, Mutex},
};
use kernel_ext::{
    file::File,
    gup::{Access, GupOptions, Layout, LongTerm, PageSet, PinnedPages, TakePages, UserPageRange},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::{CurrentMm, PinnedVmCharge},
    task::Syscall,
    uaccess::user_slice,
    uapi,
};

kernel_ext::module! {
    type: MrModule,
    name: "rust_gup_mr",
    author: "rust_gup developers",
    description: "Sample: RDMA-style memory registration on long-term pins",
    license: "GPL",
}

struct MrModule {
    _device: Pin<KBox<MiscDeviceRegistration<MrFile>>>,
}

impl kernel::Module for MrModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Pinning user memory is a privileged operation: the node is
        // root only (a misc device's default mode, 0600).
        let options = MiscDeviceOptions {
            name: c_str!("rust_gup_mr"),
        };
        Ok(MrModule {
            _device: KBox::pin_init(MiscDeviceRegistration::register(options, ()), GFP_KERNEL)?,
        })
    }
}

/// A registered region. The pins are released before the charge is given
/// back (fields drop in order), as `ib_umem_release()` does.
struct Region {
    pins: PinnedPages<LongTerm>,
    _charge: PinnedVmCharge,
    len: usize,
}

/// An open file: its regions, by key.
#[pin_data]
struct MrFile {
    #[pin]
    regions: Mutex<(RBTree<u32, Arc<Region>>, u32)>,
}

#[vtable]
impl MiscDevice for MrFile {
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = ();

    fn open(
        _file: &File,
        _misc: &MiscDeviceRegistration<Self>,
        _cx: &Syscall,
    ) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            try_pin_init!(MrFile {
                regions <- new_mutex!((RBTree::new(), 0)),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(
        this: Pin<&MrFile>,
        _file: &File,
        cmd: u32,
        arg: usize,
        cx: &Syscall,
    ) -> Result<isize> {
        match cmd {
            uapi::RUST_GUP_MR_REG => this.register(arg, cx),
            uapi::RUST_GUP_MR_DEREG => this.deregister(arg),
            uapi::RUST_GUP_MR_WRITE => this.transfer(arg, true),
            uapi::RUST_GUP_MR_READ => this.transfer(arg, false),
            _ => Err(ENOTTY),
        }
    }
}

impl MrFile {
    fn register(&self, arg: usize, cx: &Syscall) -> Result<isize> {
        let (mut reader, mut writer) =
            user_slice(arg, size_of::<uapi::rust_gup_mr_reg>()).reader_writer();
        let mut reg: uapi::rust_gup_mr_reg = reader.read()?;
        if reg.access & !uapi::RUST_GUP_MR_ACCESS_WRITE != 0 || reg.len % PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let range = UserPageRange::new(cx, reg.addr, reg.len)?;
        let access = if reg.access & uapi::RUST_GUP_MR_ACCESS_WRITE != 0 {
            Access::WriteDirty
        } else {
            Access::Read
        };

        // Charge first, then pin all of it, going on after short takes
        // until done or GUP says why not, as ib_umem_get() does: on any
        // failure the pins and then the charge go again.
        let mm = CurrentMm::get(cx)?;
        let charge = PinnedVmCharge::charge(&mm, range.nr_pages())?;
        // Runs of pages, not a page array: a registration of huge pages
        // then takes 8 bytes per 2 MiB to record.
        let mut pins = PinnedPages::new(GupOptions::new(access), Layout::Runs)?;
        while let Some(rest) = range.after(pins.len()) {
            if let Some(e) = pins.take_fast(&mm, rest, rest.nr_pages())?.error {
                return Err(e);
            }
        }
        let region = Arc::new(
            Region {
                pins,
                _charge: charge,
                len: range.nr_pages() * PAGE_SIZE,
            },
            GFP_KERNEL,
        )?;

        let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let key = {
            let mut guard = self.regions.lock();
            let (regions, last) = &mut *guard;
            let key = last.checked_add(1).ok_or(ENOSPC)?;
            regions.insert(node.into_node(key, region));
            *last = key;
            key
        };
        // Tell user space outside the lock; if that fails, deregister.
        reg.key = key;
        if let Err(e) = writer.write(&reg) {
            let region = self.regions.lock().0.remove(&key);
            drop(region);
            return Err(e);
        }
        Ok(0)
    }

    fn deregister(&self, arg: usize) -> Result<isize> {
        let key: u32 = user_slice(arg, size_of::<u32>()).reader().read()?;
        let region = self.regions.lock().0.remove(&key).ok_or(ENOENT)?;
        // Unpinned and uncharged here, outside the lock, unless a transfer
        // still holds it.
        drop(region);
        Ok(0)
    }

    /// The "device" writes user data into a region, or reads it out.
    fn transfer(&self, arg: usize, into_region: bool) -> Result<isize> {
        let xfer: uapi::rust_gup_mr_xfer = user_slice(arg, size_of::<uapi::rust_gup_mr_xfer>())
            .reader()
            .read()?;
        let region = self.regions.lock().0.get(&xfer.key).ok_or(ENOENT)?.clone();
        let offset = usize::try_from(xfer.offset)?;
        let len = usize::try_from(xfer.len)?;
        if xfer.reserved != 0 || offset.checked_add(len).ok_or(EINVAL)? > region.len {
            return Err(EINVAL);
        }
        let user = user_slice(usize::try_from(xfer.buf)?, len);
        let (mut from_user, mut to_user) = user.reader_writer();
        let mut bounce = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let mut at = offset;
        while at < offset + len {
            let (page, in_page) = (at / PAGE_SIZE, at % PAGE_SIZE);
            let chunk = (PAGE_SIZE - in_page).min(offset + len - at);
            let buf = &mut bounce[..chunk];
            if into_region {
                from_user.read_slice(buf)?;
                // EPERM for a region registered without write access.
                region.pins.write(page, in_page, buf)?;
            } else {
                region.pins.read(page, in_page, buf)?;
                to_user.write_slice(buf)?;
            }
            at += chunk;
        }
        Ok(0)
    }
}
