//! Property tests: random address spaces built by the reference mapper
//! (`TableBuilder`) must walk and enumerate to exactly what was mapped.

use std::ops::Range;

use proptest::prelude::*;

use super::builder::fixture;
use super::*;
use crate::addr::{Gpa, Gva};

/// A wanted mapping, before the overlap filter.
#[derive(Clone, Debug)]
struct Want {
    /// Table indices root first (5 of them; 4-level ignores the first).
    idx: [u16; 5],
    size: PageSize,
    gpa: u64,
    flags: PteFlags,
    /// Where inside the page to probe.
    offset: u64,
}

/// Indices drawn mostly from a few values so tables are shared, sometimes
/// from anywhere; 255/256 sit on either side of the canonical hole.
fn index() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => prop::sample::select(vec![0u16, 1, 2, 255, 256, 510, 511]),
        1 => 0u16..512,
    ]
}

fn want() -> impl Strategy<Value = Want> {
    let size = prop_oneof![
        6 => Just(PageSize::Size4K),
        2 => Just(PageSize::Size2M),
        1 => Just(PageSize::Size1G),
    ];
    let leaf_flags = [
        PteFlags::RW,
        PteFlags::US,
        PteFlags::PWT,
        PteFlags::PCD,
        PteFlags::A,
        PteFlags::D,
        PteFlags::G,
        PteFlags::PAT,
        PteFlags::NX,
    ];
    let flags = prop::sample::subsequence(leaf_flags.to_vec(), 0..=leaf_flags.len())
        .prop_map(|fs| fs.into_iter().fold(PteFlags::empty(), PteFlags::union));
    (
        prop::array::uniform5(index()),
        size,
        any::<u64>(),
        flags,
        any::<u64>(),
    )
        .prop_map(|(idx, size, gpa, flags, offset)| Want {
            idx,
            size,
            gpa: gpa & size.addr_mask() & ((1 << 44) - 1),
            flags,
            offset: offset & (size.bytes() - 1),
        })
}

/// The GVA of a mapping: indices below the leaf level are zero.
fn gva_of(w: &Want, mode: PagingMode) -> u64 {
    let mut va = 0u64;
    for (level, &i) in LevelName::ALL.iter().zip(&w.idx) {
        if *level == LevelName::Pml5 && !mode.la57 {
            continue;
        }
        va |= u64::from(i) << level.shift();
        if *level == w.size.level() {
            break;
        }
    }
    let unused = 64 - mode.va_bits();
    (((va << unused) as i64) >> unused) as u64
}

/// Two non-empty intervals [a, a+la) and [b, b+lb) intersect iff
/// a < b+lb && b < a+la (in u128: the last page ends at 2^64).
fn overlaps(a: u64, la: u64, b: u64, lb: u64) -> bool {
    let (a, la, b, lb) = (u128::from(a), u128::from(la), u128::from(b), u128::from(lb));
    la > 0 && lb > 0 && a < b + lb && b < a + la
}

fn expected_page(gva: u64, w: &Want) -> Page {
    Page {
        gva: Gva(gva),
        gpa: Gpa(w.gpa),
        page_size: w.size,
        flags: w.flags.union(PteFlags::P),
    }
}

proptest! {
    #[test]
    fn walk_and_enumerate_return_what_was_mapped(
        la57 in any::<bool>(),
        wants in prop::collection::vec(want(), 0..48),
        probes in prop::collection::vec(any::<u64>(), 16),
        ends in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let mode = if la57 { PagingMode::five_level() } else { PagingMode::four_level() };
        let mut b = fixture(mode);
        let mut mapped: Vec<(u64, Want)> = Vec::new();
        for w in wants {
            let gva = gva_of(&w, mode);
            if mapped.iter().any(|(g, m)| overlaps(*g, m.size.bytes(), gva, w.size.bytes())) {
                continue;
            }
            prop_assert_eq!(b.map(Gva(gva), Gpa(w.gpa), w.size, w.flags), Ok(()));
            mapped.push((gva, w));
        }
        mapped.sort_by_key(|(g, _)| *g);

        for (gva, w) in &mapped {
            let t = walk(b.mem(), b.cr3(), mode, Gva(gva + w.offset));
            let t = t.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(t.gpa, Gpa(w.gpa + w.offset));
            prop_assert_eq!(t.page_size, w.size);
            prop_assert_eq!(t.flags, w.flags.union(PteFlags::P));
            let depth = mode.levels() as usize - w.size as usize;
            prop_assert_eq!(t.levels().len(), depth);
        }

        // Random addresses and the edges of every page: a translation iff
        // some mapping covers them.
        let mut probes = probes;
        for (gva, w) in &mapped {
            probes.extend([gva.wrapping_sub(1), gva.wrapping_add(w.size.bytes()), gva + w.offset]);
        }
        for &probe in &probes {
            let hit = mapped.iter().find(|(g, m)| overlaps(*g, m.size.bytes(), probe, 1));
            match (walk(b.mem(), b.cr3(), mode, Gva(probe)), hit) {
                (Ok(t), Some((g, m))) => prop_assert_eq!(t.gpa, Gpa(m.gpa + (probe - g))),
                (Err(WalkFault::NotPresent { .. }), None) if mode.is_canonical(probe) => {}
                (Err(WalkFault::NonCanonical { .. }), None) if !mode.is_canonical(probe) => {}
                (r, h) => {
                    let msg = format!("probe {probe:#x}: {r:?} vs {h:?}");
                    return Err(TestCaseError::fail(msg));
                }
            }
        }

        let all: Vec<_> = mapped.iter().map(|(g, w)| expected_page(*g, w)).collect();
        let listed: Result<Vec<_>, _> =
            mapped_pages(b.mem(), b.cr3(), mode, Gva(0)..Gva(u64::MAX), u64::MAX).collect();
        prop_assert_eq!(listed, Ok(all));

        // A range between two probes: often inside pages, across the hole.
        let (a, b2) = (*ends.0.get(&probes), *ends.1.get(&probes));
        let (lo, hi) = (a.min(b2), a.max(b2));
        let r: Range<Gva> = Gva(lo)..Gva(hi);
        let inside: Vec<_> = mapped
            .iter()
            .filter(|(g, w)| overlaps(*g, w.size.bytes(), lo, hi - lo))
            .map(|(g, w)| expected_page(*g, w))
            .collect();
        let listed: Result<Vec<_>, _> = mapped_pages(b.mem(), b.cr3(), mode, r, u64::MAX).collect();
        prop_assert_eq!(listed, Ok(inside), "range {:#x}..{:#x}", lo, hi);

        let runs = mapped_ranges(b.mem(), b.cr3(), mode, Gva(0)..Gva(u64::MAX), u64::MAX);
        prop_assert!(runs.faults.is_empty());
        prop_assert_eq!(runs.ranges.iter().map(|r| r.pages).sum::<u64>(), mapped.len() as u64);
    }
}
