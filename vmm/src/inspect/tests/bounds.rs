//! What bounds the analysis, on the synthetic address spaces of tests.rs:
//! the run's budgets (runs listed, page tables kept) and the deadline
//! (the cross-check stops; pages past it are only ends and samples).

use super::*;

#[test]
fn the_run_budget_stops_the_listing_once() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 50);
    let c = cpu(&b, mode);
    let o = Options {
        all_pages: true,
        frames: true,
        ..opts()
    };
    let mut budget = Budget {
        pages: 20,
        runs: 1,
        share: SHARE_BUDGET,
    };
    let a = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut budget);
    assert_eq!(
        budget,
        Budget {
            pages: 0,
            runs: 0,
            share: SHARE_BUDGET
        }
    );
    assert_eq!(a.ranges.len(), 1, "the run budget holds too");
    assert_eq!(a.ranges_total, 3, "the runs not listed are counted");
    assert_eq!(a.tables.len() + a.frames.len() + a.pages.len(), 20);
    let spent: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::BudgetSpent { .. }))
        .collect();
    assert_eq!(spent.len(), 1, "{:?}", a.findings);
    assert!(!a.tables.is_empty(), "--dirty-log keeps the table pages");
}

#[test]
fn page_tables_are_kept_with_their_host_side_within_the_budget() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 5);
    let c = cpu(&b, mode);
    let o = Options {
        tables: true,
        ..opts()
    };
    let mut budget = BUDGET;
    let a = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut budget);
    let t = a.page_tables.expect("kept");
    assert!(t.complete);
    let entries: u64 = t.tables.iter().map(|t| t.page.entries.len() as u64).sum();
    assert_eq!(budget.pages, BUDGET.pages - a.pages.len() as u64 - entries);
    let root = t.tables.first().expect("root");
    assert_eq!(root.page.gpa, p.cr3.root(mode));
    assert_eq!(
        root.host.hpa(),
        Some(Hpa(0x1_0000_0000 + root.page.gpa.raw()))
    );
}

#[test]
fn the_cross_check_stops_at_the_deadline() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 10);
    let c = cpu(&b, mode);
    let mut budget = BUDGET;
    let o = Options {
        deadline: Some(std::time::Instant::now()),
        ..opts()
    };
    let a = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut budget);
    assert_eq!(c.translations.get(), 0);
    assert_eq!(a.pages_checked, 0);
    assert_eq!(
        a.findings,
        vec![Finding::OutOfTime {
            checked: 0,
            planned: 13
        }]
    );
    assert_eq!(
        a.pages_total, 13,
        "the software walk still covers every page"
    );
}

#[test]
fn past_the_deadline_pages_lists_only_ends_and_samples() {
    let mode = PagingMode::four_level();
    let (b, p) = space(mode, 10);
    let c = cpu(&b, mode);
    let (mut all, mut late, mut fresh) = (BUDGET, BUDGET, BUDGET);
    let o = Options {
        all_pages: true,
        ..opts()
    };
    let every = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut all);
    let sampled = analyse(
        &c,
        b.mem(),
        &FakeHost(b.mem()),
        &p,
        &[],
        &opts(),
        &mut fresh,
    );
    let o = Options {
        deadline: Some(std::time::Instant::now()),
        ..o
    };
    let cut = analyse(&c, b.mem(), &FakeHost(b.mem()), &p, &[], &o, &mut late);
    assert_eq!(every.pages.len(), 13);
    assert_eq!(
        cut.pages,
        sampled
            .pages
            .iter()
            .map(|p| PageObs {
                kvm: None,
                ..p.clone()
            })
            .collect::<Vec<_>>()
    );
    assert!(
        cut.findings
            .contains(&Finding::ListingOutOfTime { gva: CODE }),
        "{:?}",
        cut.findings
    );
}
