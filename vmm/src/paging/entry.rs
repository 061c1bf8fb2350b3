//! One page-table entry as the hardware reads it: its flags, the physical
//! address it holds, and which of its bits must be zero (Intel SDM vol. 3, 4.5, "4-level and 5-level paging").

use std::fmt;

use super::bits::{NX_BIT, PS_BIT};
use super::level::LevelName;

/// Bit 12 of a large-page leaf: PAT (bit 7 is taken by PS there).
const PAT_LARGE_BIT: u64 = 1 << 12;

/// The flag bits of an entry, decoded for its level. The layout is ours, not
/// the hardware's, because bit 7 means PS in a PD entry but PAT in a PT
/// entry, and PAT moves to bit 12 in a large-page leaf.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PteFlags(u16);

impl PteFlags {
    /// Present: the entry maps something.
    pub const P: Self = Self(1 << 0);
    /// Writable (every level must allow it).
    pub const RW: Self = Self(1 << 1);
    /// User-accessible (every level must allow it).
    pub const US: Self = Self(1 << 2);
    /// Page-level write-through.
    pub const PWT: Self = Self(1 << 3);
    /// Page-level cache disable.
    pub const PCD: Self = Self(1 << 4);
    /// Accessed: set by the CPU on a walk.
    pub const A: Self = Self(1 << 5);
    /// Dirty: set by the CPU on a write (leaves only).
    pub const D: Self = Self(1 << 6);
    /// Page size: this non-PT entry is a large-page leaf.
    pub const PS: Self = Self(1 << 7);
    /// Global: kept in the TLB across CR3 writes.
    pub const G: Self = Self(1 << 8);
    /// The PAT index's high bit (bit 7 in a PT entry, 12 in a large leaf).
    pub const PAT: Self = Self(1 << 9);
    /// No execute (bit 63; every level can forbid it).
    pub const NX: Self = Self(1 << 10);
    /// Every flag, in display order.
    pub const ALL: [(Self, &'static str); 11] = [
        (Self::P, "P"),
        (Self::RW, "RW"),
        (Self::US, "US"),
        (Self::PWT, "PWT"),
        (Self::PCD, "PCD"),
        (Self::A, "A"),
        (Self::D, "D"),
        (Self::PS, "PS"),
        (Self::G, "G"),
        (Self::PAT, "PAT"),
        (Self::NX, "NX"),
    ];

    /// No flags.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The flags as our bit layout (P = bit 0 .. NX = bit 10).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Flags from our bit layout; bits above NX are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Self {
        Self(bits & 0x7ff)
    }

    /// Whether every flag of `other` is set here.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags plus `other`.
    #[inline]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// These flags without `other`.
    #[inline]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Decode the flags of `entry`, read from a table at `level`.
    ///
    /// ```
    /// use microvmm::paging::{LevelName, PteFlags};
    ///
    /// // A PT entry of the demo's stack page: frame 0x448000, NX, dirty.
    /// let flags = PteFlags::decode(0x8000_0000_0044_8067, LevelName::Pt);
    /// assert_eq!(flags.to_string(), "P RW US A D NX");
    /// assert!(flags.contains(PteFlags::NX) && !flags.contains(PteFlags::PS));
    ///
    /// // Bit 7 means PS (a large page) in a PD entry, but PAT in a PT entry.
    /// assert_eq!(PteFlags::decode(0x83, LevelName::Pd).to_string(), "P RW PS");
    /// assert_eq!(PteFlags::decode(0x83, LevelName::Pt).to_string(), "P RW PAT");
    /// ```
    #[inline]
    pub const fn decode(entry: u64, level: LevelName) -> Self {
        // Bits 8..0 already sit where our layout puts P..G, with bit 7 as PS.
        let mut bits = (entry & 0x1ff) as u16;
        let bit7 = entry & PS_BIT != 0;
        match level {
            LevelName::Pt => {
                bits &= !Self::PS.0;
                if bit7 {
                    bits |= Self::PAT.0;
                }
            }
            LevelName::Pdpt | LevelName::Pd if bit7 && entry & PAT_LARGE_BIT != 0 => {
                bits |= Self::PAT.0;
            }
            _ => {}
        }
        if entry & NX_BIT != 0 {
            bits |= Self::NX.0;
        }
        Self(bits)
    }

    /// The entry bits for these flags at `level`: the inverse of `decode`
    /// (PS at PT level is dropped; PAT goes to bit 7 or bit 12).
    ///
    /// ```
    /// use microvmm::paging::{LevelName, PteFlags};
    ///
    /// let flags = PteFlags::P.union(PteFlags::RW).union(PteFlags::NX);
    /// assert_eq!(flags.encode(LevelName::Pt), 0x8000_0000_0000_0003);
    /// // PAT is bit 7 in a PT entry, bit 12 in a large-page PD entry.
    /// let pat = PteFlags::P.union(PteFlags::PAT);
    /// assert_eq!(pat.encode(LevelName::Pt), 0x81);
    /// assert_eq!(pat.union(PteFlags::PS).encode(LevelName::Pd), 0x1081);
    /// for level in [LevelName::Pt, LevelName::Pd] {
    ///     assert_eq!(PteFlags::decode(flags.encode(level), level), flags);
    /// }
    /// ```
    pub const fn encode(self, level: LevelName) -> u64 {
        let mut entry = (self.0 & 0x17f) as u64; // P..D and G; PS handled below
        let large = matches!(level, LevelName::Pdpt | LevelName::Pd) && self.contains(Self::PS);
        if !matches!(level, LevelName::Pt) && self.contains(Self::PS) {
            entry |= PS_BIT;
        }
        if self.contains(Self::PAT) {
            if matches!(level, LevelName::Pt) {
                entry |= PS_BIT;
            } else if large {
                entry |= PAT_LARGE_BIT;
            }
        }
        if self.contains(Self::NX) {
            entry |= NX_BIT;
        }
        entry
    }
}

impl fmt::Display for PteFlags {
    /// Set flags by name, space-separated ("P RW US A D NX"); "-" if none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (flag, name) in Self::ALL {
            if self.contains(flag) {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PteFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PteFlags({self})")
    }
}

/// Bits MAXPHYADDR..51: physical address bits this CPU does not have.
#[inline]
pub const fn phys_reserved(maxphyaddr: u8) -> u64 {
    let m = clamp_maxphyaddr(maxphyaddr);
    ((1u64 << 52) - 1) & !((1u64 << m) - 1)
}

/// MAXPHYADDR forced into 12..=52 so the masks built from it stay sane.
#[inline]
pub const fn clamp_maxphyaddr(maxphyaddr: u8) -> u32 {
    if maxphyaddr < 12 {
        12
    } else if maxphyaddr > 52 {
        52
    } else {
        maxphyaddr as u32
    }
}

/// Which bits of a present entry at each level must be zero for one paging
/// mode; computed once per walk so the loop only ANDs.
#[derive(Clone, Copy, Debug)]
pub struct ReservedMasks {
    /// PML5 and PML4 entries: PS is reserved there.
    top: u64,
    /// Entries that point to a table (PDPT, PD) and 4K leaves.
    table: u64,
    /// 2M leaves: bits 20..13 (between PAT and the frame) too.
    large_2m: u64,
    /// 1G leaves: bits 29..13.
    large_1g: u64,
}

impl ReservedMasks {
    /// The reserved-bit masks for a CPU with `maxphyaddr` address bits and
    /// EFER.NXE = `nxe` (without NXE, bit 63 is reserved, not NX).
    #[inline]
    pub const fn new(maxphyaddr: u8, nxe: bool) -> Self {
        let mut table = phys_reserved(maxphyaddr);
        if !nxe {
            table |= NX_BIT;
        }
        Self {
            top: table | PS_BIT,
            table,
            large_2m: table | 0x001f_e000,
            large_1g: table | 0x3fff_e000,
        }
    }

    /// The reserved bits `entry` sets at `level` (0 when it is well formed).
    #[inline]
    pub const fn check(&self, entry: u64, level: LevelName) -> u64 {
        let mask = match level {
            LevelName::Pml5 | LevelName::Pml4 => self.top,
            LevelName::Pdpt if entry & PS_BIT != 0 => self.large_1g,
            LevelName::Pd if entry & PS_BIT != 0 => self.large_2m,
            _ => self.table,
        };
        entry & mask
    }
}

#[cfg(test)]
mod tests {
    use super::super::bits::{ADDR_MASK_1G, ADDR_MASK_2M, P_BIT};
    use super::super::level::PageSize;
    use super::*;

    #[test]
    fn display_orders_flags_and_marks_empty() {
        let f = PteFlags::decode(NX_BIT | 0x67, LevelName::Pt);
        assert_eq!(f.to_string(), "P RW US A D NX");
        assert_eq!(PteFlags::empty().to_string(), "-");
        assert_eq!(format!("{:?}", PteFlags::P), "PteFlags(P)");
        assert_eq!(LevelName::Pdpt.to_string(), "PDPT");
        assert_eq!(PageSize::Size2M.to_string(), "2M");
    }

    #[test]
    fn bit7_is_pat_in_a_pte_and_ps_above() {
        let pt = PteFlags::decode(P_BIT | PS_BIT, LevelName::Pt);
        assert!(pt.contains(PteFlags::PAT) && !pt.contains(PteFlags::PS));
        let pd = PteFlags::decode(P_BIT | PS_BIT | PAT_LARGE_BIT, LevelName::Pd);
        assert!(pd.contains(PteFlags::PS) && pd.contains(PteFlags::PAT));
        // Bit 12 of a PD entry that points to a table is an address bit.
        let table = PteFlags::decode(P_BIT | PAT_LARGE_BIT, LevelName::Pd);
        assert!(!table.contains(PteFlags::PAT));
    }

    #[test]
    fn encode_inverts_decode() {
        for level in LevelName::ALL {
            for bits in 0..0x800u16 {
                let mut f = PteFlags::from_bits_truncate(bits);
                if level == LevelName::Pt {
                    f = f.without(PteFlags::PS);
                }
                if !level.is_leaf(f.encode(level)) {
                    f = f.without(PteFlags::PAT); // PAT exists only in leaves
                }
                assert_eq!(PteFlags::decode(f.encode(level), level), f, "{level} {f}");
            }
        }
    }

    #[test]
    fn large_page_masks_keep_their_frame_bits() {
        assert_eq!(ADDR_MASK_2M & 0x1f_ffff, 0);
        assert_eq!(ADDR_MASK_1G & 0x3fff_ffff, 0);
        assert_eq!(ADDR_MASK_2M & (1 << 21), 1 << 21);
        assert_eq!(ADDR_MASK_1G >> 51, 1);
    }

    #[test]
    fn reserved_bits_per_level() {
        let r = ReservedMasks::new(52, true);
        assert_eq!(r.check(P_BIT | PS_BIT, LevelName::Pml4), PS_BIT);
        assert_eq!(r.check(P_BIT | PS_BIT, LevelName::Pml5), PS_BIT);
        assert_eq!(
            r.check(P_BIT | PS_BIT, LevelName::Pt),
            0,
            "bit 7 is PAT in a PTE"
        );
        // A 2M leaf must have bits 20..13 clear; bit 12 is PAT.
        assert_eq!(
            r.check(P_BIT | PS_BIT | 1 << 13 | 1 << 12, LevelName::Pd),
            1 << 13
        );
        assert_eq!(r.check(P_BIT | PS_BIT | 1 << 20, LevelName::Pd), 1 << 20);
        assert_eq!(r.check(P_BIT | PS_BIT | 1 << 21, LevelName::Pd), 0);
        // The same bits are address bits in a PD entry that points to a table.
        assert_eq!(r.check(P_BIT | 1 << 13, LevelName::Pd), 0);
        assert_eq!(r.check(P_BIT | PS_BIT | 1 << 29, LevelName::Pdpt), 1 << 29);
        assert_eq!(r.check(P_BIT | NX_BIT, LevelName::Pt), 0);
        let no_nx = ReservedMasks::new(52, false);
        assert_eq!(no_nx.check(P_BIT | NX_BIT, LevelName::Pt), NX_BIT);
        let narrow = ReservedMasks::new(46, true);
        assert_eq!(narrow.check(P_BIT | 1 << 46, LevelName::Pdpt), 1 << 46);
        assert_eq!(narrow.check(P_BIT | 1 << 45, LevelName::Pdpt), 0);
        // Bits 62..52 are ignored (software / protection keys), not reserved.
        assert_eq!(narrow.check(P_BIT | 0x7ff << 52, LevelName::Pt), 0);
    }

    #[test]
    fn maxphyaddr_is_clamped() {
        assert_eq!(phys_reserved(52), 0);
        assert_eq!(phys_reserved(200), 0);
        assert_eq!(phys_reserved(0), ((1 << 52) - 1) & !0xfff);
    }
}
