// SPDX-License-Identifier: GPL-2.0
/* Pages and folios that GUP hands out. */
#include <linux/mm.h>

#include "helpers.h"

/*
 * Drops one reference on each page, marking it dirty first if asked: the
 * loop gup_test runs. It stays in C so that put_page() inlines into the
 * loop as it does in gup_test; a Rust loop would make one call per page
 * to a put_page() wrapper, and the benchmark compares the two.
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

/* A large folio's pin count (its _pincount field moves between versions). */
int rust_gup_folio_pincount(const struct folio *folio)
{
	return atomic_read(&folio->_pincount);
}
