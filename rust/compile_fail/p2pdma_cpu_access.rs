// SPDX-License-Identifier: GPL-2.0

//! The CPU reading P2PDMA pins: a device BAR has no CPU mapping to rely
//! on, so `MaybeP2pdma` is no `CpuAccessible` kind.
//!
//! expect: doesn't satisfy `MaybeP2pdma: CpuAccessible`

use crate::kernel_ext::gup::{MaybeP2pdma, PinnedPages};
use kernel::prelude::*;

fn read_p2pdma(pins: &PinnedPages<MaybeP2pdma>) -> Result {
    let mut buf = [0u8; 8];
    pins.read(0, 0, &mut buf)
}
