//! One page's answer from /proc/self/pagemap: the raw 64-bit entry split
//! into its fields (`PagemapEntry`), and what it says about the page
//! (`HostFrame`): where it lives in host-physical memory, or why that is
//! not known (hidden without CAP_SYS_ADMIN, swapped, never touched).

use crate::addr::{Hpa, Hva, PAGE};

/// Where one host-virtual page lives in host-physical memory.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum HostFrame {
    /// Resident; `page_size` is the host page (4 KiB, 2 MiB, 1 GiB) when known.
    Present {
        /// The host-physical address.
        hpa: Hpa,
        /// The host page's size in bytes.
        page_size: Option<u64>,
    },
    /// Resident, but the kernel hides PFNs from processes without CAP_SYS_ADMIN.
    NeedsCap,
    /// Never touched (or dropped): no host page yet.
    NotPresent,
    /// In swap: it has no host-physical address now.
    Swapped,
    /// Pagemap could not be read for this address; the reason.
    Unavailable(String),
}

impl std::fmt::Display for HostFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostFrame::Present { hpa, .. } => write!(f, "{hpa}"),
            HostFrame::NeedsCap => f.write_str("unavailable (needs CAP_SYS_ADMIN)"),
            HostFrame::NotPresent => f.write_str("not present"),
            HostFrame::Swapped => f.write_str("swapped out"),
            HostFrame::Unavailable(why) => write!(f, "unavailable ({why})"),
        }
    }
}

/// One 64-bit /proc/self/pagemap entry (Documentation/admin-guide/mm/pagemap.rst):
/// bits 0-54 PFN (when present), 61 file page or shared anonymous,
/// 62 swapped, 63 present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagemapEntry {
    /// Bits 0-54: the page frame number when present (0 without CAP_SYS_ADMIN).
    pub pfn: u64,
    /// Bit 61: a file page or shared anonymous page.
    pub file_or_shared: bool,
    /// Bit 62: in swap.
    pub swapped: bool,
    /// Bit 63: in RAM.
    pub present: bool,
}

impl PagemapEntry {
    /// Split a raw pagemap entry into its fields.
    pub fn decode(raw: u64) -> PagemapEntry {
        PagemapEntry {
            pfn: raw & ((1 << 55) - 1),
            file_or_shared: raw & (1 << 61) != 0,
            swapped: raw & (1 << 62) != 0,
            present: raw & (1 << 63) != 0,
        }
    }

    /// The frame this entry gives `hva` (page size left unknown). PFN 0 of a
    /// present page means the kernel hid it: physical page 0 is never
    /// handed to a process.
    pub fn frame(&self, hva: Hva) -> HostFrame {
        if self.present {
            if self.pfn == 0 {
                return HostFrame::NeedsCap;
            }
            match self.pfn.checked_mul(PAGE) {
                Some(base) => HostFrame::Present {
                    hpa: Hpa(base | (hva.raw() & (PAGE - 1))),
                    page_size: None,
                },
                None => HostFrame::Unavailable(format!("PFN {:#x} out of range", self.pfn)),
            }
        } else if self.swapped {
            HostFrame::Swapped
        } else {
            HostFrame::NotPresent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESENT: u64 = 1 << 63;

    #[test]
    fn decode_entries() {
        let e = PagemapEntry::decode(PRESENT | (1 << 61) | 0x12345);
        assert_eq!(
            (e.pfn, e.file_or_shared, e.swapped, e.present),
            (0x12345, true, false, true)
        );
        assert_eq!(
            e.frame(Hva(0x7f00_0000_0abc)),
            HostFrame::Present {
                hpa: Hpa(0x1234_5abc),
                page_size: None
            }
        );
        // Present with PFN 0: the kernel hid it. Never address 0.
        assert_eq!(
            PagemapEntry::decode(PRESENT).frame(Hva(0)),
            HostFrame::NeedsCap
        );
        assert_eq!(
            PagemapEntry::decode(1 << 62 | 0x1f).frame(Hva(0)),
            HostFrame::Swapped
        );
        assert_eq!(PagemapEntry::decode(0).frame(Hva(0)), HostFrame::NotPresent);
        // Soft-dirty and exclusive bits (55, 56) are not part of the PFN.
        assert_eq!(PagemapEntry::decode(PRESENT | 3 << 55 | 7).pfn, 7);
        let widest = PagemapEntry::decode(PRESENT | ((1 << 55) - 1));
        assert!(matches!(widest.frame(Hva(0)), HostFrame::Unavailable(_)));
    }
}
