//! The levels of an x86-64 page-table tree and the page sizes their leaves
//! map: what `shift` of the address each indexes, which can be a leaf.

use std::fmt;

use super::bits::{ADDR_MASK, ADDR_MASK_1G, ADDR_MASK_2M, PS_BIT};

/// The five kinds of table, root first. x86 numbers them PML5 = 5 .. PT = 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelName {
    /// Page map level 5: the root with LA57; each entry covers 256 TiB.
    Pml5,
    /// Page map level 4: the root without LA57; each entry covers 512 GiB.
    Pml4,
    /// Page directory pointer table: each entry covers 1 GiB.
    Pdpt,
    /// Page directory: each entry covers 2 MiB.
    Pd,
    /// Page table: each entry maps one 4 KiB page.
    #[default]
    Pt,
}

impl LevelName {
    /// Root-first order; 4-level paging starts at index 1.
    pub const ALL: [LevelName; 5] = [Self::Pml5, Self::Pml4, Self::Pdpt, Self::Pd, Self::Pt];

    /// The lowest address bit this level's 9-bit index selects.
    #[inline]
    pub const fn shift(self) -> u32 {
        match self {
            Self::Pml5 => 48,
            Self::Pml4 => 39,
            Self::Pdpt => 30,
            Self::Pd => 21,
            Self::Pt => 12,
        }
    }

    /// The table one level below this one, or None at PT.
    #[inline]
    pub const fn lower(self) -> Option<LevelName> {
        match self {
            Self::Pml5 => Some(Self::Pml4),
            Self::Pml4 => Some(Self::Pdpt),
            Self::Pdpt => Some(Self::Pd),
            Self::Pd => Some(Self::Pt),
            Self::Pt => None,
        }
    }

    /// Whether an entry at this level maps a page rather than a table:
    /// always at PT, with PS at PDPT (1G) and PD (2M). PS at PML4/PML5 is a
    /// reserved bit, caught by `ReservedMasks::check`, never a leaf.
    #[inline]
    pub const fn is_leaf(self, entry: u64) -> bool {
        match self {
            Self::Pt => true,
            Self::Pdpt | Self::Pd => entry & PS_BIT != 0,
            Self::Pml5 | Self::Pml4 => false,
        }
    }

    /// The size of the page a leaf at this level maps, if one can.
    #[inline]
    pub const fn page_size(self) -> Option<PageSize> {
        match self {
            Self::Pt => Some(PageSize::Size4K),
            Self::Pd => Some(PageSize::Size2M),
            Self::Pdpt => Some(PageSize::Size1G),
            Self::Pml5 | Self::Pml4 => None,
        }
    }
}

impl fmt::Display for LevelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pml5 => "PML5",
            Self::Pml4 => "PML4",
            Self::Pdpt => "PDPT",
            Self::Pd => "PD",
            Self::Pt => "PT",
        })
    }
}

/// The size of a page a leaf entry maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB, mapped by a PT entry.
    Size4K,
    /// 2 MiB, mapped by a PD entry with PS.
    Size2M,
    /// 1 GiB, mapped by a PDPT entry with PS.
    Size1G,
}

impl PageSize {
    /// The page size in bytes.
    #[inline]
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Size4K => 1 << 12,
            Self::Size2M => 1 << 21,
            Self::Size1G => 1 << 30,
        }
    }

    /// The level whose entries map pages of this size.
    #[inline]
    pub const fn level(self) -> LevelName {
        match self {
            Self::Size4K => LevelName::Pt,
            Self::Size2M => LevelName::Pd,
            Self::Size1G => LevelName::Pdpt,
        }
    }

    /// The frame address bits of a leaf entry of this size.
    #[inline]
    pub const fn addr_mask(self) -> u64 {
        match self {
            Self::Size4K => ADDR_MASK,
            Self::Size2M => ADDR_MASK_2M,
            Self::Size1G => ADDR_MASK_1G,
        }
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Size4K => "4K",
            Self::Size2M => "2M",
            Self::Size1G => "1G",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_chain_down_nine_bits_apart() {
        let mut level = LevelName::Pml5;
        let mut seen = vec![level];
        while let Some(lower) = level.lower() {
            assert_eq!(level.shift(), lower.shift() + 9);
            level = lower;
            seen.push(level);
        }
        assert_eq!(seen, LevelName::ALL);
        for size in [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G] {
            assert_eq!(size.level().page_size(), Some(size));
            assert_eq!(size.bytes(), 1 << size.level().shift());
            assert_eq!(size.addr_mask() & (size.bytes() - 1), 0);
        }
        assert_eq!(LevelName::Pml4.page_size(), None);
        assert!(!LevelName::Pml4.is_leaf(PS_BIT) && LevelName::Pd.is_leaf(PS_BIT));
        assert!(LevelName::Pt.is_leaf(0) && !LevelName::Pdpt.is_leaf(0));
    }
}
