// SPDX-License-Identifier: GPL-2.0
/* PCI functions and their peer-to-peer memory. */
#include <linux/memremap.h>
#include <linux/pci.h>

#include "helpers.h"

int rust_gup_pci_domain_nr(struct pci_bus *bus)
{
	return pci_domain_nr(bus);
}

bool rust_gup_is_pci_p2pdma_page(const struct page *page)
{
	return is_pci_p2pdma_page(page);
}

u16 rust_gup_pci_dev_id(struct pci_dev *dev)
{
	return pci_dev_id(dev);
}
