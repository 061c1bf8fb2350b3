//! Why a guest-virtual address has no translation, named the way the
//! hardware would fault on it: the level and the entry that stopped the walk.

use super::level::LevelName;
use crate::addr::{Gpa, Gva};

/// A walk that ended without a page. `gva` is the address being translated
/// (for the enumerator: the first address the bad entry or table covers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkFault {
    /// The address's top bits are not copies of its top translated bit.
    #[error("{gva} is not a canonical {va_bits}-bit address")]
    NonCanonical {
        /// The address being translated.
        gva: Gva,
        /// Translated bits: 48, or 57 with 5-level paging.
        va_bits: u32,
    },
    /// An entry with P clear: the hardware's #PF with P=0 in the error code.
    #[error("translating {gva}: the {level} entry at {entry_gpa} is not present ({entry:#018x})")]
    NotPresent {
        /// The address being translated.
        gva: Gva,
        /// The level whose entry stopped the walk.
        level: LevelName,
        /// Guest-physical address of the entry.
        entry_gpa: Gpa,
        /// The entry's raw value.
        entry: u64,
    },
    /// A present entry with reserved bits set: the hardware's #PF with RSVD.
    #[error(
        "translating {gva}: the {level} entry at {entry_gpa} ({entry:#018x}) sets reserved bits {bits:#x}"
    )]
    Reserved {
        /// The address being translated.
        gva: Gva,
        /// The level whose entry stopped the walk.
        level: LevelName,
        /// Guest-physical address of the entry.
        entry_gpa: Gpa,
        /// The entry's raw value.
        entry: u64,
        /// The reserved bits it sets.
        bits: u64,
    },
    /// A table or entry the walk must read lies outside guest RAM.
    #[error("translating {gva}: the {level} entry at {gpa} is outside guest RAM")]
    OutsideRam {
        /// The address being translated.
        gva: Gva,
        /// The level whose entry stopped the walk.
        level: LevelName,
        /// Guest-physical address of the entry.
        gpa: Gpa,
    },
    /// The enumerator read its budget of entries: hostile or aliased tables.
    #[error(
        "stopped at {gva} after reading {limit} page-table entries (tables too large or aliased)"
    )]
    LimitReached {
        /// Where the enumeration stopped.
        gva: Gva,
        /// The budget, in entries read.
        limit: u64,
    },
}

impl WalkFault {
    /// The table level that faulted, if the fault is about one entry.
    pub fn level(&self) -> Option<LevelName> {
        match self {
            Self::NotPresent { level, .. }
            | Self::Reserved { level, .. }
            | Self::OutsideRam { level, .. } => Some(*level),
            Self::NonCanonical { .. } | Self::LimitReached { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bits::{ADDR_MASK, NX_BIT, PS_BIT};
    use super::super::builder::fixture;
    use super::super::{FlatMem, PageSize, PagingMode, PhysMem, PteFlags, walk};
    use super::*;

    fn set(mem: &mut FlatMem, gpa: Gpa, f: impl Fn(u64) -> u64) {
        let old = mem.read_u64(gpa).unwrap();
        mem.write_u64(gpa, f(old)).unwrap();
    }

    #[test]
    fn messages_are_sentences_with_addresses() {
        let f = WalkFault::NotPresent {
            gva: Gva(0x40_0000),
            level: LevelName::Pd,
            entry_gpa: Gpa(0x3010),
            entry: 0,
        };
        assert_eq!(
            f.to_string(),
            "translating 0x400000: the PD entry at 0x3010 is not present (0x0000000000000000)"
        );
        assert_eq!(f.level(), Some(LevelName::Pd));
        let f = WalkFault::NonCanonical {
            gva: Gva(1 << 47),
            va_bits: 48,
        };
        assert_eq!(
            f.to_string(),
            "0x800000000000 is not a canonical 48-bit address"
        );
        assert_eq!(f.level(), None);
    }

    #[test]
    fn non_canonical_addresses_fault_before_any_read() {
        let four = PagingMode::four_level();
        let five = PagingMode::five_level();
        let empty = FlatMem::new(Gpa(0), 0);
        for (mode, va, bits) in [
            (four, 0x0000_8000_0000_0000, 48),
            (four, 0xffff_7fff_ffff_f000, 48),
            (four, 0x8000_0000_0000_0000, 48),
            (five, 0x0100_0000_0000_0000, 57),
            (five, 0xfeff_ffff_ffff_ffff, 57),
        ] {
            let r = walk(&empty, 0, mode, Gva(va));
            assert_eq!(
                r,
                Err(WalkFault::NonCanonical {
                    gva: Gva(va),
                    va_bits: bits
                })
            );
        }
        // The same address is fine with LA57 (and then misses RAM).
        let r = walk(&empty, 0, five, Gva(0x0000_8000_0000_0000));
        assert!(matches!(
            r,
            Err(WalkFault::OutsideRam {
                level: LevelName::Pml5,
                ..
            })
        ));
    }

    #[test]
    fn not_present_names_the_level_at_each_depth() {
        for mode in [PagingMode::four_level(), PagingMode::five_level()] {
            let levels = mode.levels() as usize;
            for depth in 0..levels {
                let mut b = fixture(mode);
                let gva = Gva(0x1234_5000);
                b.map(gva, Gpa(0x3000), PageSize::Size4K, PteFlags::RW)
                    .unwrap();
                let at = walk(b.mem(), b.cr3(), mode, gva).unwrap().levels()[depth];
                set(b.mem_mut(), at.entry_gpa, |e| e & !1);
                let r = walk(b.mem(), b.cr3(), mode, gva);
                let want = WalkFault::NotPresent {
                    gva,
                    level: at.level,
                    entry_gpa: at.entry_gpa,
                    entry: at.entry & !1,
                };
                assert_eq!(r, Err(want), "{mode:?} depth {depth}");
            }
        }
    }

    #[test]
    fn reserved_bits_fault_at_their_level() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        b.map(
            Gva(0x20_0000),
            Gpa(0x40_0000),
            PageSize::Size2M,
            PteFlags::NX,
        )
        .unwrap();
        b.map(
            Gva(0x80_0000_0000),
            Gpa(0x1000),
            PageSize::Size4K,
            PteFlags::empty(),
        )
        .unwrap();
        let t = walk(b.mem(), b.cr3(), mode, Gva(0x20_0000)).unwrap();
        assert_eq!(t.flags.to_string(), "P NX");

        let no_nx = PagingMode { nxe: false, ..mode };
        let r = walk(b.mem(), b.cr3(), no_nx, Gva(0x20_0000));
        assert!(matches!(
            r,
            Err(WalkFault::Reserved {
                level: LevelName::Pd,
                bits: NX_BIT,
                ..
            })
        ));

        let pd = t.levels()[2].entry_gpa;
        set(b.mem_mut(), pd, |e| e | 1 << 13);
        let r = walk(b.mem(), b.cr3(), mode, Gva(0x20_0000));
        assert!(matches!(
            r,
            Err(WalkFault::Reserved {
                level: LevelName::Pd,
                bits: 0x2000,
                ..
            })
        ));

        let narrow = mode.with_maxphyaddr(40).unwrap();
        let other = walk(b.mem(), b.cr3(), narrow, Gva(0x80_0000_0000)).unwrap();
        let pt = other.levels()[3].entry_gpa;
        set(b.mem_mut(), pt, |e| e | 1 << 40);
        let r = walk(b.mem(), b.cr3(), narrow, Gva(0x80_0000_0000));
        assert!(matches!(
            r,
            Err(WalkFault::Reserved {
                level: LevelName::Pt,
                bits: 0x100_0000_0000,
                ..
            })
        ));
        assert!(
            walk(b.mem(), b.cr3(), mode, Gva(0x80_0000_0000)).is_ok(),
            "fine at 52 bits"
        );

        let pml4 = t.levels()[0].entry_gpa;
        set(b.mem_mut(), pml4, |e| e | PS_BIT);
        let r = walk(b.mem(), b.cr3(), mode, Gva(0x20_0000));
        let Err(WalkFault::Reserved {
            level,
            bits,
            entry_gpa,
            ..
        }) = r
        else {
            panic!("PS in a PML4 entry walked: {r:?}");
        };
        assert_eq!((level, bits, entry_gpa), (LevelName::Pml4, PS_BIT, pml4));
    }

    #[test]
    fn tables_outside_ram_are_errors() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let gva = Gva(0x40_0000);
        b.map(gva, Gpa(0x1000), PageSize::Size4K, PteFlags::empty())
            .unwrap();
        let r = walk(b.mem(), 0xf_ffff_ffff_f000, mode, gva);
        let want = WalkFault::OutsideRam {
            gva,
            level: LevelName::Pml4,
            gpa: Gpa(0xf_ffff_ffff_f000),
        };
        assert_eq!(r, Err(want));
        let t = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        // Point the PD entry at a PT just past the end of RAM (16 MiB).
        set(b.mem_mut(), t.levels()[2].entry_gpa, |e| {
            (e & !ADDR_MASK) | 16 << 20
        });
        let r = walk(b.mem(), b.cr3(), mode, gva);
        let want = WalkFault::OutsideRam {
            gva,
            level: LevelName::Pt,
            gpa: Gpa(16 << 20),
        };
        assert_eq!(r, Err(want));
        // The largest address an entry can hold.
        set(b.mem_mut(), t.levels()[2].entry_gpa, |e| e | ADDR_MASK);
        let r = walk(b.mem(), b.cr3(), mode, Gva(0x5f_f000));
        assert!(matches!(
            r,
            Err(WalkFault::OutsideRam {
                level: LevelName::Pt,
                ..
            })
        ));
    }
}
