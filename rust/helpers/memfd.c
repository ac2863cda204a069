// SPDX-License-Identifier: GPL-2.0
/* Files whose pages memfd_pin_folios() pins: shmem and hugetlbfs. */
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>

#include "helpers.h"

bool rust_gup_shmem_file(struct file *file)
{
	return shmem_file(file);
}

bool rust_gup_is_file_hugepages(const struct file *file)
{
	return is_file_hugepages(file);
}

/*
 * The seals of a shmem or hugetlbfs file (F_SEAL_*), as mm/memfd.c's
 * memfd_file_seals_ptr() finds them; that function is static, and
 * memfd_fcntl(F_GET_SEALS) is not exported. Stable under the inode lock,
 * which memfd_add_seals() takes.
 */
unsigned int rust_gup_memfd_seals(struct file *file)
{
	if (shmem_file(file))
		return SHMEM_I(file_inode(file))->seals;
	if (is_file_hugepages(file))
		return HUGETLBFS_I(file_inode(file))->seals;
	return 0;
}

int rust_gup_mapping_map_writable(struct address_space *mapping)
{
	return mapping_map_writable(mapping);
}

void rust_gup_mapping_unmap_writable(struct address_space *mapping)
{
	mapping_unmap_writable(mapping);
}

bool rust_gup_is_append(const struct inode *inode)
{
	return IS_APPEND(inode);
}

loff_t rust_gup_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void rust_gup_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void rust_gup_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

/* filemap_get_folio(), with NULL rather than an ERR_PTR() for none. */
struct folio *rust_gup_filemap_get_folio(struct address_space *mapping, pgoff_t index)
{
	struct folio *folio = filemap_get_folio(mapping, index);

	return IS_ERR(folio) ? NULL : folio;
}

pgoff_t rust_gup_folio_next_index(struct folio *folio)
{
	return folio_next_index(folio);
}

void rust_gup_folio_put(struct folio *folio)
{
	folio_put(folio);
}
