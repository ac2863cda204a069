// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup's C helpers; see helpers.h. Only the abstraction layer under
 * rust/ calls them.
 */
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/interval_tree.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

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

#ifdef CONFIG_COMPAT
void __user *rust_gup_compat_ptr(u32 uptr)
{
	return compat_ptr(uptr);
}
#endif

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

/*
 * The PCI function whose memory BAR holds a P2PDMA page, with a reference
 * the caller puts; NULL if none does. struct pci_p2pdma_pagemap, which
 * records the provider, is private to drivers/pci/p2pdma.c, but
 * pci_p2pdma_add_resource() makes the pagemap's range out of one of the
 * provider's BARs, and those are public. Bridge windows are not BARs, so
 * the bridges above the provider do not match.
 */
static struct pci_dev *rust_gup_p2pdma_provider(struct page *page)
{
	phys_addr_t phys = page_to_phys(page);
	struct pci_dev *pdev = NULL;
	int bar;

	for_each_pci_dev(pdev) {
		for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
			struct resource *res = pci_resource_n(pdev, bar);

			if (resource_type(res) == IORESOURCE_MEM &&
			    phys >= res->start && phys <= res->end)
				return pdev;
		}
	}
	return NULL;
}

/* RUST_GUP_PCI_ID() of a function, or false if its domain has none. */
static bool rust_gup_pci_id(struct pci_dev *pdev, __u32 *id)
{
	int domain = pci_domain_nr(pdev->bus);

	if (domain < 0 || domain > 0xffff)
		return false;
	*id = RUST_GUP_PCI_ID(domain, pdev->bus->number, pdev->devfn);
	return true;
}

/* Describes a page the caller holds a reference or a pin on. */
void rust_gup_page_info(struct page *page, struct rust_gup_page_info *info)
{
	struct folio *folio = page_folio(page);
	__u32 provider = 0;
	__u32 flags = 0;

	if (folio_maybe_dma_pinned(folio))
		flags |= RUST_GUP_PAGE_DMA_PINNED;
	if (is_pci_p2pdma_page(page)) {
		struct pci_dev *pdev = rust_gup_p2pdma_provider(page);

		flags |= RUST_GUP_PAGE_P2PDMA;
		if (pdev && rust_gup_pci_id(pdev, &provider))
			flags |= RUST_GUP_PAGE_PROVIDER;
		pci_dev_put(pdev);
	}
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
		.provider = provider,
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

/* The PCI function RUST_GUP_PCI_ID() id names, with a reference; or NULL. */
struct pci_dev *rust_gup_pci_get(u32 id)
{
	return pci_get_domain_bus_and_slot(RUST_GUP_PCI_DOMAIN(id),
					   RUST_GUP_PCI_BUS(id),
					   RUST_GUP_PCI_DEVFN(id));
}

void rust_gup_pci_put(struct pci_dev *pdev)
{
	pci_dev_put(pdev);
}

static enum dma_data_direction rust_gup_dma_dir(bool bidirectional)
{
	return bidirectional ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

/*
 * Whether page b, which follows a segment of len bytes that starts at
 * start and ends with page a, may join it: physically contiguous, from
 * the same pagemap (P2PDMA pages of one provider, or ordinary memory), and
 * within the device's limits: segment size (and the most one mapping may
 * cover, smaller under swiotlb) and boundary. Under dma-direct
 * a segment's DMA address range is its physical one, so a segment that
 * crossed the boundary would reach the device as such (DMA_API_DEBUG_SG
 * reports it).
 */
static bool rust_gup_sg_extends(phys_addr_t start, unsigned int len,
				struct page *a, struct page *b,
				unsigned int max_seg, unsigned long boundary)
{
	phys_addr_t end = start + len + PAGE_SIZE - 1;

	return page_to_pfn(b) == page_to_pfn(a) + 1 &&
	       zone_device_pages_have_same_pgmap(a, b) &&
	       len <= max_seg - PAGE_SIZE &&
	       (start | boundary) == (end | boundary);
}

/*
 * A scatterlist of nr pages for dev: runs of contiguous pages merged into
 * segments as rust_gup_sg_extends() allows. sg_alloc_table_from_pages()
 * knows the maximum segment size but not the boundary, hence two passes
 * here: count, then fill.
 */
static int rust_gup_sg_table(struct sg_table *sgt, struct device *dev,
			     struct page **pages, unsigned int nr)
{
	unsigned int max_seg = min_t(size_t, dma_get_max_seg_size(dev),
				     dma_max_mapping_size(dev)) & PAGE_MASK;
	unsigned long boundary = dma_get_seg_boundary(dev);
	struct scatterlist *sg = NULL;
	unsigned int i, nents = 0, len = 0;
	phys_addr_t start = 0;
	int ret;

	if (max_seg < PAGE_SIZE || boundary < PAGE_SIZE - 1)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (i && rust_gup_sg_extends(start, len, pages[i - 1], pages[i],
					     max_seg, boundary)) {
			len += PAGE_SIZE;
			continue;
		}
		nents++;
		start = page_to_phys(pages[i]);
		len = PAGE_SIZE;
	}
	ret = sg_alloc_table(sgt, nents, GFP_KERNEL | __GFP_NOWARN);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		if (sg && rust_gup_sg_extends(start, sg->length, pages[i - 1],
					      pages[i], max_seg, boundary)) {
			sg->length += PAGE_SIZE;
			continue;
		}
		sg = sg ? sg_next(sg) : sgt->sgl;
		sg_set_page(sg, pages[i], PAGE_SIZE, 0);
		start = page_to_phys(pages[i]);
	}
	return 0;
}

/*
 * A DMA mapping of pinned pages for a client device: the table; when the
 * device may write, the pfn ranges of its segments as claimed in
 * rust_gup_dma_writable; and its place in rust_gup_dma_mappings until it
 * is unmapped, by its owner or, when the client's driver is unbound, by
 * rust_gup_dma_bus_notify() (which marks it revoked).
 */
struct rust_gup_dma_mapping {
	struct sg_table sgt;
	struct device *dev;
	struct list_head node;
	bool bidirectional;
	bool revoked;
	unsigned int nr_ranges;
	struct interval_tree_node *ranges;
};

/*
 * rust_gup_dma_lock guards the two module-wide structures below and the
 * revoked flags. It nests inside device_lock() of a client.
 *
 * rust_gup_dma_writable: the pfn ranges that mappings of all open files
 * let a device write. The DMA API does not support two such mappings of
 * one cacheline at once: on a system without coherent DMA, one mapping's
 * cache maintenance would destroy data the device wrote through the other,
 * and CONFIG_DMA_API_DEBUG WARNs ("overlapping mappings aren't
 * supported"). A writable mapping that overlaps a claimed range, its own
 * included (a page mapped at two addresses of the range), is refused with
 * -EBUSY. Read-only (DMA_TO_DEVICE) mappings may overlap anything.
 *
 * rust_gup_dma_mappings: the live mappings, so that unbinding a client's
 * driver can unmap them first: DMA mappings must not outlive the binding
 * (the unbind tears down the device's DMA configuration, and
 * CONFIG_DMA_API_DEBUG WARNs about "pending DMA allocations").
 */
static DEFINE_MUTEX(rust_gup_dma_lock);
static struct rb_root_cached rust_gup_dma_writable = RB_ROOT_CACHED;
static LIST_HEAD(rust_gup_dma_mappings);

/* Under rust_gup_dma_lock: drops the first n claimed ranges of m. */
static void rust_gup_dma_unclaim(struct rust_gup_dma_mapping *m,
				 unsigned int n)
{
	unsigned int i;

	lockdep_assert_held(&rust_gup_dma_lock);
	for (i = 0; i < n; i++) {
		interval_tree_remove(&m->ranges[i], &rust_gup_dma_writable);
		if (i % 1024 == 1023)
			cond_resched();
	}
	m->nr_ranges = 0;
}

/* Under rust_gup_dma_lock: claims m's segments, or -EBUSY. */
static int rust_gup_dma_claim(struct rust_gup_dma_mapping *m)
{
	struct scatterlist *sg;
	unsigned int i;

	lockdep_assert_held(&rust_gup_dma_lock);
	for_each_sgtable_sg(&m->sgt, sg, i) {
		struct interval_tree_node *range = &m->ranges[i];

		range->start = page_to_pfn(sg_page(sg));
		range->last = range->start + sg->length / PAGE_SIZE - 1;
		if (interval_tree_iter_first(&rust_gup_dma_writable,
					     range->start, range->last)) {
			rust_gup_dma_unclaim(m, i);
			return -EBUSY;
		}
		interval_tree_insert(range, &rust_gup_dma_writable);
		if (i % 1024 == 1023)
			cond_resched();
	}
	m->nr_ranges = m->sgt.orig_nents;
	return 0;
}

/* Under rust_gup_dma_lock: unmaps a live mapping and unclaims it. */
static void rust_gup_dma_undo(struct rust_gup_dma_mapping *m)
{
	lockdep_assert_held(&rust_gup_dma_lock);
	dma_unmap_sgtable(m->dev, &m->sgt, rust_gup_dma_dir(m->bidirectional), 0);
	rust_gup_dma_unclaim(m, m->nr_ranges);
	list_del_init(&m->node);
}

static int rust_gup_dma_map_locked(struct device *dev, struct page **pages,
				   unsigned int nr, struct rust_gup_dma_mapping *m)
{
	struct dev_pagemap *reachable = NULL;
	unsigned int i;
	int ret;

	device_lock_assert(dev);
	if (!dev->driver || !dev->dma_mask)
		return -ENODEV;

	for (i = 0; i < nr; i++) {
		struct pci_dev *provider;
		int distance = -1;

		if (!is_pci_p2pdma_page(pages[i]) || pages[i]->pgmap == reachable)
			continue;
		provider = rust_gup_p2pdma_provider(pages[i]);
		if (provider)
			distance = pci_p2pdma_distance(provider, dev, false);
		pci_dev_put(provider);
		if (distance < 0)
			return -EREMOTEIO;
		reachable = pages[i]->pgmap;
	}

	ret = rust_gup_sg_table(&m->sgt, dev, pages, nr);
	if (ret)
		return ret;
	if (m->bidirectional) {
		m->ranges = kvcalloc(m->sgt.orig_nents, sizeof(*m->ranges),
				     GFP_KERNEL | __GFP_NOWARN);
		ret = m->ranges ? 0 : -ENOMEM;
		if (!ret) {
			mutex_lock(&rust_gup_dma_lock);
			ret = rust_gup_dma_claim(m);
			mutex_unlock(&rust_gup_dma_lock);
		}
		if (ret)
			goto free;
	}
	ret = dma_map_sgtable(dev, &m->sgt, rust_gup_dma_dir(m->bidirectional),
			      DMA_ATTR_NO_WARN);
	if (ret)
		goto unclaim;
	mutex_lock(&rust_gup_dma_lock);
	list_add(&m->node, &rust_gup_dma_mappings);
	mutex_unlock(&rust_gup_dma_lock);
	return 0;

unclaim:
	mutex_lock(&rust_gup_dma_lock);
	rust_gup_dma_unclaim(m, m->nr_ranges);
	mutex_unlock(&rust_gup_dma_lock);
free:
	kvfree(m->ranges);
	sg_free_table(&m->sgt);
	return ret;
}

/*
 * Maps nr pinned pages for DMA by client: a scatterlist of the pages
 * (rust_gup_sg_table()), claimed if the client may write, and mapped with
 * dma_map_sgtable(), which maps P2PDMA pages the way the PCI topology
 * allows. The client's device lock is held throughout, so its driver
 * cannot be unbound in between: the mapping is on rust_gup_dma_mappings
 * before an unbind can look. Stores the mapping, for rust_gup_dma_unmap(),
 * at out; or fails, with errors of dma_map_sgtable() and:
 *  -ENODEV when no driver is bound to client: nobody would program it
 *   with the addresses, and unbinding must not leave mappings behind;
 *  -EREMOTEIO when client cannot reach the provider of a P2PDMA page.
 *   This is checked first, with pci_p2pdma_distance(), quietly: the DMA
 *   layer would refuse the same with -EREMOTEIO, but only after a
 *   pci_warn() about the pair;
 *  -EBUSY when the client may write and a page is already mapped so;
 *  -EINTR when a fatal signal came while waiting for the device lock.
 */
int rust_gup_dma_map(struct pci_dev *client, struct page **pages,
		     unsigned int nr, bool bidirectional,
		     struct rust_gup_dma_mapping **out)
{
	struct device *dev = &client->dev;
	struct rust_gup_dma_mapping *m;
	int ret;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->dev = dev;
	m->bidirectional = bidirectional;
	INIT_LIST_HEAD(&m->node);

	if (mutex_lock_killable(&dev->mutex)) {
		kfree(m);
		return -EINTR;
	}
	ret = rust_gup_dma_map_locked(dev, pages, nr, m);
	device_unlock(dev);
	if (ret) {
		kfree(m);
		return ret;
	}
	*out = m;
	return 0;
}

/*
 * Unbinding a client's driver: its mappings are unmapped first, while the
 * driver is still bound, and marked revoked. Their pins stay held until
 * their owners release them.
 */
static int rust_gup_dma_bus_notify(struct notifier_block *nb,
				   unsigned long action, void *data)
{
	struct rust_gup_dma_mapping *m, *next;
	struct device *dev = data;

	if (action != BUS_NOTIFY_UNBIND_DRIVER)
		return NOTIFY_DONE;
	mutex_lock(&rust_gup_dma_lock);
	list_for_each_entry_safe(m, next, &rust_gup_dma_mappings, node) {
		if (m->dev != dev)
			continue;
		rust_gup_dma_undo(m);
		m->revoked = true;
	}
	mutex_unlock(&rust_gup_dma_lock);
	return NOTIFY_OK;
}

static struct notifier_block rust_gup_dma_nb = {
	.notifier_call = rust_gup_dma_bus_notify,
};

/* Module init and exit: watch for unbinds while mappings may exist. */
int rust_gup_dma_watch(void)
{
	return bus_register_notifier(&pci_bus_type, &rust_gup_dma_nb);
}

void rust_gup_dma_unwatch(void)
{
	bus_unregister_notifier(&pci_bus_type, &rust_gup_dma_nb);
}

/* Undoes rust_gup_dma_map(), unless an unbind did already. */
void rust_gup_dma_unmap(struct rust_gup_dma_mapping *m)
{
	mutex_lock(&rust_gup_dma_lock);
	if (!m->revoked)
		rust_gup_dma_undo(m);
	mutex_unlock(&rust_gup_dma_lock);
	kvfree(m->ranges);
	sg_free_table(&m->sgt);
	kfree(m);
}

/* Whether an unbind of the client's driver unmapped m. */
bool rust_gup_dma_revoked(struct rust_gup_dma_mapping *m)
{
	bool revoked;

	mutex_lock(&rust_gup_dma_lock);
	revoked = m->revoked;
	mutex_unlock(&rust_gup_dma_lock);
	return revoked;
}

unsigned int rust_gup_dma_nr_segments(const struct rust_gup_dma_mapping *m)
{
	return m->sgt.nents;
}

/* Describes the DMA segments of a mapping: segs has room for all. */
void rust_gup_dma_segments(struct rust_gup_dma_mapping *m,
			   struct rust_gup_dma_segment *segs)
{
	struct scatterlist *sg;
	int i;

	for_each_sgtable_dma_sg(&m->sgt, sg, i) {
		segs[i] = (struct rust_gup_dma_segment) {
			.addr = sg_dma_address(sg),
			.len = sg_dma_len(sg),
			.flags = sg_dma_is_bus_address(sg) ?
				RUST_GUP_DMA_BUS_ADDR : 0,
		};
	}
}
