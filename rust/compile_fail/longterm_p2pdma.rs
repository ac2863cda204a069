// SPDX-License-Identifier: GPL-2.0

//! A long-term P2PDMA pin: GUP refuses FOLL_LONGTERM with FOLL_PCI_P2PDMA
//! (6.12's is_valid_gup_args() WARNs), since the provider's memory may be
//! unplugged at any time. Only `PinnedPages<LongTerm>` has a constructor
//! for pins its owner keeps.
//!
//! expect: no function or associated item named `new` found for struct `PinnedPages<MaybeP2pdma>`

use crate::kernel_ext::gup::{Access, GupOptions, Layout, MaybeP2pdma, PinnedPages};
use kernel::prelude::*;

fn kept_p2pdma() -> Result<PinnedPages<MaybeP2pdma>> {
    PinnedPages::<MaybeP2pdma>::new(GupOptions::new(Access::Read), Layout::Runs)
}
