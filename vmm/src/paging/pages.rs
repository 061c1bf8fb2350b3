//! Listing every page an address space maps, in address order, by walking
//! the tables depth-first instead of probing every 4K address: an empty
//! PML4 entry skips 512 GiB with one read.

use std::ops::Range;

use super::bits::ADDR_MASK;
use super::entry::{PteFlags, ReservedMasks};
use super::fault::WalkFault;
use super::level::{LevelName, PageSize};
use super::mode::PagingMode;
use super::physmem::PhysMem;
use super::walk::effective;
use crate::addr::{Gpa, Gva};

/// One mapped page: a present leaf entry and what it maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Its first guest-virtual address.
    pub gva: Gva,
    /// Its first guest-physical address.
    pub gpa: Gpa,
    /// The size the leaf maps.
    pub page_size: PageSize,
    /// Effective flags, as in `Translation::flags`.
    pub flags: PteFlags,
}

/// One table being scanned: the entries `next..end` are still to read.
#[derive(Clone, Copy, Debug, Default)]
struct Frame {
    table: u64,
    /// Linear (not yet sign-extended) address of the table's entry 0.
    base: u64,
    next: u16,
    end: u16,
    /// AND and OR of the entries above this table, for effective flags.
    all: u64,
    any: u64,
}

/// The iterator `mapped_pages` returns.
pub struct MappedPages<'m, M: PhysMem + ?Sized> {
    mem: &'m M,
    mode: PagingMode,
    rsvd: ReservedMasks,
    /// The linear address range still wanted, [lo, hi).
    lo: u64,
    hi: u64,
    stack: [Frame; 5],
    depth: usize,
    reads: u64,
    limit: u64,
}

/// Return every present leaf of the tables at `cr3` that overlaps `range`,
/// in ascending GVA order: `Ok(page)` per page, `Err` for an entry with
/// reserved bits or a table outside RAM (that subtree is skipped). At most
/// `limit` entries are read, so aliased or self-referencing tables cannot
/// make this run long; hitting the limit yields `LimitReached` and ends.
///
/// ```
/// use microvmm::addr::{Gpa, Gva};
/// use microvmm::paging::{FlatMem, PageSize, PagingMode, PteFlags, TableBuilder, mapped_pages};
///
/// let mode = PagingMode::four_level();
/// let mem = FlatMem::new(Gpa(0), 8 << 20);
/// let mut tables = TableBuilder::new(mem, mode, Gpa(0x1_0000)..Gpa(0x2_0000)).unwrap();
/// tables.map(Gva(0x40_1000), Gpa(0x9_0000), PageSize::Size4K, PteFlags::US).unwrap();
/// tables.map(Gva(0x40_0000), Gpa(0x8_0000), PageSize::Size4K, PteFlags::US).unwrap();
/// tables.map(Gva(0x60_0000), Gpa(0x40_0000), PageSize::Size2M, PteFlags::RW).unwrap();
///
/// // Every mapped page of the lower half, in GVA order, at most 10 000 reads.
/// let pages: Vec<(Gva, Gpa, PageSize)> =
///     mapped_pages(tables.mem(), tables.cr3(), mode, Gva(0)..Gva(1 << 47), 10_000)
///         .map(|p| p.map(|p| (p.gva, p.gpa, p.page_size)))
///         .collect::<Result<_, _>>()
///         .unwrap();
/// assert_eq!(pages, [
///     (Gva(0x40_0000), Gpa(0x8_0000), PageSize::Size4K),
///     (Gva(0x40_1000), Gpa(0x9_0000), PageSize::Size4K),
///     (Gva(0x60_0000), Gpa(0x40_0000), PageSize::Size2M),
/// ]);
/// ```
pub fn mapped_pages<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: u64,
    mode: PagingMode,
    range: Range<Gva>,
    limit: u64,
) -> MappedPages<'_, M> {
    let (lo, hi) = linear_range(mode, range);
    let mut it = MappedPages {
        mem,
        mode,
        rsvd: ReservedMasks::new(mode.maxphyaddr, mode.nxe),
        lo,
        hi,
        stack: [Frame::default(); 5],
        depth: 0,
        reads: 0,
        limit,
    };
    if lo < hi {
        it.push(mode.root_table(cr3), 0, u64::MAX, 0);
    }
    it
}

/// The canonical part of `range` as a range of linear addresses (the VA
/// with its sign extension stripped), where table index order is address
/// order. A range that spans the non-canonical hole becomes contiguous.
fn linear_range(mode: PagingMode, range: Range<Gva>) -> (u64, u64) {
    let bits = mode.va_bits();
    let half = 1u64 << (bits - 1);
    let high = !(half - 1); // first canonical upper-half address
    let mask = (1u64 << bits) - 1;
    let lin = |va: u64| match va {
        v if v < half => v,
        v if v < high => half,
        v => v & mask,
    };
    (lin(range.start.raw()), lin(range.end.raw()))
}

impl<M: PhysMem + ?Sized> MappedPages<'_, M> {
    /// Entries read so far (at most the limit it was given).
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// The table level at stack depth `d` (0 = root).
    fn level_at(&self, d: usize) -> LevelName {
        let top = 5 - self.mode.levels() as usize;
        LevelName::ALL
            .get(top + d)
            .copied()
            .unwrap_or(LevelName::Pt)
    }

    /// Start scanning the table at `table` covering linear addresses from
    /// `base`, limited to the entries that overlap [lo, hi).
    fn push(&mut self, table: u64, base: u64, all: u64, any: u64) {
        let shift = self.level_at(self.depth).shift();
        let span_end = base + (512u64 << shift);
        let from = self.lo.max(base);
        let to = self.hi.min(span_end);
        if from >= to {
            return;
        }
        let next = ((from - base) >> shift) as u16;
        // Round up: a page that starts before `to` overlaps the range.
        let end = (((to - base - 1) >> shift) + 1) as u16;
        if let Some(slot) = self.stack.get_mut(self.depth) {
            *slot = Frame {
                table,
                base,
                next,
                end,
                all,
                any,
            };
            self.depth += 1;
        }
    }

    fn gva(&self, linear: u64) -> Gva {
        let unused = 64 - self.mode.va_bits();
        Gva((((linear << unused) as i64) >> unused) as u64)
    }
}

impl<M: PhysMem + ?Sized> Iterator for MappedPages<'_, M> {
    type Item = Result<Page, WalkFault>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.depth > 0 {
            let d = self.depth - 1;
            let level = self.level_at(d);
            let frame = self.stack.get_mut(d)?;
            if frame.next >= frame.end {
                self.depth -= 1;
                continue;
            }
            let f = *frame;
            frame.next += 1;
            let index = u64::from(f.next);
            let linear = f.base + (index << level.shift());
            let gva = self.gva(linear);
            if self.reads >= self.limit {
                self.depth = 0;
                return Some(Err(WalkFault::LimitReached {
                    gva,
                    limit: self.limit,
                }));
            }
            self.reads += 1;
            let entry_gpa = Gpa(f.table | index << 3);
            let Some(entry) = self.mem.read_u64(entry_gpa) else {
                // The whole table is outside RAM: report it once, skip it.
                self.depth -= 1;
                return Some(Err(WalkFault::OutsideRam {
                    gva,
                    level,
                    gpa: entry_gpa,
                }));
            };
            if entry & 1 == 0 {
                continue;
            }
            let bits = self.rsvd.check(entry, level);
            if bits != 0 {
                return Some(Err(WalkFault::Reserved {
                    gva,
                    level,
                    entry_gpa,
                    entry,
                    bits,
                }));
            }
            let (all, any) = (f.all & entry, f.any | entry);
            match level.page_size() {
                Some(page_size) if level.is_leaf(entry) => {
                    let flags = effective(PteFlags::decode(entry, level), all, any);
                    let gpa = Gpa(entry & page_size.addr_mask());
                    return Some(Ok(Page {
                        gva,
                        gpa,
                        page_size,
                        flags,
                    }));
                }
                _ => self.push(entry & ADDR_MASK, linear, all, any),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::builder::fixture;
    use super::super::physmem::FlatMem;
    use super::super::walk::walk;
    use super::*;

    const ALL: Range<Gva> = Gva(0)..Gva(u64::MAX);

    fn list<M: PhysMem>(mem: &M, cr3: u64, mode: PagingMode, r: Range<Gva>) -> Vec<Page> {
        mapped_pages(mem, cr3, mode, r, u64::MAX)
            .map(|p| p.unwrap())
            .collect()
    }

    #[test]
    fn sparse_space_in_order_with_large_pages() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let maps = [
            (0x1000, 0x5000, PageSize::Size4K),
            (0x20_0000, 0x40_0000, PageSize::Size2M),
            (0x40_0000_0000, 0x8000_0000, PageSize::Size1G),
            (0x7f_ffff_f000, 0x6000, PageSize::Size4K),
            (0xffff_8000_0000_0000, 0x20_0000, PageSize::Size2M),
            (0xffff_ffff_ffff_f000, 0x7000, PageSize::Size4K),
        ];
        for &(gva, gpa, size) in maps.iter().rev() {
            b.map(Gva(gva), Gpa(gpa), size, PteFlags::RW).unwrap();
        }
        let pages = list(b.mem(), b.cr3(), mode, ALL);
        let got: Vec<_> = pages
            .iter()
            .map(|p| (p.gva.raw(), p.gpa.raw(), p.page_size))
            .collect();
        assert_eq!(got, maps);
        for p in &pages {
            let t = walk(b.mem(), b.cr3(), mode, p.gva).unwrap();
            assert_eq!((t.gpa, t.flags), (p.gpa, p.flags));
            assert_eq!(p.flags.to_string(), "P RW");
        }
        // A range that starts inside the 2M page and ends in the hole.
        let mid = list(b.mem(), b.cr3(), mode, Gva(0x20_1000)..Gva(1 << 47));
        assert_eq!(mid.len(), 3);
        assert_eq!(
            mid[0].gva,
            Gva(0x20_0000),
            "pages overlapping the start are included"
        );
        let high = list(
            b.mem(),
            b.cr3(),
            mode,
            Gva(1 << 47)..Gva(0xffff_8000_0020_0000),
        );
        assert_eq!(high.len(), 1);
        assert!(list(b.mem(), b.cr3(), mode, Gva(1 << 47)..Gva(1 << 48)).is_empty());
        assert!(list(b.mem(), b.cr3(), mode, Gva(0x3000)..Gva(0x2000)).is_empty());
    }

    #[test]
    fn empty_space_costs_one_read_per_root_entry() {
        let mode = PagingMode::four_level();
        let b = fixture(mode);
        let mut it = mapped_pages(b.mem(), b.cr3(), mode, ALL, u64::MAX);
        assert!(it.next().is_none());
        assert_eq!(it.reads, 512);
    }

    #[test]
    fn five_level_upper_half() {
        let mode = PagingMode::five_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0xff00_0000_0000_0000),
            Gpa(0x1000),
            PageSize::Size4K,
            PteFlags::NX,
        )
        .unwrap();
        b.map(
            Gva(0x00ff_ffff_ffe0_0000),
            Gpa(0),
            PageSize::Size2M,
            PteFlags::empty(),
        )
        .unwrap();
        let pages = list(b.mem(), b.cr3(), mode, ALL);
        let gvas: Vec<_> = pages.iter().map(|p| p.gva.raw()).collect();
        assert_eq!(gvas, [0x00ff_ffff_ffe0_0000, 0xff00_0000_0000_0000]);
        assert_eq!(pages[1].flags.to_string(), "P NX");
    }

    #[test]
    fn bad_tables_are_reported_and_skipped() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        for gva in [0x1000, 0x80_0000_0000, 0x100_0000_0000] {
            b.map(Gva(gva), Gpa(0x9000), PageSize::Size4K, PteFlags::empty())
                .unwrap();
        }
        // PML4[1] -> a PDPT past the end of RAM; PML4[2]'s PDPT entry has PS
        // with reserved bits 29..13 set.
        let root = b.cr3();
        let e1 = b.mem().read_u64(Gpa(root + 8)).unwrap();
        b.mem_mut()
            .write_u64(Gpa(root + 8), (e1 & !ADDR_MASK) | 1 << 40)
            .unwrap();
        let t = walk(b.mem(), root, mode, Gva(0x100_0000_0000)).unwrap();
        b.mem_mut()
            .write_u64(t.levels()[1].entry_gpa, 0x1000_2081)
            .unwrap();
        let items: Vec<_> = mapped_pages(b.mem(), root, mode, ALL, u64::MAX).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().map(|p| p.gva), Ok(Gva(0x1000)));
        let outside = WalkFault::OutsideRam {
            gva: Gva(0x80_0000_0000),
            level: LevelName::Pdpt,
            gpa: Gpa(1 << 40),
        };
        assert_eq!(items[1], Err(outside));
        assert!(matches!(
            items[2],
            Err(WalkFault::Reserved {
                level: LevelName::Pdpt,
                ..
            })
        ));
        // A CR3 outside RAM is one error, not 512.
        let empty = FlatMem::new(Gpa(0), 0x1000);
        assert_eq!(mapped_pages(&empty, 0x2000, mode, ALL, u64::MAX).count(), 1);
    }

    #[test]
    fn self_referencing_tables_stop_at_the_limit() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0x1000),
            Gpa(0x9000),
            PageSize::Size4K,
            PteFlags::empty(),
        )
        .unwrap();
        // Every PML4 entry points back at the PML4 (a recursive mapping
        // repeated 512 times): 512^4 leaves if nothing stopped it.
        let root = b.cr3();
        for i in 0..512 {
            b.mem_mut()
                .write_u64(Gpa(root + 8 * i), root | 0b11)
                .unwrap();
        }
        let items: Vec<_> = mapped_pages(b.mem(), root, mode, ALL, 100_000).collect();
        assert!(items.len() > 1000, "aliased tables still enumerate");
        let last = items.last().unwrap();
        assert!(matches!(
            last,
            Err(WalkFault::LimitReached { limit: 100_000, .. })
        ));
        assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    }
}
