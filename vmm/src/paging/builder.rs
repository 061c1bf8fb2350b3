//! A reference mapper: builds x86-64 page tables in a `FlatMem`, the way a
//! guest kernel's `mappages` would. The walker's tests, property tests and
//! benchmark use it to make address spaces whose answer is known.

use std::ops::Range;

use super::bits::{ADDR_MASK, P_BIT};
use super::entry::PteFlags;
use super::level::PageSize;
use super::mode::PagingMode;
use super::physmem::{FlatMem, PhysMem};
use crate::addr::{Gpa, Gva};

/// Entry bits of every table the builder creates: permissive, so a leaf's
/// own flags are the effective ones.
const TABLE_BITS: u64 = P_BIT | 0b110 | 1 << 5; // P RW US A

/// Why a mapping could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A large page must start on its own size in both address spaces.
    #[error("{gva} or {gpa} is not aligned to the {size} page being mapped")]
    Misaligned {
        /// The virtual start asked for.
        gva: Gva,
        /// The physical start asked for.
        gpa: Gpa,
        /// The page size asked for.
        size: PageSize,
    },
    /// The address has no translation in this paging mode.
    #[error("{0} is not a canonical address in this paging mode")]
    NonCanonical(Gva),
    /// A leaf or a large page already covers the address.
    #[error("{gva} overlaps a mapping already made")]
    Overlap {
        /// The first address already mapped.
        gva: Gva,
    },
    /// The table area is used up.
    #[error("no room left for another page table in the table area")]
    OutOfTables,
    /// The area given for tables cannot hold them.
    #[error("the table area {start}..{end} is not inside RAM or not page aligned")]
    BadTableArea {
        /// Its first byte.
        start: Gpa,
        /// Its end, exclusive.
        end: Gpa,
    },
}

/// Page tables under construction, allocated from a range of RAM.
pub struct TableBuilder {
    mem: FlatMem,
    mode: PagingMode,
    root: u64,
    next: u64,
    end: u64,
}

impl TableBuilder {
    /// Start an empty address space in `mem`, taking page-table pages from
    /// `tables` (page aligned, inside RAM, zeroed); the root is the first.
    pub fn new(mem: FlatMem, mode: PagingMode, tables: Range<Gpa>) -> Result<Self, BuildError> {
        let (start, end) = (tables.start.raw(), tables.end.raw());
        let ram_end = mem.base().raw().saturating_add(mem.size());
        let ok = start.is_multiple_of(4096)
            && end.is_multiple_of(4096)
            && start < end
            && start >= mem.base().raw()
            && end <= ram_end;
        if !ok {
            return Err(BuildError::BadTableArea {
                start: tables.start,
                end: tables.end,
            });
        }
        Ok(Self {
            mem,
            mode,
            root: start,
            next: start + 4096,
            end,
        })
    }

    /// The CR3 value that selects this address space.
    pub fn cr3(&self) -> u64 {
        self.root
    }

    /// The RAM holding the tables.
    pub fn mem(&self) -> &FlatMem {
        &self.mem
    }

    /// The RAM holding the tables, builder dropped.
    pub fn into_mem(self) -> FlatMem {
        self.mem
    }

    /// Writable RAM, for tests that corrupt entries on purpose.
    pub fn mem_mut(&mut self) -> &mut FlatMem {
        &mut self.mem
    }

    /// The table pages handed out so far (root included).
    pub fn tables_used(&self) -> Range<Gpa> {
        Gpa(self.root)..Gpa(self.next)
    }

    /// Map the `size` page at `gva` to `gpa` with the leaf flags `flags`
    /// (P is implied; PS is set for large pages), creating tables on the way.
    pub fn map(
        &mut self,
        gva: Gva,
        gpa: Gpa,
        size: PageSize,
        flags: PteFlags,
    ) -> Result<(), BuildError> {
        let mask = size.bytes() - 1;
        if gva.raw() & mask != 0 || gpa.raw() & mask != 0 || gpa.raw() & !size.addr_mask() != 0 {
            return Err(BuildError::Misaligned { gva, gpa, size });
        }
        if !self.mode.is_canonical(gva.raw()) {
            return Err(BuildError::NonCanonical(gva));
        }
        let mut level = self.mode.root();
        let mut table = self.root;
        let leaf_level = size.level();
        loop {
            let slot = Gpa(table | ((gva.raw() >> level.shift()) & 511) << 3);
            let entry = self.read(slot)?;
            if level == leaf_level {
                if entry & P_BIT != 0 {
                    return Err(BuildError::Overlap { gva });
                }
                let mut leaf = flags.union(PteFlags::P).without(PteFlags::PS);
                if size != PageSize::Size4K {
                    leaf = leaf.union(PteFlags::PS);
                }
                return self.write(slot, gpa.raw() | leaf.encode(level));
            }
            let next = if entry & P_BIT == 0 {
                let fresh = self.alloc()?;
                self.write(slot, fresh | TABLE_BITS)?;
                fresh
            } else if level.is_leaf(entry) {
                return Err(BuildError::Overlap { gva });
            } else {
                entry & ADDR_MASK
            };
            table = next;
            level = level.lower().ok_or(BuildError::Overlap { gva })?;
        }
    }

    fn alloc(&mut self) -> Result<u64, BuildError> {
        if self.next >= self.end {
            return Err(BuildError::OutOfTables);
        }
        let page = self.next;
        self.next += 4096;
        Ok(page)
    }

    fn read(&self, gpa: Gpa) -> Result<u64, BuildError> {
        self.mem.read_u64(gpa).ok_or(BuildError::OutOfTables)
    }

    fn write(&mut self, gpa: Gpa, value: u64) -> Result<(), BuildError> {
        self.mem
            .write_u64(gpa, value)
            .ok_or(BuildError::OutOfTables)
    }
}

/// 16 MiB of RAM at GPA 0 with tables taken from 0x1000..4 MiB.
#[cfg(test)]
pub(super) fn fixture(mode: PagingMode) -> TableBuilder {
    let mem = FlatMem::new(Gpa(0), 16 << 20);
    match TableBuilder::new(mem, mode, Gpa(0x1000)..Gpa(0x40_0000)) {
        Ok(b) => b,
        Err(e) => panic!("fixture: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> TableBuilder {
        let mem = FlatMem::new(Gpa(0), 1 << 20);
        TableBuilder::new(mem, PagingMode::four_level(), Gpa(0x1000)..Gpa(0x6000)).unwrap()
    }

    #[test]
    fn map_writes_one_table_per_level() {
        let mut b = builder();
        b.map(Gva(0x40_0000), Gpa(0x5000), PageSize::Size4K, PteFlags::RW)
            .unwrap();
        assert_eq!(b.tables_used(), Gpa(0x1000)..Gpa(0x5000));
        assert_eq!(b.mem().read_u64(Gpa(0x4000)), Some(0x5000 | 0b11));
        // PML4[0] -> PDPT at 0x2000, PDPT[0] -> PD at 0x3000, PD[2] -> PT at 0x4000.
        assert_eq!(b.mem().read_u64(Gpa(0x1000)), Some(0x2000 | TABLE_BITS));
        assert_eq!(
            b.mem().read_u64(Gpa(0x3000 + 16)),
            Some(0x4000 | TABLE_BITS)
        );
    }

    #[test]
    fn map_refuses_overlap_misalignment_and_exhaustion() {
        let mut b = builder();
        b.map(
            Gva(0x20_0000),
            Gpa(0x20_0000),
            PageSize::Size2M,
            PteFlags::P,
        )
        .unwrap();
        let again = b.map(Gva(0x20_1000), Gpa(0x1000), PageSize::Size4K, PteFlags::P);
        assert_eq!(
            again,
            Err(BuildError::Overlap {
                gva: Gva(0x20_1000)
            })
        );
        let under = b.map(Gva(0), Gpa(0), PageSize::Size1G, PteFlags::P);
        assert_eq!(under, Err(BuildError::Overlap { gva: Gva(0) }));
        let odd = b.map(Gva(0x1000), Gpa(0x1000), PageSize::Size2M, PteFlags::P);
        assert!(matches!(odd, Err(BuildError::Misaligned { .. })));
        let hole = b.map(Gva(1 << 47), Gpa(0), PageSize::Size4K, PteFlags::P);
        assert_eq!(hole, Err(BuildError::NonCanonical(Gva(1 << 47))));
        // 5 table pages, 3 used; a new 512G region needs 3 more.
        let far = b.map(Gva(1 << 39), Gpa(0), PageSize::Size4K, PteFlags::P);
        assert_eq!(far, Err(BuildError::OutOfTables));
    }

    #[test]
    fn table_area_must_be_ram() {
        let mem = FlatMem::new(Gpa(0), 0x4000);
        let r = TableBuilder::new(mem, PagingMode::four_level(), Gpa(0x1000)..Gpa(0x5000));
        assert!(matches!(r, Err(BuildError::BadTableArea { .. })));
    }
}
