// SPDX-License-Identifier: GPL-2.0

//! Page sets an open file holds: the gup_test long-term test's, and those
//! taken with `RUST_GUP_IOC_PIN`. All are released when the file is.

#![forbid(unsafe_code)]

use core::{
    mem::size_of,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    uaccess::UserSlice,
};

use crate::kernel_ext::{
    gup::{Access, GupOptions, LongTerm, PageSet, PinnedPages, UserPageRange},
    uapi,
};
use crate::take::{take_range, Held, HolderKind, Method, Path, Request, Target};

/// How many `RUST_GUP_IOC_PIN` sets one file may hold at once.
const MAX_SETS: usize = 1024;

/// Sets and pages held by all open files, for `RUST_GUP_IOC_STATS`.
pub(crate) static HELD_SETS: AtomicU64 = AtomicU64::new(0);
pub(crate) static HELD_PAGES: AtomicU64 = AtomicU64::new(0);

/// Counts one held set in the module-wide statistics while it lives.
struct Counted(u64);

impl Counted {
    fn new(pages: usize) -> Self {
        HELD_SETS.fetch_add(1, Ordering::Relaxed);
        HELD_PAGES.fetch_add(pages as u64, Ordering::Relaxed);
        Counted(pages as u64)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        HELD_SETS.fetch_sub(1, Ordering::Relaxed);
        HELD_PAGES.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// A set held by `RUST_GUP_IOC_PIN`.
struct HeldSet {
    held: Held,
    _counted: Counted,
}

/// The long-term test's set (`PIN_LONGTERM_TEST_START`).
struct LongtermTest {
    pins: PinnedPages<LongTerm>,
    _counted: Counted,
}

/// What one open file holds.
#[derive(Default)]
pub(crate) struct FileSets {
    longterm_test: Option<LongtermTest>,
    sets: RBTree<u32, HeldSet>,
    nr_sets: usize,
    last_id: u32,
}

impl FileSets {
    /// `PIN_LONGTERM_TEST_START`: pin a whole range long-term, or nothing.
    pub(crate) fn longterm_test_start(&mut self, arg: usize) -> Result<isize> {
        let args: uapi::pin_longterm_test =
            UserSlice::new(arg, size_of::<uapi::pin_longterm_test>())
                .reader()
                .read()?;
        let all = uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE | uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST;
        if self.longterm_test.is_some()
            || args.flags & !all != 0
            || args.size % PAGE_SIZE as u64 != 0
        {
            return Err(EINVAL);
        }
        let range = UserPageRange::new(args.addr, args.size)?;
        let access = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE != 0 {
            Access::Write
        } else {
            Access::Read
        };
        let method = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST != 0 {
            Method::Fast
        } else {
            Method::Locked
        };
        let request = Request {
            kind: HolderKind::PinLongTerm,
            method,
            opts: GupOptions::new(access),
        };

        let target = Target::new(method)?;
        let path = Path::new(&target, method)?;
        let mut held = Held::new(&request, range.nr_pages())?;
        // All or nothing, as gup_test: go on after a short batch, fail at
        // the first error; dropping `held` then releases what it took.
        while held.pages().len() < range.nr_pages() {
            if let Some(e) = take_range(&mut held, &path, range, range.nr_pages())?.error {
                return Err(e);
            }
        }
        let Held::LongTerm(pins) = held else {
            return Err(EINVAL);
        };
        let pages = pins.len();
        self.longterm_test = Some(LongtermTest {
            pins,
            _counted: Counted::new(pages),
        });
        Ok(0)
    }

    /// `PIN_LONGTERM_TEST_STOP`: release the long-term test's pins, if any.
    pub(crate) fn longterm_test_stop(&mut self) -> Result<isize> {
        self.longterm_test = None;
        Ok(0)
    }

    /// `PIN_LONGTERM_TEST_READ`: copy the pinned pages' contents to the
    /// user buffer whose address is the `__u64` at `arg`.
    pub(crate) fn longterm_test_read(&self, arg: usize) -> Result<isize> {
        let test = self.longterm_test.as_ref().ok_or(EINVAL)?;
        let dest: u64 = UserSlice::new(arg, size_of::<u64>()).reader().read()?;
        let mut dest = usize::try_from(dest)?;
        for index in 0..test.pins.len() {
            test.pins.copy_page_to_user(index, dest)?;
            dest = dest.checked_add(PAGE_SIZE).ok_or(EFAULT)?;
        }
        Ok(0)
    }

    /// `RUST_GUP_IOC_PIN`: take a range and hold it until `UNPIN` or
    /// release. A prefix is fine (the size says how much); nothing is an
    /// error.
    pub(crate) fn pin(&mut self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(arg, size_of::<uapi::rust_gup_pin>()).reader_writer();
        let mut pin: uapi::rust_gup_pin = reader.read()?;
        if pin.reserved != 0 {
            return Err(EINVAL);
        }
        let request = Request::from_op(pin.op, pin.flags)?;
        let range = UserPageRange::new(pin.addr, pin.size)?;
        if self.nr_sets >= MAX_SETS {
            return Err(ENOSPC);
        }
        let id = self.last_id.checked_add(1).ok_or(ENOSPC)?;

        let target = Target::new(request.method)?;
        let path = Path::new(&target, request.method)?;
        let mut held = Held::new(&request, range.nr_pages())?;
        take_range(&mut held, &path, range, range.nr_pages())?;
        drop(path);

        let pages = held.pages().len();
        pin.size = (pages * PAGE_SIZE) as u64;
        pin.id = id;
        let set = HeldSet {
            held,
            _counted: Counted::new(pages),
        };
        // Allocate and tell user space before holding anything: if either
        // fails, dropping `set` releases the pages.
        let node = RBTreeNode::new(id, set, GFP_KERNEL)?;
        writer.write(&pin)?;
        self.sets.insert(node);
        self.nr_sets += 1;
        self.last_id = id;
        Ok(0)
    }

    /// `RUST_GUP_IOC_UNPIN`: release the set whose id is the `__u32` at
    /// `arg`.
    pub(crate) fn unpin(&mut self, arg: usize) -> Result<isize> {
        let id: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
        drop(self.sets.remove(&id).ok_or(ENOENT)?);
        self.nr_sets -= 1;
        Ok(0)
    }

    /// `RUST_GUP_IOC_QUERY`: describe pages of a held set.
    pub(crate) fn query(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(arg, size_of::<uapi::rust_gup_query>()).reader_writer();
        let mut query: uapi::rust_gup_query = reader.read()?;
        let set: &dyn PageSet = if query.id == uapi::RUST_GUP_ID_LONGTERM_TEST {
            &self.longterm_test.as_ref().ok_or(ENOENT)?.pins
        } else {
            self.sets.get(&query.id).ok_or(ENOENT)?.held.pages()
        };
        let first = usize::try_from(query.first)?;
        if first > set.len() {
            return Err(EINVAL);
        }
        let nr = (query.nr as usize).min(set.len() - first);
        let entry = size_of::<uapi::rust_gup_page_info>();
        let mut out = UserSlice::new(usize::try_from(query.pages)?, nr * entry).writer();
        for index in first..first + nr {
            out.write(&set.page_info(index).ok_or(EINVAL)?)?;
        }
        query.nr = nr as u32;
        query.set_pages = set.len() as u64;
        writer.write(&query)?;
        Ok(0)
    }
}
