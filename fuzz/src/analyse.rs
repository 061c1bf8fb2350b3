//! The analysis target: `inspect::analyse` of one exiting process over
//! the paging input, with the fake vCPU and host, kept within its budgets.

use microvmm::addr::Gva;
use microvmm::devices::event::{ProcEvent, ProcStats, Prot, Region, RegionKind};
use microvmm::inspect::fake::{FakeCpu, FakeHost};
use microvmm::inspect::{self, Budget, MAX_FINDINGS, Options, PAGE_BUDGET, Peer};
use microvmm::kvm_probe::Flavour;
use microvmm::paging::Cr3;

use crate::PAGE;
use crate::paging::{PagingInput, paging_input};

/// Target 5: the whole analysis of one exiting process (inspect::analyse)
/// over the paging input, with a fake vCPU and host. It stays within its
/// budgets: the run-wide page budget only shrinks, by at least what it
/// listed; findings, runs and counts are capped.
pub fn analyse(data: &[u8]) {
    let Some(input) = paging_input(data) else {
        return;
    };
    let flags = data.first().copied().unwrap_or_default();
    let p = process(&input);
    let cr3 = Cr3(if flags & 8 == 0 {
        input.cr3
    } else {
        !input.cr3
    });
    let mut cpu = FakeCpu::new(&input.mem, (flags & 4 == 0).then_some(input.mode), cr3);
    cpu.lie = (flags & 16 != 0).then_some(Gva(input.gvas[2]));
    let o = Options {
        all_pages: flags & 32 != 0,
        max_checked: input.limit,
        flavour: Flavour::SvmNpt,
        walk: Some(Gva(input.gvas[3])),
        frames: flags & 64 != 0,
        tables: flags & 1 != 0,
        host_levels: 4,
        deadline: None,
    };
    let before = if flags & 128 == 0 {
        Budget {
            pages: PAGE_BUDGET,
            runs: 1 << 16,
            share: inspect::SHARE_BUDGET,
        }
    } else {
        Budget {
            pages: input.limit,
            runs: usize::from(data.get(44).copied().unwrap_or_default() >> 4),
            share: input.limit,
        }
    };
    // Two other live processes: one on tables the input chooses, one on
    // the same tables as the exiting process.
    let peers = [
        Peer {
            pid: 2,
            name: "peer".into(),
            cr3: Cr3(input.gvas[1]),
        },
        Peer {
            pid: 3,
            name: "thread".into(),
            cr3: Cr3(input.cr3),
        },
    ];
    let mut budget = before;
    let a = inspect::analyse(
        &cpu,
        &input.mem,
        &FakeHost(&input.mem),
        &p,
        &peers,
        &o,
        &mut budget,
    );
    spent_as_listed(&a, before, budget);
    bounded(&a, &p, cpu.mode.is_some());
}

/// The exiting process: up to three regions (code, heap, stack) between
/// the input's GVAs, its tables at the input's CR3.
fn process(input: &PagingInput) -> ProcEvent {
    let g = input.gvas.map(|v| v & !(PAGE - 1));
    let kinds = [
        RegionKind::Code,
        RegionKind::Heap,
        RegionKind::Stack,
        RegionKind::Mmap,
    ];
    let regions = [(g[0], g[1]), (g[2], g[3]), (g[1], g[3])]
        .into_iter()
        .zip(kinds)
        .filter(|((s, e), _)| s < e)
        .map(|((s, e), kind)| Region {
            kind,
            span: Gva(s)..Gva(e),
            prot: Prot {
                read: true,
                write: kind != RegionKind::Code,
                exec: kind == RegionKind::Code,
            },
            faults: 0,
            cow_faults: 0,
            file: None,
        })
        .collect::<Vec<_>>();
    ProcEvent {
        pid: 1,
        name: "fuzz".into(),
        ppid: 0,
        execs: 0,
        cr3: Cr3(input.cr3),
        user_pgd: None,
        regions,
        stats: ProcStats::default(),
        pattern: None,
        fs_base: 0,
        module: None,
        unknown_syscalls: Default::default(),
        exit: None,
    }
}

/// The budgets only shrank, and by exactly what the analysis listed:
/// pages (listed, frames, tables, table entries) and runs.
fn spent_as_listed(a: &inspect::Analysis, before: Budget, budget: Budget) {
    assert!(budget.pages <= before.pages && budget.runs <= before.runs);
    assert!(budget.share <= before.share);
    let spent = before.pages - budget.pages;
    let recorded: usize = a
        .page_tables
        .as_ref()
        .map_or(0, |t| t.tables.iter().map(|x| x.page.entries.len()).sum());
    let listed = a.pages.len() + a.frames.len() + a.tables.len() + recorded;
    assert_eq!(listed as u64, spent, "pages listed and pages spent differ");
    let shared_runs = a.sharing.as_ref().map_or(0, |s| s.frames.len());
    assert_eq!(
        a.ranges.len() + shared_runs,
        before.runs - budget.runs,
        "runs spent"
    );
}

/// Counts and findings stay within their caps, and what is said about
/// sharing holds together. `paging`: the fake vCPU was in a paging mode.
fn bounded(a: &inspect::Analysis, p: &ProcEvent, paging: bool) {
    assert!(a.pages_checked <= a.pages_total);
    assert!(a.pages_total <= 1 << 20);
    assert!(a.ranges.len() <= 4096);
    assert!(
        a.findings.len() <= MAX_FINDINGS + 4,
        "{} findings",
        a.findings.len()
    );
    if paging {
        assert_eq!(a.regions.len(), p.regions.len());
    } else {
        assert_eq!(a.findings, [inspect::Finding::NotPagingMode]);
    }
    let mut seen = 0u64;
    for r in &a.regions {
        seen += r.pages_mapped;
        // Shared pages are some of the mapped ones, or unknown.
        assert!(r.shared_pages.is_none_or(|n| n <= r.pages_mapped));
    }
    assert!(seen <= a.pages_total);
    if let Some(s) = &a.sharing {
        assert_eq!(s.shared_pages.is_some(), s.stop.is_none());
        assert!(s.shared_pages.is_none_or(|n| n <= a.pages_total));
        assert!(s.with.iter().all(|w| w.pages <= a.pages_total));
        assert!(s.frames.len() as u64 <= s.frames_total && s.frames.len() <= 4096);
        assert!(
            a.regions
                .iter()
                .all(|r| r.shared_pages.is_some() == s.stop.is_none())
        );
        // The peer on the same tables maps every page, when it was reached.
        if let Some(t) = s.with.iter().find(|w| w.pid == 3) {
            assert_eq!(t.pages, a.pages_total);
            assert_eq!(s.shared_pages.unwrap_or(a.pages_total), a.pages_total);
        }
    }
}
