/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rust_gup's C helpers: what Rust cannot call directly because it is a
 * static inline function or a macro in 6.12, or a header the 6.12 kernel
 * crate has no bindings for. Most are one-line wrappers; the longer ones
 * say why they are in C. Their Rust declarations come from the project's
 * bindgen pass.
 */
#ifndef RUST_GUP_HELPERS_H
#define RUST_GUP_HELPERS_H

#include <linux/types.h>

struct mm_struct;
struct mmu_interval_notifier;
struct page;
struct pci_dev;
struct rust_gup_dma_mapping;
struct rust_gup_dma_segment;
struct rust_gup_page_info;

struct mm_struct *rust_gup_current_mm(void);
struct mm_struct *rust_gup_get_current_mm(void);
int rust_gup_mmap_read_lock_killable(struct mm_struct *mm);
void rust_gup_mmap_read_unlock(struct mm_struct *mm);
unsigned long rust_gup_task_size(void);
#ifdef CONFIG_COMPAT
void __user *rust_gup_compat_ptr(u32 uptr);
#endif
void rust_gup_put_pages(struct page **pages, unsigned long nr, bool dirty);
int rust_gup_pinned_vm_charge(struct mm_struct *mm, unsigned long npages);
void rust_gup_pinned_vm_uncharge(struct mm_struct *mm, unsigned long npages);
void rust_gup_page_info(struct page *page, struct rust_gup_page_info *info);
bool rust_gup_resched_killed(void);
bool rust_gup_mmget_not_zero(struct mm_struct *mm);
bool rust_gup_mmu_interval_read_retry(struct mmu_interval_notifier *sub,
				      unsigned long seq);
void rust_gup_mmu_interval_set_seq(struct mmu_interval_notifier *sub,
				   unsigned long cur_seq);
int rust_gup_pfn_access(unsigned long pfn, size_t offset, void *buf,
			size_t len, bool write);

struct pci_dev *rust_gup_pci_get(u32 id);
void rust_gup_pci_put(struct pci_dev *pdev);
int rust_gup_dma_map(struct pci_dev *client, struct page **pages,
		     unsigned int nr, bool bidirectional,
		     struct rust_gup_dma_mapping **out);
void rust_gup_dma_unmap(struct rust_gup_dma_mapping *m);
bool rust_gup_dma_revoked(struct rust_gup_dma_mapping *m);
unsigned int rust_gup_dma_nr_segments(const struct rust_gup_dma_mapping *m);
void rust_gup_dma_segments(struct rust_gup_dma_mapping *m,
			   struct rust_gup_dma_segment *segs);
int rust_gup_dma_watch(void);
void rust_gup_dma_unwatch(void);

#endif /* RUST_GUP_HELPERS_H */
