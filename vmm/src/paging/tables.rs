//! The page-table pages themselves: which guest frames hold the tables an
//! address space is made of (for crediting dirty frames to "page tables").

use std::collections::HashSet;

use super::bits::{ADDR_MASK, P_BIT, PS_BIT};
use super::entry::phys_reserved;
use super::mode::PagingMode;
use super::physmem::PhysMem;
use crate::addr::Gpa;

/// Return the GPA of every table page reachable from `cr3` (both halves,
/// the root first), each once, reading at most `limit` entries, so aliased
/// or self-referencing tables cannot make it long or large. A table
/// pointer outside RAM ends that subtree; a large-page leaf is not a table.
pub fn table_pages<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: u64,
    mode: PagingMode,
    limit: u64,
) -> Vec<Gpa> {
    let addr = ADDR_MASK & !phys_reserved(mode.maxphyaddr);
    let root = mode.root_table(cr3);
    let mut out = vec![Gpa(root)];
    let mut seen = HashSet::from([root]);
    let mut todo = vec![(root, mode.levels())];
    let mut reads = 0u64;
    while let Some((table, level)) = todo.pop() {
        if level == 1 {
            continue;
        }
        for i in 0..512u64 {
            if reads >= limit {
                return out;
            }
            reads += 1;
            let Some(e) = mem.read_u64(Gpa(table + 8 * i)) else {
                break;
            };
            // PS is reserved at the top level(s) and means a leaf below.
            if e & P_BIT == 0 || (level < mode.levels() && level <= 3 && e & PS_BIT != 0) {
                continue;
            }
            let next = e & addr;
            if mem.read_u64(Gpa(next)).is_some() && seen.insert(next) {
                out.push(Gpa(next));
                todo.push((next, level - 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::builder::fixture;
    use super::super::{PageSize, PteFlags};
    use super::*;
    use crate::addr::Gva;

    #[test]
    fn every_table_the_builder_made_and_nothing_else() {
        for mode in [PagingMode::four_level(), PagingMode::five_level()] {
            let mut b = fixture(mode);
            b.map(
                Gva(0x40_0000),
                Gpa(0x80_0000),
                PageSize::Size4K,
                PteFlags::RW,
            )
            .unwrap();
            b.map(
                Gva(0x7fff_ffff_f000),
                Gpa(0x80_1000),
                PageSize::Size4K,
                PteFlags::RW,
            )
            .unwrap();
            b.map(
                Gva(0x4000_0000),
                Gpa(0xa0_0000),
                PageSize::Size2M,
                PteFlags::RW,
            )
            .unwrap();
            let mut got = table_pages(b.mem(), b.cr3(), mode, 1 << 20);
            got.sort();
            let used = b.tables_used();
            let want: Vec<Gpa> = (used.start.raw()..used.end.raw())
                .step_by(4096)
                .map(Gpa)
                .collect();
            assert_eq!(got, want, "{mode:?}");
        }
    }

    #[test]
    fn a_self_referencing_table_is_bounded() {
        let mode = PagingMode::four_level();
        let mut b = fixture(mode);
        let root = b.cr3();
        for i in 0..512 {
            b.mem_mut()
                .write_u64(Gpa(root + 8 * i), root | 0x7)
                .unwrap();
        }
        let got = table_pages(b.mem(), root, mode, 10_000);
        assert_eq!(got, vec![Gpa(root)], "the one table, once");
    }

    #[test]
    fn entries_beyond_maxphyaddr_are_masked() {
        let mode = PagingMode::four_level().with_maxphyaddr(36).unwrap();
        let mut b = fixture(mode);
        let root = b.cr3();
        // Bit 40 lies above MAXPHYADDR 36: the walker ignores it in the address.
        b.mem_mut()
            .write_u64(Gpa(root), (1 << 40) | 0x2000 | 0x7)
            .unwrap();
        assert_eq!(
            table_pages(b.mem(), root, mode, 100),
            vec![Gpa(root), Gpa(0x2000)]
        );
    }
}
