// SPDX-License-Identifier: GPL-2.0

//! P2PDMA pins kept past the call by an owner that says they are
//! short-lived: they are not (the provider's unbind waits for every page),
//! so `MaybeP2pdma` is no `ShortLived` kind; only a revocable set keeps
//! them.
//!
//! expect: doesn't satisfy `MaybeP2pdma: ShortLived`

use crate::kernel_ext::gup::{Access, GupOptions, Layout, MaybeP2pdma, PinnedPages};
use kernel::prelude::*;

fn kept_p2pdma() -> Result<PinnedPages<MaybeP2pdma>> {
    PinnedPages::<MaybeP2pdma>::new_unscoped(GupOptions::new(Access::Read), Layout::Runs)
}
