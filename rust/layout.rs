// SPDX-License-Identifier: GPL-2.0

//! The C layouts the layer relies on, checked against the C compiler's at
//! load.
//!
//! The layer reads and writes fields of kernel structures through
//! bindgen's layouts (`mm_struct.pinned_vm`, written atomically;
//! `file.f_mode`; `pci_dev.resource`; ...) and builds some structures
//! whole (`hmm_range`, `file_operations`). bindgen and the C compiler read
//! the same headers, but they need not agree: a structure marked
//! `__randomize_layout` is laid out at random under `CONFIG_RANDSTRUCT`,
//! which bindgen does not know, and the 6.12 kernel crate's own layout of
//! `task_struct` is 16 bytes off past `stats`. A tree of the user's own
//! (`KDIR`) may have either. [`check`] compares each offset and size with
//! what `rust/helpers/layout.c` got from `offsetof()` and `sizeof()`, and
//! the module refuses to load on a difference, naming it.

use super::bindings;
use core::mem::{offset_of, size_of};
use kernel::prelude::*;

/// What bindgen says, in the order of `rust/helpers/layout.c`'s table.
const LAYOUT: &[(&str, usize)] = &[
    (
        "mm_struct.task_size",
        offset_of!(bindings::mm_struct, __bindgen_anon_1.task_size),
    ),
    (
        "mm_struct.pinned_vm",
        offset_of!(bindings::mm_struct, __bindgen_anon_1.pinned_vm),
    ),
    ("pci_dev.bus", offset_of!(bindings::pci_dev, bus)),
    ("pci_dev.dev", offset_of!(bindings::pci_dev, dev)),
    ("pci_dev.resource", offset_of!(bindings::pci_dev, resource)),
    ("sizeof(resource)", size_of::<bindings::resource>()),
    ("resource.start", offset_of!(bindings::resource, start)),
    ("resource.end", offset_of!(bindings::resource, end)),
    ("resource.flags", offset_of!(bindings::resource, flags)),
    ("device.mutex", offset_of!(bindings::device, mutex)),
    ("device.driver", offset_of!(bindings::device, driver)),
    ("device.dma_mask", offset_of!(bindings::device, dma_mask)),
    ("file.f_mode", offset_of!(bindings::file, f_mode)),
    ("file.f_mapping", offset_of!(bindings::file, f_mapping)),
    ("file.f_inode", offset_of!(bindings::file, f_inode)),
    (
        "file.private_data",
        offset_of!(bindings::file, private_data),
    ),
    ("sg_table.sgl", offset_of!(bindings::sg_table, sgl)),
    ("sg_table.nents", offset_of!(bindings::sg_table, nents)),
    (
        "sg_table.orig_nents",
        offset_of!(bindings::sg_table, orig_nents),
    ),
    (
        "notifier_block.notifier_call",
        offset_of!(bindings::notifier_block, notifier_call),
    ),
    ("sizeof(hmm_range)", size_of::<bindings::hmm_range>()),
    (
        "hmm_range.notifier",
        offset_of!(bindings::hmm_range, notifier),
    ),
    (
        "hmm_range.notifier_seq",
        offset_of!(bindings::hmm_range, notifier_seq),
    ),
    ("hmm_range.start", offset_of!(bindings::hmm_range, start)),
    ("hmm_range.end", offset_of!(bindings::hmm_range, end)),
    (
        "hmm_range.hmm_pfns",
        offset_of!(bindings::hmm_range, hmm_pfns),
    ),
    (
        "hmm_range.default_flags",
        offset_of!(bindings::hmm_range, default_flags),
    ),
    (
        "hmm_range.pfn_flags_mask",
        offset_of!(bindings::hmm_range, pfn_flags_mask),
    ),
    (
        "hmm_range.dev_private_owner",
        offset_of!(bindings::hmm_range, dev_private_owner),
    ),
    (
        "sizeof(mmu_interval_notifier_ops)",
        size_of::<bindings::mmu_interval_notifier_ops>(),
    ),
    (
        "mmu_interval_notifier_ops.invalidate",
        offset_of!(bindings::mmu_interval_notifier_ops, invalidate),
    ),
    ("sizeof(miscdevice)", size_of::<bindings::miscdevice>()),
    ("miscdevice.minor", offset_of!(bindings::miscdevice, minor)),
    ("miscdevice.name", offset_of!(bindings::miscdevice, name)),
    ("miscdevice.fops", offset_of!(bindings::miscdevice, fops)),
    (
        "sizeof(file_operations)",
        size_of::<bindings::file_operations>(),
    ),
    (
        "file_operations.owner",
        offset_of!(bindings::file_operations, owner),
    ),
    (
        "file_operations.open",
        offset_of!(bindings::file_operations, open),
    ),
    (
        "file_operations.release",
        offset_of!(bindings::file_operations, release),
    ),
    (
        "file_operations.unlocked_ioctl",
        offset_of!(bindings::file_operations, unlocked_ioctl),
    ),
    #[cfg(CONFIG_COMPAT)]
    (
        "file_operations.compat_ioctl",
        offset_of!(bindings::file_operations, compat_ioctl),
    ),
];

/// `EINVAL`, with each difference printed, unless bindgen's layouts above
/// are the C compiler's.
pub(crate) fn check() -> Result {
    let mut differ = false;
    for (i, &(what, rust)) in LAYOUT.iter().enumerate() {
        // SAFETY: no requirements: the helper reads a constant table.
        let c = unsafe { bindings::rust_gup_c_layout(i as u32) };
        if c != rust {
            pr_err!("{what}: bindgen says {rust}, the C compiler {c}\n");
            differ = true;
        }
    }
    // SAFETY: as above.
    if unsafe { bindings::rust_gup_c_layout(LAYOUT.len() as u32) } != usize::MAX {
        pr_err!("rust/helpers/layout.c has more entries than rust/layout.rs\n");
        differ = true;
    }
    if differ {
        pr_err!("this kernel tree's layouts are not the ones the module was built for\n");
        return Err(EINVAL);
    }
    Ok(())
}
