//! Translating one guest-virtual address through the guest's page tables,
//! the way the MMU does, keeping every entry it read.

use super::bits::ADDR_MASK;
use super::entry::{PteFlags, ReservedMasks};
use super::fault::WalkFault;
use super::level::{LevelName, PageSize};
use super::mode::PagingMode;
use super::physmem::PhysMem;
use crate::addr::{Gpa, Gva};

/// One step of a walk: the table read, the entry taken from it, and what
/// that entry says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Which table.
    pub level: LevelName,
    /// The table's base (from CR3 or the entry above).
    pub table_gpa: Gpa,
    /// Which of the table's 512 entries the address selects.
    pub index: u16,
    /// `table_gpa + 8 * index`.
    pub entry_gpa: Gpa,
    /// The entry's raw value.
    pub entry: u64,
    /// The entry's own flags, decoded for its level.
    pub flags: PteFlags,
}

/// A successful walk: where `gva` lands, the page that holds it, and every
/// entry read on the way (root first). Fixed size: a walk never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The address translated.
    pub gva: Gva,
    /// Where it lands.
    pub gpa: Gpa,
    /// The size of the page that holds it.
    pub page_size: PageSize,
    /// What the CPU enforces: RW and US only if every level sets them, NX if
    /// any level does; the rest (A, D, G, PAT, PWT, PCD) from the leaf. No PS:
    /// `page_size` says it.
    pub flags: PteFlags,
    /// The leaf entry.
    pub entry: u64,
    levels: [Level; 5],
    count: u8,
}

impl Translation {
    /// The entries read, root first; the last is the leaf.
    pub fn levels(&self) -> &[Level] {
        self.levels
            .get(..usize::from(self.count))
            .unwrap_or(&self.levels)
    }

    /// The guest-physical address of the start of the page.
    pub fn page_gpa(&self) -> Gpa {
        self.gpa.align_down(self.page_size.bytes())
    }
}

// An x86-64 virtual address, 4-level paging (CR4.LA57 = 0):
//
//   63        48 47     39 38     30 29     21 20     12 11          0
//  +------------+---------+---------+---------+---------+-------------+
//  | sign ext.  |  PML4   |  PDPT   |   PD    |   PT    |   offset    |
//  | of bit 47  |  index  |  index  |  index  |  index  |   in page   |
//  +------------+---------+---------+---------+---------+-------------+
//
// 5-level paging (CR4.LA57 = 1) puts one more 9-bit index on top:
//
//   63   57 56     48 47     39 38     30 29     21 20     12 11      0
//  +-------+---------+---------+---------+---------+---------+---------+
//  | sign  |  PML5   |  PML4   |  PDPT   |   PD    |   PT    | offset  |
//  +-------+---------+---------+---------+---------+---------+---------+
//
// A PDPT entry with PS maps a 1G page (offset = bits 29..0), a PD entry
// with PS a 2M page (offset = bits 20..0). Each table is 512 u64 entries.

/// Return the translation of `gva` through the tables at `cr3`, with every
/// entry read, or the fault the CPU would take and the entry that caused it.
/// A table or entry outside guest RAM is a `WalkFault`, never a panic.
///
/// ```
/// use microvmm::addr::{Gpa, Gva};
/// use microvmm::paging::{
///     FlatMem, LevelName, PageSize, PagingMode, PteFlags, TableBuilder, WalkFault, walk,
/// };
///
/// // 1 MiB of guest RAM; page tables from 0x10000, one user page mapped.
/// let mode = PagingMode::four_level();
/// let mem = FlatMem::new(Gpa(0), 1 << 20);
/// let mut tables = TableBuilder::new(mem, mode, Gpa(0x1_0000)..Gpa(0x2_0000)).unwrap();
/// let user_rw = PteFlags::RW.union(PteFlags::US);
/// tables.map(Gva(0x40_0000), Gpa(0x8_0000), PageSize::Size4K, user_rw).unwrap();
///
/// let t = walk(tables.mem(), tables.cr3(), mode, Gva(0x40_0123)).unwrap();
/// assert_eq!(t.gpa, Gpa(0x8_0123)); // the offset in the page carries over
/// assert_eq!(t.page_gpa(), Gpa(0x8_0000));
/// assert_eq!(t.page_size, PageSize::Size4K);
/// assert_eq!(t.flags.to_string(), "P RW US");
/// // Four tables read, root first, each entry with its own GPA.
/// let names: Vec<LevelName> = t.levels().iter().map(|l| l.level).collect();
/// assert_eq!(names, [LevelName::Pml4, LevelName::Pdpt, LevelName::Pd, LevelName::Pt]);
/// assert_eq!(t.levels()[0].table_gpa, Gpa(tables.cr3()));
///
/// // An address nothing maps faults where the hardware would: at the PT.
/// match walk(tables.mem(), tables.cr3(), mode, Gva(0x40_1000)) {
///     Err(WalkFault::NotPresent { level, .. }) => assert_eq!(level, LevelName::Pt),
///     other => panic!("{other:?}"),
/// }
/// ```
///
/// A 2 MiB page ends the walk a level early, and the offset is 21 bits:
///
/// ```
/// use microvmm::addr::{Gpa, Gva};
/// use microvmm::paging::{FlatMem, PageSize, PagingMode, PteFlags, TableBuilder, walk};
///
/// let mode = PagingMode::four_level();
/// let mem = FlatMem::new(Gpa(0), 8 << 20);
/// let mut tables = TableBuilder::new(mem, mode, Gpa(0x1_0000)..Gpa(0x2_0000)).unwrap();
/// tables.map(Gva(0x60_0000), Gpa(0x40_0000), PageSize::Size2M, PteFlags::US).unwrap();
///
/// let t = walk(tables.mem(), tables.cr3(), mode, Gva(0x6f_f008)).unwrap();
/// assert_eq!((t.gpa, t.page_size), (Gpa(0x4f_f008), PageSize::Size2M));
/// assert_eq!(t.levels().len(), 3); // PML4, PDPT, and the PD entry with PS set
/// ```
pub fn walk<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: u64,
    mode: PagingMode,
    gva: Gva,
) -> Result<Translation, WalkFault> {
    let va = gva.raw();
    if !mode.is_canonical(va) {
        return Err(WalkFault::NonCanonical {
            gva,
            va_bits: mode.va_bits(),
        });
    }
    let rsvd = ReservedMasks::new(mode.maxphyaddr, mode.nxe);
    let mut levels = [Level::default(); 5];
    let mut table = mode.root_table(cr3);
    let mut level = mode.root();
    // RW and US survive only if every level sets them; NX if any level does.
    let mut all = u64::MAX;
    let mut any = 0u64;
    let mut n = 0usize;
    loop {
        let index = (va >> level.shift()) & 511;
        let entry_gpa = Gpa(table | index << 3);
        let entry = mem.read_u64(entry_gpa).ok_or(WalkFault::OutsideRam {
            gva,
            level,
            gpa: entry_gpa,
        })?;
        if entry & 1 == 0 {
            return Err(WalkFault::NotPresent {
                gva,
                level,
                entry_gpa,
                entry,
            });
        }
        let bits = rsvd.check(entry, level);
        if bits != 0 {
            return Err(WalkFault::Reserved {
                gva,
                level,
                entry_gpa,
                entry,
                bits,
            });
        }
        all &= entry;
        any |= entry;
        let flags = PteFlags::decode(entry, level);
        if let Some(slot) = levels.get_mut(n) {
            *slot = Level {
                level,
                table_gpa: Gpa(table),
                index: index as u16,
                entry_gpa,
                entry,
                flags,
            };
            n += 1;
        }
        match (level.lower(), level.page_size()) {
            (Some(lower), _) if !level.is_leaf(entry) => {
                table = entry & ADDR_MASK;
                level = lower;
            }
            // PT entries and PS entries at PDPT/PD are leaves; PS at PML4/5
            // was refused as reserved above, so `page_size` is Some here.
            (_, size) => {
                let page_size = size.unwrap_or(PageSize::Size4K);
                let offset = va & (page_size.bytes() - 1);
                let gpa = Gpa((entry & page_size.addr_mask()) | offset);
                return Ok(Translation {
                    gva,
                    gpa,
                    page_size,
                    flags: effective(flags, all, any),
                    entry,
                    levels,
                    count: n as u8,
                });
            }
        }
    }
}

/// The leaf's flags with RW/US from the AND of every level's entry and NX
/// from the OR; PS is dropped.
#[inline]
pub(super) fn effective(leaf: PteFlags, all: u64, any: u64) -> PteFlags {
    let mut f = leaf.without(PteFlags::RW.union(PteFlags::US).union(PteFlags::PS));
    let shared = PteFlags::decode(all & 0b110, LevelName::Pt);
    f = f.union(shared);
    if any & super::bits::NX_BIT != 0 {
        f = f.union(PteFlags::NX);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::bits::{NX_BIT, PS_BIT};
    use super::super::builder::fixture;
    use super::super::physmem::FlatMem;
    use super::*;

    const RW_US: PteFlags = PteFlags::RW.union(PteFlags::US);

    fn set(mem: &mut FlatMem, gpa: Gpa, f: impl Fn(u64) -> u64) {
        let old = mem.read_u64(gpa).unwrap();
        mem.write_u64(gpa, f(old)).unwrap();
    }

    #[test]
    fn four_level_4k_page_records_every_level() {
        let mut b = fixture(PagingMode::four_level());
        let gva = Gva(0x0000_7f12_3456_7000);
        b.map(
            gva,
            Gpa(0xab_c000),
            PageSize::Size4K,
            RW_US.union(PteFlags::A),
        )
        .unwrap();
        let t = walk(
            b.mem(),
            b.cr3(),
            PagingMode::four_level(),
            Gva(gva.raw() + 0x9a8),
        )
        .unwrap();
        assert_eq!(t.gpa, Gpa(0xab_c9a8));
        assert_eq!(t.page_gpa(), Gpa(0xab_c000));
        assert_eq!(t.page_size, PageSize::Size4K);
        assert_eq!(t.flags.to_string(), "P RW US A");
        let names: Vec<_> = t.levels().iter().map(|l| l.level).collect();
        assert_eq!(
            names,
            [
                LevelName::Pml4,
                LevelName::Pdpt,
                LevelName::Pd,
                LevelName::Pt
            ]
        );
        let indices: Vec<_> = t.levels().iter().map(|l| l.index).collect();
        assert_eq!(indices, [0xfe, 0x48, 0x1a2, 0x167]);
        let root = t.levels()[0];
        assert_eq!(root.table_gpa, Gpa(b.cr3()));
        assert_eq!(root.entry_gpa, Gpa(b.cr3() + 8 * 0xfe));
        for pair in t.levels().windows(2) {
            assert_eq!(pair[1].table_gpa.raw(), pair[0].entry & ADDR_MASK);
        }
        assert_eq!(t.entry, t.levels()[3].entry);
        assert_eq!(t.entry & ADDR_MASK, 0xab_c000);
    }

    #[test]
    fn large_pages_stop_early_and_keep_offset_bits() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0x4000_0000),
            Gpa(0x8000_0000),
            PageSize::Size1G,
            PteFlags::PAT,
        )
        .unwrap();
        b.map(
            Gva(0x20_0000),
            Gpa(0x60_0000),
            PageSize::Size2M,
            PteFlags::G,
        )
        .unwrap();
        let t = walk(b.mem(), b.cr3(), mode, Gva(0x7fff_ffff)).unwrap();
        assert_eq!(
            (t.gpa, t.page_size, t.levels().len()),
            (Gpa(0xbfff_ffff), PageSize::Size1G, 2)
        );
        assert_eq!(
            t.flags.to_string(),
            "P PAT",
            "PAT from bit 12, PS not in effective flags"
        );
        assert!(t.levels()[1].flags.contains(PteFlags::PS));
        let t = walk(b.mem(), b.cr3(), mode, Gva(0x2f_fff8)).unwrap();
        assert_eq!(
            (t.gpa, t.page_size, t.levels().len()),
            (Gpa(0x6f_fff8), PageSize::Size2M, 3)
        );
        assert_eq!(t.page_gpa(), Gpa(0x60_0000));
        assert_eq!(t.flags.to_string(), "P G");
    }

    #[test]
    fn pat_in_a_pte_is_not_a_large_page() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(Gva(0x1000), Gpa(0x5000), PageSize::Size4K, PteFlags::PAT)
            .unwrap();
        let t = walk(b.mem(), b.cr3(), mode, Gva(0x1010)).unwrap();
        assert_eq!(t.entry & PS_BIT, PS_BIT);
        assert_eq!((t.gpa, t.page_size), (Gpa(0x5010), PageSize::Size4K));
        assert_eq!(t.flags.to_string(), "P PAT");
    }

    #[test]
    fn five_level_walks_five_tables() {
        let mode = PagingMode::five_level();
        let mut b = fixture(mode);
        // Canonical only with LA57: bit 47 set, bits 63..57 clear.
        let gva = Gva(0x0001_8000_0020_1000);
        b.map(gva, Gpa(0x7000), PageSize::Size4K, PteFlags::RW)
            .unwrap();
        let t = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        assert_eq!(t.gpa, Gpa(0x7000));
        assert_eq!(t.levels().len(), 5);
        assert_eq!(t.levels()[0].level, LevelName::Pml5);
        assert_eq!(t.levels()[0].index, 1);
        assert_eq!(t.levels()[1].index, 256);
        let high = Gva(0xff00_0000_0000_0000);
        b.map(high, Gpa(0x20_0000), PageSize::Size2M, PteFlags::empty())
            .unwrap();
        let t = walk(b.mem(), b.cr3(), mode, Gva(high.raw() + 5)).unwrap();
        assert_eq!((t.gpa, t.levels().len()), (Gpa(0x20_0005), 4));
        assert_eq!(t.levels()[0].index, 256);
    }

    #[test]
    fn rw_and_us_need_every_level_nx_needs_one() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let gva = Gva(0x40_0000);
        b.map(gva, Gpa(0x9000), PageSize::Size4K, RW_US).unwrap();
        let t = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        assert_eq!(t.flags, PteFlags::P.union(RW_US));
        let [pml4, pdpt, pd, _] = [0, 1, 2, 3].map(|i| t.levels()[i].entry_gpa);
        set(b.mem_mut(), pd, |e| e & !0b010);
        let t = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        assert_eq!(t.flags.to_string(), "P US");
        assert!(
            t.levels()[3].flags.contains(PteFlags::RW),
            "the leaf alone still says RW"
        );
        set(b.mem_mut(), pdpt, |e| e & !0b100);
        assert_eq!(
            walk(b.mem(), b.cr3(), mode, gva).unwrap().flags.to_string(),
            "P"
        );
        set(b.mem_mut(), pml4, |e| e | NX_BIT);
        let t = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        assert_eq!(t.flags.to_string(), "P NX");
        assert!(!t.levels()[3].flags.contains(PteFlags::NX));
    }

    #[test]
    fn cr3_flag_and_pcid_bits_are_ignored() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0x5000),
            Gpa(0x6000),
            PageSize::Size4K,
            PteFlags::empty(),
        )
        .unwrap();
        let plain = walk(b.mem(), b.cr3(), mode, Gva(0x5000)).unwrap();
        let noisy = walk(b.mem(), b.cr3() | 1 << 63 | 0xfff, mode, Gva(0x5000)).unwrap();
        assert_eq!(plain, noisy);
    }
}
