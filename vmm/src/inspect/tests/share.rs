//! Frames shared with other live processes, on two synthetic address
//! spaces in one memory: a parent exiting after fork and its child.

use super::*;

/// Frames: code 0x80_0000.., the parent's heap 0x81_0000.., stacks and
/// copies 0x90_0000...
const CODE_F: u64 = 0x80_0000;
const HEAP_F: u64 = 0x81_0000;

/// A parent (exiting, tables in the first MiB) and a child (tables in
/// the second): both map the two code pages on the same frames; of the
/// parent's four heap pages the child maps the first two on the same
/// frames (read-only in both: copy-on-write not yet broken) and has its
/// own copies of the last two; each has its own stack. `stack_alias`
/// makes the child map the parent's stack frame (a bug the analysis must
/// flag); `heap_rw` leaves the parent's heap writable.
struct Fork {
    mem: FlatMem,
    parent: ProcEvent,
    child_cr3: Cr3,
}

fn fork(mode: PagingMode, stack_alias: bool, heap_rw: bool) -> Fork {
    let ro = PteFlags::US.union(PteFlags::NX);
    let rw = ro.union(PteFlags::RW);
    let mut b = TableBuilder::new(
        FlatMem::new(Gpa(0), 32 << 20),
        mode,
        Gpa(0x1000)..Gpa(0x10_0000),
    )
    .expect("builder");
    let map = |b: &mut TableBuilder, gva: u64, gpa: u64, flags| {
        b.map(Gva(gva), Gpa(gpa), PageSize::Size4K, flags)
            .expect("map");
    };
    for i in 0..2 {
        map(
            &mut b,
            CODE.raw() + i * 0x1000,
            CODE_F + i * 0x1000,
            PteFlags::US,
        );
    }
    for i in 0..4 {
        let flags = if heap_rw { rw } else { ro };
        map(&mut b, HEAP.raw() + i * 0x1000, HEAP_F + i * 0x1000, flags);
    }
    map(&mut b, STACK_TOP.raw() - 0x1000, 0x90_0000, rw);
    let parent_cr3 = Cr3(b.cr3());
    let mut c =
        TableBuilder::new(b.into_mem(), mode, Gpa(0x10_0000)..Gpa(0x20_0000)).expect("builder");
    for i in 0..2 {
        map(
            &mut c,
            CODE.raw() + i * 0x1000,
            CODE_F + i * 0x1000,
            PteFlags::US,
        );
    }
    for i in 0..2 {
        map(&mut c, HEAP.raw() + i * 0x1000, HEAP_F + i * 0x1000, ro);
    }
    for i in 2..4 {
        map(&mut c, HEAP.raw() + i * 0x1000, 0x91_0000 + i * 0x1000, rw);
    }
    let stack = if stack_alias { 0x90_0000 } else { 0x92_0000 };
    map(&mut c, STACK_TOP.raw() - 0x1000, stack, rw);
    let child_cr3 = Cr3(c.cr3());
    let (_, mut parent) = space(mode, 4);
    parent.cr3 = parent_cr3;
    Fork {
        mem: c.into_mem(),
        parent,
        child_cr3,
    }
}

fn cpu_on(mem: &FlatMem, mode: PagingMode, cr3: Cr3) -> FakeCpu<'_> {
    FakeCpu::new(mem, Some(mode), cr3)
}

fn child(f: &Fork) -> Peer {
    Peer {
        pid: 9,
        name: "child".into(),
        cr3: f.child_cr3,
    }
}

fn shared(a: &Analysis) -> Vec<Option<u64>> {
    a.regions.iter().map(|r| r.shared_pages).collect()
}

/// The child's untouched pages are the parent's shared pages, region by
/// region; its copies and stacks are not; the frames are one run.
#[test]
fn pages_the_child_still_maps_are_shared() {
    for mode in [PagingMode::four_level(), PagingMode::five_level()] {
        let f = fork(mode, false, false);
        let c = cpu_on(&f.mem, mode, f.parent.cr3);
        let mut budget = BUDGET;
        let a = analyse(
            &c,
            &f.mem,
            &FakeHost(&f.mem),
            &f.parent,
            &[child(&f)],
            &opts(),
            &mut budget,
        );
        assert_eq!(a.findings, vec![], "{mode:?}");
        assert_eq!(shared(&a), [Some(2), Some(2), Some(0)], "code, heap, stack");
        let s = a.sharing.as_ref().expect("sharing");
        assert_eq!(s.shared_pages, Some(4));
        assert_eq!(
            s.with,
            [PeerShare {
                pid: 9,
                name: "child".into(),
                pages: 4
            }]
        );
        // Code frames 0x80_0000.. and the heap's 0x81_0000..: two runs.
        assert_eq!(s.frames, [(Gpa(CODE_F), 2), (Gpa(HEAP_F), 2)]);
        assert_eq!(s.frames_total, 2);
        assert_eq!(s.stop, None);
        assert!(budget.share < SHARE_BUDGET, "the sweep is charged");
        assert_eq!(budget.runs, BUDGET.runs - a.ranges.len() - 2);
    }
}

/// Alone, nothing is shared, and that is a count (0), not unknown.
#[test]
fn no_other_live_process_shares_nothing() {
    let mode = PagingMode::four_level();
    let f = fork(mode, false, false);
    let c = cpu_on(&f.mem, mode, f.parent.cr3);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &f.parent,
        &[],
        &opts(),
        &mut budget,
    );
    assert_eq!(shared(&a), [Some(0), Some(0), Some(0)]);
    let s = a.sharing.expect("sharing");
    assert_eq!(
        (s.shared_pages, s.with.len(), s.frames.len()),
        (Some(0), 0, 0)
    );
    assert_eq!(
        budget.share, SHARE_BUDGET,
        "nothing to compare, nothing spent"
    );
}

/// A writable page whose frame the child maps too is a finding (a write
/// would show in the child); read-only sharing is not, and a peer on the
/// very same tables (a thread, vfork) shares everything without one.
#[test]
fn a_writable_frame_mapped_twice_is_flagged() {
    let mode = PagingMode::four_level();
    let f = fork(mode, true, false);
    let c = cpu_on(&f.mem, mode, f.parent.cr3);
    let mut budget = BUDGET;
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &f.parent,
        &[child(&f)],
        &opts(),
        &mut budget,
    );
    let stack = Gva(STACK_TOP.raw() - 0x1000);
    assert_eq!(
        a.findings,
        [Finding::SharedWritable {
            gva: stack,
            gpa: Gpa(0x90_0000),
            pid: 9
        }]
    );
    assert_eq!(shared(&a), [Some(2), Some(2), Some(1)]);
    assert!(a.findings[0].to_string().contains("mapped by pid 9 too"));
    // Writable heap pages shared with the child: each flagged.
    let f = fork(mode, false, true);
    let c = cpu_on(&f.mem, mode, f.parent.cr3);
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &f.parent,
        &[child(&f)],
        &opts(),
        &mut budget,
    );
    let flagged: Vec<Gva> = a
        .findings
        .iter()
        .filter_map(|x| match x {
            Finding::SharedWritable { gva, .. } => Some(*gva),
            _ => None,
        })
        .collect();
    assert_eq!(flagged, [HEAP, Gva(HEAP.raw() + 0x1000)]);
    // In a file mapping (MAP_SHARED) a writable shared frame is the point.
    let mut p = f.parent.clone();
    p.regions[1].kind = RegionKind::File;
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &p,
        &[child(&f)],
        &opts(),
        &mut budget,
    );
    assert_eq!(a.findings, vec![]);
    assert_eq!(shared(&a), [Some(2), Some(2), Some(0)]);
    // The same tables: every page shared, nothing flagged.
    let thread = Peer {
        pid: 10,
        name: "thread".into(),
        cr3: f.parent.cr3,
    };
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &f.parent,
        &[thread],
        &opts(),
        &mut budget,
    );
    assert_eq!(a.findings, vec![]);
    assert_eq!(shared(&a), [Some(2), Some(4), Some(1)]);
    assert_eq!(a.sharing.expect("sharing").with[0].pages, 7);
}

/// A 2 MiB page of the exiting process shares when any 4 KiB frame of it
/// is the peer's.
#[test]
fn a_large_page_shares_through_any_of_its_frames() {
    let mode = PagingMode::four_level();
    let mut b = TableBuilder::new(
        FlatMem::new(Gpa(0), 32 << 20),
        mode,
        Gpa(0x1000)..Gpa(0x10_0000),
    )
    .expect("builder");
    let big = Gva(0x60_0000);
    b.map(big, Gpa(0x120_0000), PageSize::Size2M, PteFlags::US)
        .expect("map 2M");
    let parent_cr3 = Cr3(b.cr3());
    let mut c =
        TableBuilder::new(b.into_mem(), mode, Gpa(0x10_0000)..Gpa(0x20_0000)).expect("builder");
    c.map(big, Gpa(0x13f_f000), PageSize::Size4K, PteFlags::US)
        .expect("map 4K");
    let peer = Peer {
        pid: 2,
        name: "p".into(),
        cr3: Cr3(c.cr3()),
    };
    let mem = c.into_mem();
    let (_, mut p) = space(mode, 0);
    p.cr3 = parent_cr3;
    p.regions = vec![Region {
        kind: RegionKind::Mmap,
        span: big..Gva(big.raw() + (2 << 20)),
        prot: "r--".parse().expect("rwx"),
        faults: 0,
        cow_faults: 0,
        file: None,
    }];
    let cpu = cpu_on(&mem, mode, parent_cr3);
    let mut budget = BUDGET;
    let a = analyse(
        &cpu,
        &mem,
        &FakeHost(&mem),
        &p,
        &[peer],
        &opts(),
        &mut budget,
    );
    assert_eq!(shared(&a), [Some(1)]);
    let s = a.sharing.expect("sharing");
    assert_eq!(s.frames, [(Gpa(0x120_0000), 512)], "the whole 2 MiB page");
}

/// The run's budget spent, or a peer's tables that alias themselves: the
/// counts are unknown (None), said once, never a wrong number.
#[test]
fn a_spent_budget_or_aliased_tables_leave_the_counts_unknown() {
    let mode = PagingMode::four_level();
    let f = fork(mode, false, false);
    let c = cpu_on(&f.mem, mode, f.parent.cr3);
    let mut budget = Budget {
        share: 10,
        ..BUDGET
    };
    let a = analyse(
        &c,
        &f.mem,
        &FakeHost(&f.mem),
        &f.parent,
        &[child(&f)],
        &opts(),
        &mut budget,
    );
    assert_eq!(shared(&a), [None, None, None]);
    assert_eq!(a.findings, [Finding::SharingUnknown(ShareStop::Budget)]);
    assert_eq!(budget.share, 0);
    let s = a.sharing.expect("sharing");
    assert_eq!((s.shared_pages, s.stop), (None, Some(ShareStop::Budget)));
    assert!(
        Finding::SharingUnknown(ShareStop::Budget)
            .to_string()
            .starts_with("pages shared with other live processes not counted: the run's budget")
    );
    // A peer whose root points at itself 512 times maps 2^36 pages.
    let mut mem = f.mem.clone();
    let evil = 0x1f0_0000u64;
    for i in 0..512 {
        mem.write_u64(Gpa(evil + 8 * i), evil | 0b111)
            .expect("write");
    }
    let peer = Peer {
        pid: 66,
        name: "evil".into(),
        cr3: Cr3(evil),
    };
    let c = cpu_on(&mem, mode, f.parent.cr3);
    let mut budget = Budget {
        share: 200_000,
        ..BUDGET
    };
    let a = analyse(
        &c,
        &mem,
        &FakeHost(&mem),
        &f.parent,
        &[peer],
        &opts(),
        &mut budget,
    );
    assert_eq!(shared(&a), [None, None, None]);
    assert_eq!(a.findings, [Finding::SharingUnknown(ShareStop::Budget)]);
    assert_eq!(budget.share, 0, "stopped at the budget");
}
