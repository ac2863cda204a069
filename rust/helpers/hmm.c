// SPDX-License-Identifier: GPL-2.0
/* The mmu interval notifier's sequence, for HMM mirrors. */
#include <linux/mmu_notifier.h>

#include "helpers.h"

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
