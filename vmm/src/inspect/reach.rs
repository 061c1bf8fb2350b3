//! How efficiently an address space is mapped: how many of its pages have
//! each (guest page size, host page size) combination. From that the report
//! derives the TLB reach (pages x page size) and the memory references one
//! TLB miss costs for each combination actually present.

use std::collections::BTreeMap;

use super::gpa_to_hpa::HostView;
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
/// guest costs about 512 lookups (at most two per block). What is kept per
/// block is a dense array over guest RAM only (1024 entries for 2 GiB):
/// a page whose GPA is past RAM has no host page, and costs nothing, however
/// many of them hostile tables list.
pub fn count_sizes<H: HostView + ?Sized>(host: &H, pages: &[Page]) -> Vec<SizeCount> {
    const BLOCK: u64 = 2 << 20;
    let ram = host.ram_end();
    let blocks = usize::try_from(ram.div_ceil(BLOCK)).unwrap_or(0);
    // Per block: unknown yet, or the host page size and whether the
    // fallback was tried.
    let mut host_of: Vec<Option<(Option<u64>, bool)>> = vec![None; blocks];
    let mut counts: BTreeMap<(u64, Option<u64>), u64> = BTreeMap::new();
    for pg in pages {
        let gpa = pg.gpa.raw();
        let slot = usize::try_from(gpa / BLOCK)
            .ok()
            .filter(|_| gpa < ram)
            .and_then(|i| host_of.get_mut(i));
        let h = match slot {
            None => None,
            Some(known) => {
                let block = gpa & !(BLOCK - 1);
                let known = known.get_or_insert_with(|| (host.locate(Gpa(block)).page_size, false));
                // That first frame may not be on the host yet (never
                // touched): then the first page seen in the block says, once.
                if known.0.is_none() && !known.1 {
                    *known = (host.locate(pg.gpa).page_size, true);
                }
                known.0
            }
        };
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
    use crate::inspect::HostPage;
    use crate::pagemap::HostFrame;
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
        fn ram_end(&self) -> u64 {
            128 << 20
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

    /// Counts the host lookups it is asked for.
    struct Counting(std::cell::Cell<u64>);
    impl HostView for Counting {
        fn locate(&self, gpa: Gpa) -> HostPage {
            self.0.set(self.0.get() + 1);
            Split.locate(gpa)
        }
        fn read_u64_via_hva(&self, _: Gpa) -> Option<u64> {
            None
        }
        fn ram_end(&self) -> u64 {
            4 << 20
        }
    }

    #[test]
    fn pages_past_ram_cost_no_lookup_and_no_state() {
        // A million pages, each in its own 2 MiB block past RAM (as aliased
        // hostile tables list them), and two inside RAM's two blocks.
        let mut pages: Vec<Page> = (2..1u64 << 20)
            .map(|i| page(i << 21, PageSize::Size4K))
            .collect();
        pages.push(page(0x1000, PageSize::Size4K));
        pages.push(page(0x20_1000, PageSize::Size4K));
        let host = Counting(std::cell::Cell::new(0));
        let c = count_sizes(&host, &pages);
        assert_eq!(host.0.get(), 2, "one lookup per RAM block");
        let t: Vec<(u64, Option<u64>, u64)> = c
            .iter()
            .map(|s| (s.guest_page_size, s.host_page_size, s.pages))
            .collect();
        assert_eq!(t, [(4096, None, (1 << 20) - 2), (4096, Some(2 << 20), 2)]);
    }
}
