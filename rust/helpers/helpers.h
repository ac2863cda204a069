/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rust_gup's C helpers: what Rust cannot call because it is a static
 * inline function or a macro in 6.12 or 7.3. Each helper wraps one of them
 * and is named after it; the few that do more say why in their comments. The
 * Rust declarations come from the project's bindgen pass, and each module
 * links the files of the topics it uses (see Kbuild).
 */
#ifndef RUST_GUP_HELPERS_H
#define RUST_GUP_HELPERS_H

#include <linux/dma-direction.h>
#include <linux/types.h>

struct address_space;
struct device;
struct file;
struct folio;
struct inode;
struct mm_struct;
struct mmu_interval_notifier;
struct mutex;
struct page;
struct pci_bus;
struct pci_dev;
struct scatterlist;
struct sg_table;
struct task_struct;
struct workqueue_struct;
struct xarray;

/* mm.c */
struct mm_struct *rust_gup_current_mm(void);
int rust_gup_mmap_read_lock_killable(struct mm_struct *mm);
void rust_gup_mmap_read_unlock(struct mm_struct *mm);
void rust_gup_mmget(struct mm_struct *mm);
bool rust_gup_mmget_not_zero(struct mm_struct *mm);
void rust_gup_mmgrab(struct mm_struct *mm);
void rust_gup_mmdrop(struct mm_struct *mm);
s64 rust_gup_atomic64_add_return(s64 i, atomic64_t *v);
void rust_gup_atomic64_sub(s64 i, atomic64_t *v);
unsigned long rust_gup_task_rlimit(const struct task_struct *task,
				   unsigned int limit);
unsigned long rust_gup_task_size(void);
#ifdef CONFIG_COMPAT
void __user *rust_gup_compat_ptr(u32 uptr);
#endif
struct task_struct *rust_gup_current_group_leader(void);
void rust_gup_cond_resched(void);
bool rust_gup_fatal_signal_pending(struct task_struct *p);
bool rust_gup_task_ipc_lock(struct task_struct *t);
bool rust_gup_current_ipc_lock(void);
struct workqueue_struct *rust_gup_alloc_workqueue(const char *name);

/* gup.c */
void rust_gup_put_pages(struct page **pages, unsigned long nr);
void rust_gup_put_folio_refs(struct folio *folio, unsigned long refs);
long rust_gup_folio_nr_pages(const struct folio *folio);
struct page *rust_gup_folio_page(struct folio *folio, unsigned long n);
unsigned long rust_gup_page_to_pfn(const struct page *page);
struct page *rust_gup_pfn_to_page(unsigned long pfn);
bool rust_gup_pfn_valid(unsigned long pfn);
int rust_gup_page_zonenum(const struct page *page);
bool rust_gup_is_zone_device_page(const struct page *page);
bool rust_gup_zone_device_pages_have_same_pgmap(const struct page *a,
						const struct page *b);
struct folio *rust_gup_page_folio(struct page *page);
bool rust_gup_folio_maybe_dma_pinned(struct folio *folio);
bool rust_gup_folio_is_longterm_pinnable_outside_cma(struct folio *folio);
bool rust_gup_folio_test_hugetlb(const struct folio *folio);
bool rust_gup_folio_test_anon(const struct folio *folio);
bool rust_gup_folio_test_dirty(const struct folio *folio);
bool rust_gup_folio_test_large(const struct folio *folio);
unsigned int rust_gup_folio_order(const struct folio *folio);
int rust_gup_folio_ref_count(const struct folio *folio);
int rust_gup_folios_max_refs(struct page **pages, unsigned long nr);
int rust_gup_folio_pincount(const struct folio *folio);

/* hmm.c */
bool rust_gup_mmu_interval_read_retry(struct mmu_interval_notifier *sub,
				      unsigned long seq);
void rust_gup_mmu_interval_set_seq(struct mmu_interval_notifier *sub,
				   unsigned long cur_seq);

/* pci.c */
int rust_gup_pci_domain_nr(struct pci_bus *bus);
u16 rust_gup_pci_dev_id(struct pci_dev *dev);
bool rust_gup_is_pci_p2pdma_page(const struct page *page);

/* dma.c */
int rust_gup_mutex_lock_killable(struct mutex *lock);
void rust_gup_device_unlock(struct device *dev);
unsigned int rust_gup_dma_get_max_seg_size(struct device *dev);
unsigned long rust_gup_dma_get_seg_boundary(struct device *dev);
void rust_gup_test_release_delay(void);
void rust_gup_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				enum dma_data_direction dir,
				unsigned long attrs);
void rust_gup_sg_set_page(struct scatterlist *sg, struct page *page,
			  unsigned int len, unsigned int offset);
struct page *rust_gup_sg_page(struct scatterlist *sg);
u64 rust_gup_sg_dma_address(struct scatterlist *sg);
unsigned int rust_gup_sg_dma_len(struct scatterlist *sg);
bool rust_gup_sg_dma_is_bus_address(struct scatterlist *sg);
int rust_gup_dma_mapping_error(struct device *dev, dma_addr_t dma_addr);
void rust_gup_xa_init(struct xarray *xa);
int rust_gup_xa_insert(struct xarray *xa, unsigned long index, gfp_t gfp);
bool rust_gup_xa_present(struct xarray *xa, unsigned long first, unsigned long last);

/* memfd.c */
bool rust_gup_shmem_file(struct file *file);
bool rust_gup_is_file_hugepages(const struct file *file);
unsigned int rust_gup_memfd_seals(struct file *file);
int rust_gup_mapping_map_writable(struct address_space *mapping);
void rust_gup_mapping_unmap_writable(struct address_space *mapping);
bool rust_gup_is_append(const struct inode *inode);
loff_t rust_gup_i_size_read(const struct inode *inode);
void rust_gup_inode_lock_shared(struct inode *inode);
void rust_gup_inode_unlock_shared(struct inode *inode);
struct folio *rust_gup_filemap_get_folio(struct address_space *mapping, pgoff_t index);
pgoff_t rust_gup_folio_next_index(struct folio *folio);
void rust_gup_folio_put(struct folio *folio);

/* layout.c */
size_t rust_gup_c_layout(unsigned int i);

#endif /* RUST_GUP_HELPERS_H */
