// SPDX-License-Identifier: GPL-2.0
/*
 * Where the C compiler puts the fields the layer reads or writes through
 * bindgen's layouts, and the sizes of the structures it builds, for
 * rust/layout.rs to compare with bindgen's at module load. The entries
 * come in that file's order.
 */
#include <linux/fs.h>
#include <linux/hmm.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>

#include "helpers.h"

#define OFF(type, field)	offsetof(struct type, field)

static const size_t c_layout[] = {
	OFF(mm_struct, task_size), OFF(mm_struct, pinned_vm),
	OFF(pci_dev, bus), OFF(pci_dev, dev), OFF(pci_dev, resource),
	sizeof(struct resource), OFF(resource, start), OFF(resource, end), OFF(resource, flags),
	OFF(device, mutex), OFF(device, driver), OFF(device, dma_mask),
	OFF(file, f_mode), OFF(file, f_mapping), OFF(file, f_inode), OFF(file, private_data),
	OFF(sg_table, sgl), OFF(sg_table, nents), OFF(sg_table, orig_nents),
	OFF(notifier_block, notifier_call),
	sizeof(struct hmm_range), OFF(hmm_range, notifier), OFF(hmm_range, notifier_seq),
	OFF(hmm_range, start), OFF(hmm_range, end), OFF(hmm_range, hmm_pfns),
	OFF(hmm_range, default_flags), OFF(hmm_range, pfn_flags_mask),
	OFF(hmm_range, dev_private_owner),
	sizeof(struct mmu_interval_notifier_ops), OFF(mmu_interval_notifier_ops, invalidate),
	sizeof(struct miscdevice), OFF(miscdevice, minor), OFF(miscdevice, name),
	OFF(miscdevice, fops),
	sizeof(struct file_operations), OFF(file_operations, owner), OFF(file_operations, open),
	OFF(file_operations, release), OFF(file_operations, unlocked_ioctl),
#ifdef CONFIG_COMPAT
	OFF(file_operations, compat_ioctl),
#endif
};

/* Entry i of the table; SIZE_MAX past its end. */
size_t rust_gup_c_layout(unsigned int i)
{
	return i < ARRAY_SIZE(c_layout) ? c_layout[i] : SIZE_MAX;
}
