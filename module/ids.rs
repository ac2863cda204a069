// SPDX-License-Identifier: GPL-2.0

//! Objects an open file holds by id: page sets and mirrors.

#![forbid(unsafe_code)]

use kernel::{
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, Mutex},
};

use crate::kernel_ext::LockData;

/// Up to `MAX` objects of one kind, each under an id of its own.
///
/// Objects are reference counted: an ioctl that uses one takes a reference
/// under the file's lock and works without the lock, so no ioctl holds it
/// while GUP faults pages in or user memory is copied, either of which can
/// block for as long as user space wants (userfaultfd). An object removed
/// meanwhile lives until that reference goes.
pub(crate) struct IdTable<T: ?Sized, const MAX: usize> {
    objects: RBTree<u32, Arc<T>>,
    nr: usize,
    last_id: u32,
}

impl<T: ?Sized, const MAX: usize> Default for IdTable<T, MAX> {
    fn default() -> Self {
        IdTable {
            objects: RBTree::new(),
            nr: 0,
            last_id: 0,
        }
    }
}

impl<T: ?Sized, const MAX: usize> IdTable<T, MAX> {
    /// `ENOSPC` when the table is full: checked before an object is made,
    /// and again when it is inserted.
    pub(crate) fn check_room(&self) -> Result {
        if self.nr >= MAX {
            return Err(ENOSPC);
        }
        Ok(())
    }

    /// A reference to object `id`; `ENOENT` if there is none.
    pub(crate) fn get(&self, id: u32) -> Result<Arc<T>> {
        self.objects.get(&id).cloned().ok_or(ENOENT)
    }

    /// Takes object `id` out of the table. The caller drops it outside the
    /// lock: releasing an object may sleep for long.
    pub(crate) fn remove(&mut self, id: u32) -> Option<Arc<T>> {
        let object = self.objects.remove(&id);
        if object.is_some() {
            self.nr -= 1;
        }
        object
    }

    /// Inserts `object` in the node allocated for it, under a new id: ids
    /// start at 1 (0 means none) and wrap around.
    fn insert(&mut self, node: RBTreeNodeReservation<u32, Arc<T>>, object: Arc<T>) -> Result<u32> {
        self.check_room()?;
        let mut id = self.last_id;
        for _ in 0..=MAX {
            id = id.wrapping_add(1);
            if id != 0 && self.objects.get(&id).is_none() {
                self.objects.insert(node.into_node(id, object));
                self.nr += 1;
                self.last_id = id;
                return Ok(id);
            }
        }
        Err(ENOSPC)
    }
}

/// Adds `object` to the table that `table` finds in the state under `lock`,
/// then calls `report` with the new id outside the lock (telling user
/// space may fault for as long as it wants). If `report` fails, the object
/// is taken out again and dropped, outside the lock.
pub(crate) fn publish<S: LockData, T: ?Sized, const MAX: usize>(
    lock: &Mutex<S>,
    table: impl Fn(&mut S) -> &mut IdTable<T, MAX>,
    object: Arc<T>,
    report: impl FnOnce(u32) -> Result,
) -> Result {
    // Allocated before the lock is taken: under it nothing allocates.
    let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
    let id = {
        let mut guard = lock.lock();
        table(&mut *guard).insert(node, object)?
    };
    if let Err(e) = report(id) {
        // Another thread may have removed it meanwhile, with a guessed id.
        let object = table(&mut *lock.lock()).remove(id);
        drop(object);
        return Err(e);
    }
    Ok(())
}
