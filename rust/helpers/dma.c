// SPDX-License-Identifier: GPL-2.0
/*
 * DMA mapping of scatterlists and pages, the device lock around it, and
 * the XArray of pages that mirrors claim.
 */
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/xarray.h>

#include "helpers.h"

/*
 * For tests: a pause before each pinned mapping is unmapped and before
 * each revoked P2PDMA set is released, so that a test can make an unbind
 * or an UNPIN meet a release in progress, which otherwise lasts
 * microseconds. A parameter rather than Rust: the kernel crate of 6.12 has
 * no module parameters.
 */
static unsigned int test_release_delay_ms;
module_param(test_release_delay_ms, uint, 0600);
MODULE_PARM_DESC(test_release_delay_ms, "for tests: ms to wait before each unmap of a pinned mapping and each release of a revoked set");

void rust_gup_test_release_delay(void)
{
	unsigned int ms = READ_ONCE(test_release_delay_ms);

	if (ms)
		msleep(ms);
}

int rust_gup_mutex_lock_killable(struct mutex *lock)
{
	return mutex_lock_killable(lock);
}

void rust_gup_device_unlock(struct device *dev)
{
	device_unlock(dev);
}

unsigned int rust_gup_dma_get_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

unsigned long rust_gup_dma_get_seg_boundary(struct device *dev)
{
	return dma_get_seg_boundary(dev);
}

void rust_gup_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				enum dma_data_direction dir,
				unsigned long attrs)
{
	dma_unmap_sgtable(dev, sgt, dir, attrs);
}

void rust_gup_sg_set_page(struct scatterlist *sg, struct page *page,
			  unsigned int len, unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

struct page *rust_gup_sg_page(struct scatterlist *sg)
{
	return sg_page(sg);
}

u64 rust_gup_sg_dma_address(struct scatterlist *sg)
{
	return sg_dma_address(sg);
}

unsigned int rust_gup_sg_dma_len(struct scatterlist *sg)
{
	return sg_dma_len(sg);
}

bool rust_gup_sg_dma_is_bus_address(struct scatterlist *sg)
{
	return sg_dma_is_bus_address(sg);
}

int rust_gup_dma_mapping_error(struct device *dev, dma_addr_t dma_addr)
{
	return dma_mapping_error(dev, dma_addr);
}


void rust_gup_xa_init(struct xarray *xa)
{
	xa_init(xa);
}

/* xa_insert() of the one value a claim needs: present or not. */
int rust_gup_xa_insert(struct xarray *xa, unsigned long index, gfp_t gfp)
{
	return xa_insert(xa, index, xa_mk_value(0), gfp);
}

/* Whether an entry is present in [first, last]: xa_find(), XA_PRESENT. */
bool rust_gup_xa_present(struct xarray *xa, unsigned long first, unsigned long last)
{
	return xa_find(xa, &first, last, XA_PRESENT);
}
