/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rust_gup's C helpers: what Rust cannot call directly because it is a
 * static inline function or a macro in 6.12. Each is a one-line wrapper;
 * their Rust declarations come from the project's bindgen pass.
 */
#ifndef RUST_GUP_HELPERS_H
#define RUST_GUP_HELPERS_H

#include <linux/types.h>

struct mm_struct;
struct mmu_interval_notifier;
struct page;
struct rust_gup_page_info;

struct mm_struct *rust_gup_current_mm(void);
struct mm_struct *rust_gup_get_current_mm(void);
int rust_gup_mmap_read_lock_killable(struct mm_struct *mm);
void rust_gup_mmap_read_unlock(struct mm_struct *mm);
unsigned long rust_gup_task_size(void);
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

#endif /* RUST_GUP_HELPERS_H */
