// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup's C helpers; see helpers.h. Only the abstraction layer under
 * rust/ calls them.
 */
#include <linux/capability.h>
#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "../include/uapi/linux/rust_gup.h"
#include "helpers.h"

struct mm_struct *rust_gup_current_mm(void)
{
	return current->mm;
}

struct mm_struct *rust_gup_get_current_mm(void)
{
	return get_task_mm(current);
}

int rust_gup_mmap_read_lock_killable(struct mm_struct *mm)
{
	return mmap_read_lock_killable(mm);
}

void rust_gup_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

unsigned long rust_gup_task_size(void)
{
	return TASK_SIZE;
}

/*
 * Drops one reference on each page, marking it dirty first if asked: the
 * loop gup_test runs, in C so that put_page() inlines as it does there.
 */
void rust_gup_put_pages(struct page **pages, unsigned long nr, bool dirty)
{
	unsigned long i;

	if (dirty) {
		for (i = 0; i < nr; i++) {
			set_page_dirty_lock(pages[i]);
			put_page(pages[i]);
		}
	} else {
		for (i = 0; i < nr; i++)
			put_page(pages[i]);
	}
}

/*
 * Charges npages to mm->pinned_vm, as RDMA memory registration does
 * (ib_umem_get()): refused with -ENOMEM past RLIMIT_MEMLOCK unless the
 * caller has CAP_IPC_LOCK. On success the mm is grabbed, so the charge can
 * be given back after its owner has exited.
 */
int rust_gup_pinned_vm_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned = atomic64_add_return(npages, &mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	mmgrab(mm);
	return 0;
}

void rust_gup_pinned_vm_uncharge(struct mm_struct *mm, unsigned long npages)
{
	atomic64_sub(npages, &mm->pinned_vm);
	mmdrop(mm);
}

static __u32 rust_gup_zone(const struct page *page)
{
	switch (page_zonenum(page)) {
#ifdef CONFIG_ZONE_DMA
	case ZONE_DMA:
		return RUST_GUP_ZONE_DMA;
#endif
#ifdef CONFIG_ZONE_DMA32
	case ZONE_DMA32:
		return RUST_GUP_ZONE_DMA32;
#endif
	case ZONE_NORMAL:
		return RUST_GUP_ZONE_NORMAL;
	case ZONE_MOVABLE:
		return RUST_GUP_ZONE_MOVABLE;
#ifdef CONFIG_ZONE_DEVICE
	case ZONE_DEVICE:
		return RUST_GUP_ZONE_DEVICE;
#endif
	default:
		return RUST_GUP_ZONE_OTHER;
	}
}

/* Describes a page the caller holds a reference or a pin on. */
void rust_gup_page_info(struct page *page, struct rust_gup_page_info *info)
{
	struct folio *folio = page_folio(page);
	__u32 flags = 0;

	if (folio_maybe_dma_pinned(folio))
		flags |= RUST_GUP_PAGE_DMA_PINNED;
	if (is_pci_p2pdma_page(page))
		flags |= RUST_GUP_PAGE_P2PDMA;
	if (folio_test_hugetlb(folio))
		flags |= RUST_GUP_PAGE_HUGETLB;
	if (folio_test_anon(folio))
		flags |= RUST_GUP_PAGE_ANON;
	if (folio_test_dirty(folio))
		flags |= RUST_GUP_PAGE_DIRTY;

	*info = (struct rust_gup_page_info) {
		.pfn = page_to_pfn(page),
		.zone = rust_gup_zone(page),
		.order = folio_order(folio),
		.flags = flags,
		.pincount = folio_test_large(folio) ?
			atomic_read(&folio->_pincount) :
			folio_ref_count(folio) / GUP_PIN_COUNTING_BIAS,
		.refcount = folio_ref_count(folio),
	};
}

/*
 * Between long steps of a loop in a system call: lets others run (the
 * test kernel is not preemptible) and says whether the caller was killed.
 */
bool rust_gup_resched_killed(void)
{
	cond_resched();
	return fatal_signal_pending(current);
}

bool rust_gup_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

bool rust_gup_mmu_interval_read_retry(struct mmu_interval_notifier *sub,
				      unsigned long seq)
{
	return mmu_interval_read_retry(sub, seq);
}

void rust_gup_mmu_interval_set_seq(struct mmu_interval_notifier *sub,
				   unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
}

/*
 * Copies len bytes at offset in the page at pfn to or from buf, through a
 * temporary kernel mapping, as a device would by DMA. A write marks the
 * page dirty: the device changed it behind the CPU page table's back.
 *
 * The caller keeps the page from going away (rust_gup's HMM mirror holds
 * the lock its invalidation callback needs, with the pfn's entry valid).
 * Only ordinary memory is accessed: -EREMOTEIO for a pfn without a struct
 * page or a ZONE_DEVICE page (PCI P2PDMA, device private).
 */
int rust_gup_pfn_access(unsigned long pfn, size_t offset, void *buf,
			size_t len, bool write)
{
	struct page *page;
	void *kaddr;

	if (!pfn_valid(pfn))
		return -EREMOTEIO;
	page = pfn_to_page(pfn);
	if (is_zone_device_page(page))
		return -EREMOTEIO;
	if (offset > PAGE_SIZE || len > PAGE_SIZE - offset)
		return -EINVAL;

	kaddr = kmap_local_page(page);
	if (write)
		memcpy(kaddr + offset, buf, len);
	else
		memcpy(buf, kaddr + offset, len);
	kunmap_local(kaddr);
	if (write)
		set_page_dirty(page);
	return 0;
}
