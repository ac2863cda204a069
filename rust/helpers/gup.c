// SPDX-License-Identifier: GPL-2.0
/* Pages and folios that GUP hands out. */
#include <linux/mm.h>
#include <linux/version.h>

#include "helpers.h"

/*
 * Drops @refs references on @folio, as @refs put_page()s of its pages would
 * (7.3's put_page() also returns early for slab and large kmalloc pages,
 * which GUP never hands out).
 */
static __always_inline void put_folio_refs(struct folio *folio, unsigned long refs)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
	if (put_devmap_managed_folio_refs(folio, refs))
		return;
#endif
	folio_put_refs(folio, refs);
}

/*
 * Puts the pages of @folio that @pages holds in order from @pages[0], a
 * tail page, on: the run ends where @pages leaves the folio or its order.
 * Returns the run's length.
 */
static noinline unsigned long put_tail_run(struct page **pages, unsigned long nr,
					   struct folio *folio)
{
	unsigned long idx = folio_page_idx(folio, pages[0]);
	unsigned long max = min(nr, folio_nr_pages(folio) - idx);
	unsigned long refs = 1;

	while (refs < max && pages[refs] == folio_page(folio, idx + refs))
		refs++;
	put_folio_refs(folio, refs);
	return refs;
}

/*
 * Drops one reference on each page, by folio: the tail pages of a large
 * folio that @pages holds one after the other, in order, are put with one
 * folio_put_refs(), where gup_test makes one put_page() each; the run is
 * found from the page pointers alone, without reading the pages. A page that is not a tail
 * page (a small folio, or a large folio's head) is put on its own, as
 * put_page() would: telling a head from a small folio costs a look at its
 * flags, which every small page would pay, so a large folio whose head is
 * in @pages takes two folio_put_refs(). A small page's path is gup_test's
 * loop, with the test for a tail page that put_page() makes anyway, and no
 * more work: the put inlines into the loop, as it does in gup_test, which
 * is why this stays in C, and the benchmark compares the two. There is no
 * dirtying form: a page held by reference is not marked DMA-pinned, so
 * reclaim may have cleaned it and stripped its buffers by now
 * (pin_user_pages.rst, case 5).
 */
void rust_gup_put_pages(struct page **pages, unsigned long nr)
{
	struct page *page;
	unsigned long i;

	for (i = 0; i < nr; i++) {
		page = pages[i];
		if (unlikely(PageTail(page))) {
			i += put_tail_run(pages + i, nr - i, page_folio(page)) - 1;
			continue;
		}
		/* A page that is not a tail page is its folio: page_folio(). */
		put_folio_refs((struct folio *)page, 1);
	}
}

/* Drops @refs references on @folio, as @refs put_page()s of its pages would. */
void rust_gup_put_folio_refs(struct folio *folio, unsigned long refs)
{
	put_folio_refs(folio, refs);
}

long rust_gup_folio_nr_pages(const struct folio *folio)
{
	return folio_nr_pages(folio);
}

struct page *rust_gup_folio_page(struct folio *folio, unsigned long n)
{
	return folio_page(folio, n);
}

unsigned long rust_gup_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

struct page *rust_gup_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

bool rust_gup_pfn_valid(unsigned long pfn)
{
	return pfn_valid(pfn);
}

int rust_gup_page_zonenum(const struct page *page)
{
	return page_zonenum(page);
}

bool rust_gup_is_zone_device_page(const struct page *page)
{
	return is_zone_device_page(page);
}

bool rust_gup_zone_device_pages_have_same_pgmap(const struct page *a,
						const struct page *b)
{
	return zone_device_pages_have_same_pgmap(a, b);
}

struct folio *rust_gup_page_folio(struct page *page)
{
	return page_folio(page);
}

bool rust_gup_folio_maybe_dma_pinned(struct folio *folio)
{
	return folio_maybe_dma_pinned(folio);
}

/*
 * folio_is_longterm_pinnable() without its CMA half: folio_migratetype()
 * reads the pageblock flags through get_pfnblock_flags_mask(), which is
 * not exported to modules.
 */
bool rust_gup_folio_is_longterm_pinnable_outside_cma(struct folio *folio)
{
	return is_zero_folio(folio) ||
	       (!folio_is_device_coherent(folio) && !folio_is_zone_movable(folio));
}

bool rust_gup_folio_test_hugetlb(const struct folio *folio)
{
	return folio_test_hugetlb(folio);
}

bool rust_gup_folio_test_anon(const struct folio *folio)
{
	return folio_test_anon(folio);
}

bool rust_gup_folio_test_dirty(const struct folio *folio)
{
	return folio_test_dirty(folio);
}

bool rust_gup_folio_test_large(const struct folio *folio)
{
	return folio_test_large(folio);
}

unsigned int rust_gup_folio_order(const struct folio *folio)
{
	return folio_order(folio);
}

int rust_gup_folio_ref_count(const struct folio *folio)
{
	return folio_ref_count(folio);
}

/*
 * The reference count of @page's folio, and in @in_folio how many of the
 * folio's pages are @page and the ones after it.
 */
/*
 * The largest reference count among the folios of the held pages of one
 * GUP call, pages[0..nr). A page that follows the one before it inside the
 * same folio (a huge page, as GUP returns it) costs two compares; any
 * other page one look at its folio. One call per GUP call, so that a small
 * page costs no call of its own.
 */
int rust_gup_folios_max_refs(struct page **pages, unsigned long nr)
{
	struct page *folio_end = NULL;
	int max = 0;

	for (unsigned long i = 0; i < nr; i++) {
		struct page *page = pages[i];
		struct folio *folio;

		if (i && page == pages[i - 1] + 1 && page < folio_end)
			continue;
		folio = page_folio(page);
		folio_end = page + (folio_nr_pages(folio) - folio_page_idx(folio, page));
		max = max(max, folio_ref_count(folio));
	}
	return max;
}

/* A large folio's pin count (its _pincount field moves between versions). */
int rust_gup_folio_pincount(const struct folio *folio)
{
	return atomic_read(&folio->_pincount);
}
