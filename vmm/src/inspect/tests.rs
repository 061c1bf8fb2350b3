//! The analysis on synthetic page tables (paging::TableBuilder), with a
//! fake vCPU and a fake host: no /dev/kvm.

use super::*;
use crate::addr::{Gpa, Hpa};
use crate::devices::event::{Pattern, ProcEvent, ProcStats, Prot, Region, RegionKind};
use crate::paging::{self, Cr3, FlatMem, PageSize, PagingMode, PteFlags, TableBuilder};

mod bounds;
mod share;

use super::fake::{FakeCpu, FakeHost};

const BUDGET: Budget = Budget {
    pages: PAGE_BUDGET,
    runs: 1 << 16,
    share: SHARE_BUDGET,
};
const CODE: Gva = Gva(0x40_0000);
const HEAP: Gva = Gva(0x40_2000);
const STACK_TOP: Gva = Gva(0x7fff_ffff_f000);

/// An address space: 2 code pages, `heap` heap pages, 1 stack page, with
/// frames from 8 MiB up; the process event that describes it.
fn space(mode: PagingMode, heap: u64) -> (TableBuilder, ProcEvent) {
    let mem = FlatMem::new(Gpa(0), 32 << 20);
    let mut b = TableBuilder::new(mem, mode, Gpa(0x1000)..Gpa(0x40_0000)).expect("builder");
    let mut frame = 0x80_0000u64;
    let mut map = |b: &mut TableBuilder, gva: u64, flags: PteFlags| {
        b.map(Gva(gva), Gpa(frame), PageSize::Size4K, flags)
            .expect("map");
        frame += 0x1000;
    };
    let user = PteFlags::US;
    let rw = PteFlags::US.union(PteFlags::RW).union(PteFlags::NX);
    for i in 0..2 {
        map(&mut b, CODE.raw() + i * 0x1000, user);
    }
    for i in 0..heap {
        map(&mut b, HEAP.raw() + i * 0x1000, rw);
    }
    map(&mut b, STACK_TOP.raw() - 0x1000, rw);
    let region = |kind, start: u64, end: u64, prot: &str| Region {
        kind,
        span: Gva(start)..Gva(end),
        prot: prot.parse::<Prot>().expect("rwx"),
        faults: 0,
        cow_faults: 0,
        file: None,
    };
    let p = ProcEvent {
        pid: 7,
        name: "synthetic".into(),
        ppid: 0,
        execs: 0,
        cr3: Cr3(b.cr3()),
        user_pgd: None,
        regions: vec![
            region(RegionKind::Code, CODE.raw(), HEAP.raw(), "r-x"),
            region(
                RegionKind::Heap,
                HEAP.raw(),
                HEAP.raw() + heap * 0x1000,
                "rw-",
            ),
            region(
                RegionKind::Stack,
                STACK_TOP.raw() - 0x10_0000,
                STACK_TOP.raw(),
                "rw-",
            ),
        ],
        stats: ProcStats::default(),
        pattern: None,
        fs_base: 0,
        module: None,
        unknown_syscalls: Default::default(),
        exit: Some(crate::devices::event::Exit::Status(0)),
    };
    (b, p)
}

fn cpu(b: &TableBuilder, mode: PagingMode) -> FakeCpu<'_> {
    FakeCpu::new(b.mem(), Some(mode), Cr3(b.cr3()))
}

fn opts() -> Options {
    Options {
        all_pages: false,
        max_checked: 65536,
        flavour: Flavour::SvmNpt,
        walk: None,
        frames: false,
        host_levels: 4,
        tables: false,
        deadline: None,
    }
}

#[test]
fn a_clean_space_is_enumerated_counted_and_agrees() {
    for mode in [PagingMode::four_level(), PagingMode::five_level()] {
        let (b, p) = space(mode, 10);
        let c = cpu(&b, mode);
        let mut budget = BUDGET;
        let a = analyse(
            &c,
            b.mem(),
            &FakeHost(b.mem()),
            &p,
            &[],
            &opts(),
            &mut budget,
        );
        assert_eq!(a.findings, vec![], "{mode:?}");
        assert_eq!(a.pages_total, 13);
        assert_eq!(a.pages_checked, 13, "every page, under max_checked");
        let mapped: Vec<u64> = a.regions.iter().map(|r| r.pages_mapped).collect();
        assert_eq!(mapped, [2, 10, 1]);
        // Each region's first and last page, and every quarter, are listed.
        let listed: Vec<Gva> = a.pages.iter().map(|p| p.gva).collect();
        for want in [
            CODE,
            Gva(CODE.raw() + 0x1000),
            HEAP,
            Gva(HEAP.raw() + 9 * 0x1000),
        ] {
            assert!(listed.contains(&want), "{want} not listed: {listed:?}");
        }
        let heap0 = a.pages.iter().find(|p| p.gva == HEAP).expect("heap page");
        assert_eq!(heap0.region, Some(RegionKind::Heap));
        assert_eq!(heap0.kvm, Some(heap0.gpa));
        assert_eq!(heap0.hpa, Some(Hpa(0x1_0000_0000 + heap0.gpa.raw())));
        assert!(heap0.flags.contains(PteFlags::NX));
        assert_eq!(a.frames_span, Some((Gpa(0x80_0000), Gpa(0x80_c000))));
        assert_eq!(
            a.ranges.len(),
            3,
            "code, heap (other flags), stack (not contiguous)"
        );
        assert!(budget.pages < PAGE_BUDGET);
    }
}

#[test]
fn a_kvm_translate_disagreement_is_a_mismatch() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 3);
    let mut c = cpu(&b, mode);
    c.lie = Some(HEAP);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut budget,
    );
    let gpa = paging::walk(b.mem(), b.cr3(), mode, HEAP)
        .expect("walk")
        .gpa;
    assert_eq!(
        a.findings,
        vec![Finding::Mismatch {
            gva: HEAP,
            software: gpa,
            kvm: Some(Gpa(0xdead_0000)),
        }]
    );
}

#[test]
fn another_live_cr3_skips_the_cross_check() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 3);
    let mut c = cpu(&b, mode);
    c.cr3 = Cr3(0x5000);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut budget,
    );
    assert_eq!(a.pages_checked, 0);
    assert_eq!(c.translations.get(), 0);
    assert!(matches!(
        a.findings[..],
        [Finding::Cr3NotLive { live: 0x5000, .. }]
    ));
}

#[test]
fn sampling_checks_the_region_ends_and_an_even_sample() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 200);
    let c = cpu(&b, mode);
    let o = Options {
        max_checked: 8,
        ..opts()
    };
    let mut budget = BUDGET;
    let a = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut budget);
    // 203 pages, stride 26: 8 by stride plus the ends of three regions.
    assert!(
        (8..=8 + 6).contains(&a.pages_checked),
        "{}",
        a.pages_checked
    );
    assert_eq!(c.translations.get(), a.pages_checked);
    assert_eq!(a.findings, vec![]);
}

#[test]
fn pages_outside_every_region_are_reported() {
    let mode = PagingMode::four_level();
    let (b, mut p) = space(mode, 3);
    p.regions.retain(|r| r.kind != RegionKind::Heap);
    let c = cpu(&b, mode);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut budget,
    );
    let outside: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::OutsideRegions { .. }))
        .collect();
    assert_eq!(outside.len(), 3);
    assert!(
        a.pages
            .iter()
            .any(|pg| pg.gva == HEAP && pg.region.is_none())
    );
}

#[test]
fn the_pattern_reads_back_through_gpa_and_hva() {
    let mode = PagingMode::four_level();
    let (mut b, mut p) = space(mode, 3);
    let at = Gva(HEAP.raw() + 0x13);
    let gpa = paging::walk(b.mem(), b.cr3(), mode, at).expect("walk").gpa;
    // An unaligned store, as a guest may make.
    let word = Gpa(gpa.raw() & !7);
    b.mem_mut()
        .write_u64(word, 0x1122_3344_5566_7788 << 24)
        .expect("in RAM");
    b.mem_mut()
        .write_u64(Gpa(word.raw() + 8), 0x1122_3344_5566_7788 >> 40)
        .expect("in RAM");
    p.pattern = Some(Pattern {
        gva: at,
        value: 0x1122_3344_5566_7788,
    });
    let c = cpu(&b, mode);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut budget,
    );
    let pat = a.pattern.expect("pattern checked");
    assert!(pat.ok(), "{pat:?}");
    p.pattern = Some(Pattern { gva: at, value: 1 });
    let a = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut budget,
    );
    assert_eq!(a.findings, vec![Finding::PatternMismatch { gva: at }]);
}

#[test]
fn the_2d_walk_follows_every_entry_to_the_host() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 3);
    let c = cpu(&b, mode);
    let w = walk2d(&c, b.mem(), &FakeHost(b.mem()), 7, p.cr3, HEAP, &opts()).expect("mapped");
    assert_eq!(w.levels.len(), 4);
    for l in &w.levels {
        assert_eq!(
            l.entry_hpa,
            Some(Hpa(0x1_0000_0000 + l.guest.entry_gpa.raw()))
        );
    }
    assert_eq!(w.kvm, Some(w.gpa));
    assert!(!w.disagrees());
    assert_eq!(w.hw.refs, 24);
    assert!(w.hw.to_string().contains("4*(4+1)+4 = 24"), "{}", w.hw);
    let pvm = Options {
        flavour: Flavour::Pvm,
        ..opts()
    };
    let w = walk2d(&c, b.mem(), &FakeHost(b.mem()), 7, p.cr3, HEAP, &pvm).expect("mapped");
    assert_eq!(w.hw.refs, 4);
    assert!(
        walk2d(
            &c,
            b.mem(),
            &FakeHost(b.mem()),
            7,
            p.cr3,
            Gva(0x1000),
            &opts()
        )
        .is_none()
    );
}
