//! How efficiently an address space is mapped: how many of its pages have
//! each (guest page size, host page size) combination. From that the report
//! derives the TLB reach (pages x page size) and the memory references one
//! TLB miss costs for each combination actually present.

use std::collections::BTreeMap;

use super::host::HostView;
use crate::addr::Gpa;
use crate::paging::Page;

/// Pages with one combination of guest and host page size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeCount {
    /// The guest page size, bytes.
    pub guest_page_size: u64,
    /// The host page behind it, bytes; None when the host did not say.
    pub host_page_size: Option<u64>,
    /// How many mapped pages have this combination.
    pub pages: u64,
}

/// Count `pages` by guest and host page size. The host side is looked up
/// once per 2 MiB of guest-physical memory (the first frame of that block
/// speaks for it: THP and hugetlb back whole 2 MiB blocks), so a 1 GiB
/// guest costs about 512 lookups (at most two per block).
pub fn count_sizes<H: HostView + ?Sized>(host: &H, pages: &[Page]) -> Vec<SizeCount> {
    const BLOCK: u64 = 2 << 20;
    // Per block: the host page size, and whether the fallback was tried.
    let mut host_of: BTreeMap<u64, (Option<u64>, bool)> = BTreeMap::new();
    let mut counts: BTreeMap<(u64, Option<u64>), u64> = BTreeMap::new();
    for pg in pages {
        let block = pg.gpa.raw() & !(BLOCK - 1);
        let known = host_of
            .entry(block)
            .or_insert_with(|| (host.locate(Gpa(block)).page_size, false));
        // That first frame may not be on the host yet (never touched):
        // then the first page seen in the block says, once (a hostile
        // table can list a million pages outside guest RAM).
        if known.0.is_none() && !known.1 {
            *known = (host.locate(pg.gpa).page_size, true);
        }
        let h = known.0;
        *counts.entry((pg.page_size.bytes(), h)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((g, h), pages)| SizeCount {
            guest_page_size: g,
            host_page_size: h,
            pages,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{Gva, Hva};
    use crate::hostmem::HostFrame;
    use crate::inspect::HostPage;
    use crate::paging::{PageSize, PteFlags};

    /// Host pages of 2 MiB below GPA 64 MiB, 4 KiB above.
    struct Split;
    impl HostView for Split {
        fn locate(&self, gpa: Gpa) -> HostPage {
            HostPage {
                hva: Some(Hva(gpa.raw())),
                frame: HostFrame::NeedsCap,
                page_size: Some(if gpa.raw() < 64 << 20 { 2 << 20 } else { 4096 }),
            }
        }
        fn read_u64_via_hva(&self, _: Gpa) -> Option<u64> {
            None
        }
    }

    fn page(gpa: u64, size: PageSize) -> Page {
        Page {
            gva: Gva(gpa),
            gpa: Gpa(gpa),
            page_size: size,
            flags: PteFlags::empty(),
        }
    }

    #[test]
    fn counts_each_combination() {
        let pages = [
            page(0x20_0000, PageSize::Size2M),
            page(0x40_0000, PageSize::Size2M),
            page(0x1000, PageSize::Size4K),
            page(0x500_0000, PageSize::Size4K),
            page(0x500_1000, PageSize::Size4K),
            page(0x520_0000, PageSize::Size2M),
        ];
        let c = count_sizes(&Split, &pages);
        let t: Vec<(u64, Option<u64>, u64)> = c
            .iter()
            .map(|s| (s.guest_page_size, s.host_page_size, s.pages))
            .collect();
        assert_eq!(
            t,
            [
                (4096, Some(4096), 2),
                (4096, Some(2 << 20), 1),
                (2 << 20, Some(4096), 1),
                (2 << 20, Some(2 << 20), 2),
            ]
        );
    }
}
