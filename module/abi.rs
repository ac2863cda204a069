// SPDX-License-Identifier: GPL-2.0

//! The layer's types as the uapi header encodes them: the one place the
//! ioctl ABI's encodings are made.

#![forbid(unsafe_code)]

use kernel::static_assert;

use crate::kernel_ext::{
    dma::DmaSegment,
    hmm::MAX_MIRROR_PAGES,
    page::{PageInfo, Zone},
    pci::PciAddress,
    uapi,
};

// The mirror's limit in the uapi header is the layer's.
static_assert!(uapi::RUST_GUP_MIRROR_MAX_PAGES as usize == MAX_MIRROR_PAGES);

/// The function a `RUST_GUP_PCI_ID()` names.
pub(crate) fn pci_address(id: u32) -> PciAddress {
    PciAddress {
        domain: id >> 16,
        bus: (id >> 8) as u8,
        devfn: id as u8,
    }
}

/// `RUST_GUP_PCI_ID()` of a function; `None` for a domain above 0xffff
/// (behind Intel VMD), which the encoding has no room for.
pub(crate) fn pci_id(addr: PciAddress) -> Option<u32> {
    let domain = u16::try_from(addr.domain).ok()?;
    Some(u32::from(domain) << 16 | u32::from(addr.bus) << 8 | u32::from(addr.devfn))
}

fn zone(zone: Zone) -> u32 {
    match zone {
        Zone::Dma => uapi::RUST_GUP_ZONE_DMA,
        Zone::Dma32 => uapi::RUST_GUP_ZONE_DMA32,
        Zone::Normal => uapi::RUST_GUP_ZONE_NORMAL,
        Zone::Movable => uapi::RUST_GUP_ZONE_MOVABLE,
        Zone::Device => uapi::RUST_GUP_ZONE_DEVICE,
        Zone::Other => uapi::RUST_GUP_ZONE_OTHER,
    }
}

impl From<PageInfo> for uapi::rust_gup_page_info {
    fn from(info: PageInfo) -> Self {
        let provider = info.provider.and_then(pci_id);
        let flags = [
            (info.dma_pinned, uapi::RUST_GUP_PAGE_DMA_PINNED),
            (info.p2pdma, uapi::RUST_GUP_PAGE_P2PDMA),
            (info.hugetlb, uapi::RUST_GUP_PAGE_HUGETLB),
            (info.anon, uapi::RUST_GUP_PAGE_ANON),
            (info.dirty, uapi::RUST_GUP_PAGE_DIRTY),
            (provider.is_some(), uapi::RUST_GUP_PAGE_PROVIDER),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |flags, (_, flag)| flags | flag);
        uapi::rust_gup_page_info {
            pfn: info.pfn,
            zone: zone(info.zone),
            order: info.order,
            flags,
            pincount: info.pincount,
            refcount: info.refcount,
            provider: provider.unwrap_or(0),
        }
    }
}

impl From<DmaSegment> for uapi::rust_gup_dma_segment {
    fn from(segment: DmaSegment) -> Self {
        uapi::rust_gup_dma_segment {
            addr: segment.addr,
            len: segment.len,
            flags: if segment.bus_address {
                uapi::RUST_GUP_DMA_BUS_ADDR
            } else {
                0
            },
        }
    }
}
