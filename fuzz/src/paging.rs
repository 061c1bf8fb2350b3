//! The paging target, and the paging input it shares with the analysis
//! target: page tables in fuzzed memory, walked, enumerated and listed.

use std::ops::Range;

use microvmm::addr::{Gpa, Gva};
use microvmm::paging::{self, FlatMem, LevelName, PageSize, PagingMode, PhysMem, PteFlags};

use crate::{PAGE, PAGING_HEADER, PAGING_RAM, TABLE_LIMIT, u16_at, u64_at};

/// The paging input's fields.
pub(crate) struct PagingInput {
    pub(crate) mode: PagingMode,
    pub(crate) cr3: u64,
    pub(crate) gvas: [u64; 4],
    pub(crate) limit: u64,
    pub(crate) mem: FlatMem,
}

pub(crate) fn paging_input(data: &[u8]) -> Option<PagingInput> {
    let flags = *data.first()?;
    let maxphyaddr = *data.get(1)?;
    let cr3 = u64_at(data, 2)?;
    let gvas = [
        u64_at(data, 10)?,
        u64_at(data, 18)?,
        u64_at(data, 26)?,
        u64_at(data, 34)?,
    ];
    let limit = u64::from(u16_at(data, 42)?);
    let base = u64::from(*data.get(44)? & 15) * PAGE;
    let mut mem = FlatMem::new(Gpa(base), PAGING_RAM);
    let words = data.get(PAGING_HEADER..).unwrap_or_default().chunks(8);
    for (i, w) in words.take((PAGING_RAM / 8) as usize).enumerate() {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        mem.write_u64(Gpa(base + 8 * i as u64), u64::from_le_bytes(word))?;
    }
    let mode = PagingMode {
        la57: flags & 1 != 0,
        nxe: flags & 2 != 0,
        maxphyaddr,
    };
    Some(PagingInput {
        mode,
        cr3,
        gvas,
        limit,
        mem,
    })
}

/// The levels a walk reads to reach a page of `size`.
fn levels_for(mode: PagingMode, size: PageSize) -> usize {
    mode.levels() as usize
        - match size {
            PageSize::Size4K => 0,
            PageSize::Size2M => 1,
            PageSize::Size1G => 2,
        }
}

/// Target 4: page tables in any memory, from any CR3, 4- or 5-level, any
/// MAXPHYADDR. A translation is built only from entries it read in RAM,
/// chained table to table from CR3, and its GPA is its leaf's frame plus
/// the offset; every page the enumerator lists walks to the same page and
/// flags; runs cover exactly those pages; table listing stays in its limit
/// and holds the tables successful walks went through.
pub fn paging(data: &[u8]) {
    let Some(input) = paging_input(data) else {
        return;
    };
    let PagingInput {
        mode,
        cr3,
        gvas,
        limit,
        mem,
    } = input;
    let tables = table_listing(&mem, cr3, mode);
    for gva in gvas {
        if let Ok(t) = paging::walk(&mem, cr3, mode, Gva(gva)) {
            translation(&mem, cr3, mode, &t);
            if let Some(second) = t.levels().get(1) {
                assert!(tables.contains(&second.table_gpa), "table missing");
            }
        }
    }
    let range: Range<Gva> = if gvas[0] < gvas[1] {
        Gva(gvas[0])..Gva(gvas[1])
    } else {
        Gva(0)..Gva(u64::MAX)
    };
    let mut items = 0u64;
    let mut pages = Vec::new();
    for item in paging::mapped_pages(&mem, cr3, mode, range, limit) {
        items += 1;
        assert!(items <= limit + 1, "more results than entries read");
        if let Ok(p) = item {
            pages.push(p);
        }
    }
    for pair in pages.windows(2) {
        let [a, b] = pair else { continue };
        let a_end = (a.gva.raw() as u128) + u128::from(a.page_size.bytes());
        assert!(
            a_end <= u128::from(b.gva.raw()),
            "pages out of order or overlapping"
        );
    }
    for p in &pages {
        assert!(p.gva.raw().is_multiple_of(p.page_size.bytes()));
        match paging::walk(&mem, cr3, mode, p.gva) {
            Ok(t) => {
                assert_eq!((t.gpa, t.page_size, t.flags), (p.gpa, p.page_size, p.flags));
            }
            Err(e) => panic!("enumerated {p:?} but the walk says {e}"),
        }
    }
    let max = usize::from(data.get(44).copied().unwrap_or_default() >> 4);
    runs(&pages, max);
}

/// The table pages from CR3, listed within TABLE_LIMIT: the root first,
/// each once, every one a page in RAM, and a smaller limit lists a prefix.
fn table_listing(mem: &FlatMem, cr3: u64, mode: PagingMode) -> Vec<Gpa> {
    let tables = paging::table_pages(mem, cr3, mode, TABLE_LIMIT);
    assert!(tables.len() as u64 <= TABLE_LIMIT + 1);
    assert_eq!(tables.first(), Some(&Gpa(mode.root_table(cr3))));
    for t in tables.iter().skip(1) {
        assert!(t.raw().is_multiple_of(PAGE) && mem.read_u64(*t).is_some());
    }
    let mut unique = tables.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), tables.len(), "a table page listed twice");
    let half = paging::table_pages(mem, cr3, mode, TABLE_LIMIT / 2);
    assert!(
        tables.starts_with(&half),
        "a larger limit changed the start"
    );
    tables
}

/// The runs coalesced from the enumerated `pages` cover exactly them, no
/// two could be one, and asking for at most `max` gives the first ones.
fn runs(pages: &[paging::Page], max: usize) {
    let runs = paging::coalesce(pages.iter().copied());
    let (some, total) = paging::coalesce_at_most(pages.iter().copied(), max);
    assert_eq!(total, runs.len());
    assert_eq!(some[..], runs[..max.min(runs.len())]);
    assert_eq!(
        runs.iter().map(|r| r.pages).sum::<u64>(),
        pages.len() as u64
    );
    for r in &runs {
        assert_eq!(r.len, r.pages * r.page_size.bytes());
    }
    for pair in runs.windows(2) {
        let [a, b] = pair else { continue };
        let joins = a.page_size == b.page_size
            && a.flags == b.flags
            && a.gva.raw().checked_add(a.len) == Some(b.gva.raw())
            && a.gpa.raw().checked_add(a.len) == Some(b.gpa.raw());
        assert!(!joins, "two runs that are one");
    }
}

/// The checks on one successful walk.
fn translation(mem: &FlatMem, cr3: u64, mode: PagingMode, t: &paging::Translation) {
    let levels = t.levels();
    assert_eq!(levels.len(), levels_for(mode, t.page_size));
    let mut table = mode.root_table(cr3);
    let (mut all, mut any) = (u64::MAX, 0u64);
    for (i, l) in levels.iter().enumerate() {
        assert_eq!(l.table_gpa, Gpa(table));
        assert_eq!(u64::from(l.index), (t.gva.raw() >> l.level.shift()) & 511);
        assert_eq!(l.entry_gpa, Gpa(table + 8 * u64::from(l.index)));
        assert_eq!(
            mem.read_u64(l.entry_gpa),
            Some(l.entry),
            "an entry not in RAM"
        );
        assert!(l.entry & 1 == 1, "a non-present entry");
        if i == 0 {
            assert_eq!(l.level, mode.root());
        }
        table = l.entry & 0x000f_ffff_ffff_f000;
        all &= l.entry;
        any |= l.entry;
    }
    let Some(leaf) = levels.last() else {
        panic!("a translation with no levels")
    };
    assert_eq!(leaf.entry, t.entry);
    assert_eq!(leaf.level, t.page_size.level());
    assert_eq!(t.page_gpa(), Gpa(t.entry & t.page_size.addr_mask()));
    let offset = t.gva.raw() & (t.page_size.bytes() - 1);
    assert_eq!(t.gpa, Gpa(t.page_gpa().raw() | offset));
    assert_eq!(t.flags.contains(PteFlags::RW), all & 2 != 0);
    assert_eq!(t.flags.contains(PteFlags::US), all & 4 != 0);
    assert_eq!(t.flags.contains(PteFlags::NX), mode.nxe && any >> 63 != 0);
    assert!(!t.flags.contains(PteFlags::PS));
    assert!(mode.is_canonical(t.gva.raw()));
    assert!(matches!(
        leaf.level,
        LevelName::Pt | LevelName::Pd | LevelName::Pdpt
    ));
}
