// SPDX-License-Identifier: GPL-2.0

//! A pin kind of one's own, here the long-term P2PDMA pin the layer has no
//! kind for: `PinKind` is sealed, the kinds the layer defines are all
//! there is.
//!
//! expect: the trait bound `LongTermP2pdma: gup::private::Sealed` is not satisfied

use crate::kernel_ext::{
    bindings,
    gup::{CpuPages, PinKind, PinnedPages},
};

enum LongTermP2pdma {}

impl PinKind for LongTermP2pdma {
    const FOLL: u32 = bindings::FOLL_LONGTERM | bindings::FOLL_PCI_P2PDMA;

    fn cpu_pages(_pins: &PinnedPages<Self>) -> Option<&dyn CpuPages> {
        None
    }
}
