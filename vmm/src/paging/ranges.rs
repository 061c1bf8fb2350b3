//! An address space as runs instead of pages: consecutive pages that are
//! contiguous in both GVA and GPA, with the same size and flags, are one
//! range (a 64 MiB heap backed by contiguous frames is one line, not 16384).

use std::ops::Range;

use super::entry::PteFlags;
use super::fault::WalkFault;
use super::level::PageSize;
use super::mode::PagingMode;
use super::pages::{Page, mapped_pages};
use super::physmem::PhysMem;
use crate::addr::{Gpa, Gva};

/// A run of pages mapped GVA-contiguous onto GPA-contiguous memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedRange {
    pub gva: Gva,
    pub gpa: Gpa,
    /// Bytes covered: `pages * page_size.bytes()`.
    pub len: u64,
    pub pages: u64,
    pub page_size: PageSize,
    pub flags: PteFlags,
}

impl MappedRange {
    fn of(p: &Page) -> Self {
        let len = p.page_size.bytes();
        Self {
            gva: p.gva,
            gpa: p.gpa,
            len,
            pages: 1,
            page_size: p.page_size,
            flags: p.flags,
        }
    }

    /// Whether `p` continues this run in both address spaces.
    fn extends(&self, p: &Page) -> bool {
        p.page_size == self.page_size
            && p.flags == self.flags
            && self.gva.checked_add(self.len) == Some(p.gva)
            && self.gpa.checked_add(self.len) == Some(p.gpa)
    }
}

/// Merge `pages` (in ascending GVA order) into maximal runs.
pub fn coalesce(pages: impl IntoIterator<Item = Page>) -> Vec<MappedRange> {
    coalesce_at_most(pages, usize::MAX).0
}

/// Merge `pages` into maximal runs, keeping the first `max` and counting
/// all: hostile tables (every page its own run) cannot make this grow
/// beyond `max` runs.
pub fn coalesce_at_most(
    pages: impl IntoIterator<Item = Page>,
    max: usize,
) -> (Vec<MappedRange>, usize) {
    let mut out: Vec<MappedRange> = Vec::new();
    let mut last: Option<MappedRange> = None;
    let mut total = 0usize;
    for p in pages {
        match last.as_mut() {
            Some(run) if run.extends(&p) => {
                run.len += run.page_size.bytes();
                run.pages += 1;
            }
            _ => {
                if let Some(done) = last.take()
                    && out.len() < max
                {
                    out.push(done);
                }
                total += 1;
                last = Some(MappedRange::of(&p));
            }
        }
    }
    if let Some(done) = last
        && out.len() < max
    {
        out.push(done);
    }
    (out, total)
}

/// The runs of an address space and the faults met while listing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedRanges {
    pub ranges: Vec<MappedRange>,
    pub faults: Vec<WalkFault>,
}

/// Return the mapped runs of the tables at `cr3` within `range` (see
/// `mapped_pages` for `limit`), keeping the faults instead of stopping at
/// the first: a run never spans a faulting subtree.
pub fn mapped_ranges<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: u64,
    mode: PagingMode,
    range: Range<Gva>,
    limit: u64,
) -> MappedRanges {
    let mut faults = Vec::new();
    let pages = mapped_pages(mem, cr3, mode, range, limit).filter_map(|item| match item {
        Ok(page) => Some(page),
        Err(fault) => {
            faults.push(fault);
            None
        }
    });
    let ranges = coalesce(pages);
    MappedRanges { ranges, faults }
}

#[cfg(test)]
mod tests {
    use super::super::builder::fixture;

    #[test]
    fn at_most_keeps_the_first_runs_and_counts_all() {
        let page = |i: u64, gpa: u64| Page {
            gva: Gva(i << 12),
            gpa: Gpa(gpa << 12),
            page_size: PageSize::Size4K,
            flags: PteFlags::empty(),
        };
        // Pages 0-2 contiguous, then 3 scattered ones: 4 runs.
        let pages = [
            page(0, 10),
            page(1, 11),
            page(2, 12),
            page(3, 50),
            page(4, 20),
            page(5, 60),
        ];
        let all = coalesce(pages);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].pages, 3);
        let (some, total) = coalesce_at_most(pages, 2);
        assert_eq!((some.len(), total), (2, 4));
        assert_eq!(some[..], all[..2]);
        assert_eq!(coalesce_at_most(pages, 0), (vec![], 4));
    }
    use super::*;

    #[test]
    fn runs_split_on_gaps_flags_sizes_and_gpa_jumps() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let rw = PteFlags::RW;
        // 0x10000..0x14000 -> 0x100000.. contiguous: one run of 4.
        for i in 0..4 {
            b.map(
                Gva(0x1_0000 + i * 0x1000),
                Gpa(0x10_0000 + i * 0x1000),
                PageSize::Size4K,
                rw,
            )
            .unwrap();
        }
        // Next GVA page, but the GPA jumps: a new run.
        b.map(Gva(0x1_4000), Gpa(0x20_0000), PageSize::Size4K, rw)
            .unwrap();
        // Contiguous in both, but read-only: a new run.
        b.map(
            Gva(0x1_5000),
            Gpa(0x20_1000),
            PageSize::Size4K,
            PteFlags::empty(),
        )
        .unwrap();
        // A hole in GVA, then two contiguous 2M pages crossing a PD boundary
        // into the next PDPT entry (0x3fe00000..0x40200000).
        b.map(Gva(0x3fe0_0000), Gpa(0x40_0000), PageSize::Size2M, rw)
            .unwrap();
        b.map(Gva(0x4000_0000), Gpa(0x60_0000), PageSize::Size2M, rw)
            .unwrap();
        // Contiguous 4K after the 2M page: different size, new run.
        b.map(Gva(0x4020_0000), Gpa(0x80_0000), PageSize::Size4K, rw)
            .unwrap();

        let all = Gva(0)..Gva(u64::MAX);
        let got = mapped_ranges(b.mem(), b.cr3(), mode, all, u64::MAX);
        assert!(got.faults.is_empty());
        let summary: Vec<_> = got
            .ranges
            .iter()
            .map(|r| (r.gva.raw(), r.gpa.raw(), r.len, r.pages))
            .collect();
        assert_eq!(
            summary,
            [
                (0x1_0000, 0x10_0000, 0x4000, 4),
                (0x1_4000, 0x20_0000, 0x1000, 1),
                (0x1_5000, 0x20_1000, 0x1000, 1),
                (0x3fe0_0000, 0x40_0000, 0x40_0000, 2),
                (0x4020_0000, 0x80_0000, 0x1000, 1),
            ]
        );
        assert_eq!(got.ranges[2].flags.to_string(), "P");
        assert_eq!(got.ranges[3].page_size, PageSize::Size2M);
    }

    #[test]
    fn coalesce_does_not_wrap_at_the_top() {
        let page = |gva, gpa| Page {
            gva: Gva(gva),
            gpa: Gpa(gpa),
            page_size: PageSize::Size4K,
            flags: PteFlags::P,
        };
        let runs = coalesce([page(u64::MAX - 0xfff, 0x1000), page(0, 0x2000)]);
        assert_eq!(runs.len(), 2);
        assert!(coalesce([]).is_empty());
    }

    #[test]
    fn faults_are_kept_beside_the_runs() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0x1000),
            Gpa(0x1000),
            PageSize::Size4K,
            PteFlags::empty(),
        )
        .unwrap();
        let root = b.cr3();
        b.mem_mut().write_u64(Gpa(root + 8), 1 << 40 | 1).unwrap();
        let got = mapped_ranges(b.mem(), root, mode, Gva(0)..Gva(u64::MAX), u64::MAX);
        assert_eq!(got.ranges.len(), 1);
        assert!(matches!(got.faults[..], [WalkFault::OutsideRam { .. }]));
    }
}
