//! Issue 17, item 8: accounting a student can trust. tests/programs/regions.c
//! mallocs 64 MiB, makes separate mmaps, unmaps a neighbour and part of a
//! mapping, and has a .bss variable on .data's last page plus a 1 MiB
//! .bss array; the JSON report (`--json -`) must show one region per mmap
//! call, fault counts that survive the unmaps, faults by region kind, and
//! `data+bss` / `bss` where they belong. Real VMs through /dev/kvm.

mod common;
use common::*;

use serde_json::Value;

const PAGE: u64 = 4096;

/// The `name 0x...` lines the program printed, as (name, address).
fn printed(p: &Value) -> Vec<(String, u64)> {
    p["output"]
        .as_str()
        .expect("processes[].output")
        .lines()
        .filter_map(|l| {
            let (name, hexa) = l.split_once(" 0x")?;
            Some((name.to_string(), u64::from_str_radix(hexa, 16).ok()?))
        })
        .collect()
}

fn at(lines: &[(String, u64)], name: &str) -> u64 {
    lines
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("the program printed no '{name} 0x...' line: {lines:?}"))
        .1
}

/// (kind, start, end, faults) of each region.
fn regions(p: &Value) -> Vec<(String, u64, u64, u64)> {
    p["regions"]
        .as_array()
        .expect("regions[]")
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("kind").to_string(),
                hex(&r["start"]),
                hex(&r["end"]),
                r["faults"].as_u64().expect("faults"),
            )
        })
        .collect()
}

fn holding(rs: &[(String, u64, u64, u64)], va: u64) -> (String, u64, u64, u64) {
    rs.iter()
        .find(|r| r.1 <= va && va < r.2)
        .cloned()
        .unwrap_or_else(|| panic!("no region holds {va:#x}: {rs:x?}"))
}

fn by_kind(p: &Value, kind: &str) -> u64 {
    p["faults_by_kind"][kind].as_u64().unwrap_or(0)
}

/// regions.c built with `cc`, run with `--json -`: (the run, its report,
/// the process, what it printed, its regions, a label for messages).
struct Case {
    cc: Cc,
    stderr: String,
    p: Value,
    out: Vec<(String, u64)>,
    rs: Vec<(String, u64, u64, u64)>,
    what: String,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for cc in Cc::STATIC {
        let Some(prog) = build("regions", cc) else {
            continue;
        };
        let prog = prog.display().to_string();
        let r = microvmm(&["--run", &prog, "--json", "-", "-q"], 0);
        let j = r.json();
        let p = procs(&j, "regions")[0].clone();
        let rs = regions(&p);
        v.push(Case {
            cc,
            out: printed(&p),
            what: format!("{}: {rs:x?}\n{}", cc.name(), r.stderr),
            stderr: r.stderr,
            p,
            rs,
        });
    }
    v
}

#[test]
fn one_region_per_mmap_and_faults_that_survive_munmap() {
    for Case {
        cc,
        stderr,
        p,
        out,
        rs,
        what,
    } in cases()
    {
        // malloc(64 MiB): glibc maps it (one region of its own), musl
        // grows the break; either way every touched page is a fault there.
        let m = holding(&rs, at(&out, "malloc"));
        let want = if cc == Cc::Musl { "heap" } else { "mmap" };
        assert_eq!(m.0, want, "malloc's region: {what}");
        assert!(m.3 >= 16384, "64 MiB touched, {} faults: {what}", m.3);
        if cc != Cc::Musl {
            assert_eq!(m.2 - m.1, (64 << 20) + PAGE, "malloc's own mmap: {what}");
            assert_eq!(m.3, 16384, "{what}");
        }

        // Three separate mmaps are three regions; munmap(b) leaves a and c
        // with their own counts.
        let (a, b, c, d) = (at(&out, "a"), at(&out, "b"), at(&out, "c"), at(&out, "d"));
        for (va, faults) in [(a, 1), (c, 3)] {
            let g = holding(&rs, va);
            assert_eq!(
                (g.0.as_str(), g.1, g.2, g.3),
                ("mmap", va, va + 4 * PAGE, faults),
                "{what}"
            );
        }
        assert!(
            !rs.iter().any(|g| g.1 < b + 4 * PAGE && b < g.2),
            "b was unmapped: {what}"
        );
        // d lost pages 2 and 3: each part keeps the faults of its pages.
        let lo = holding(&rs, d);
        let hi = holding(&rs, d + 4 * PAGE);
        assert_eq!(
            (lo.1, lo.2, lo.3),
            (d, d + 2 * PAGE, 2),
            "d's low part: {what}"
        );
        assert_eq!(
            (hi.1, hi.2, hi.3),
            (d + 4 * PAGE, d + 8 * PAGE, 1),
            "d's high part: {what}"
        );

        // Faults by kind keep what was unmapped: b's 2 and d's page 2.
        let mmap_total = if cc == Cc::Musl { 0 } else { 16384 } + 1 + 2 + 3 + 4;
        assert_eq!(by_kind(&p, "mmap"), mmap_total, "{what}");
        assert_eq!(
            p["heap_faults"].as_u64(),
            Some(by_kind(&p, "heap")),
            "{what}"
        );
        assert_eq!(
            p["stack_faults"].as_u64(),
            Some(by_kind(&p, "stack")),
            "{what}"
        );
        assert!(by_kind(&p, "heap") >= if cc == Cc::Musl { 16384 } else { 1 });

        // The kernel's verdict counts by kind too.
        let verdict = stderr
            .lines()
            .find(|l| l.starts_with("[kernel] pid") && l.contains("regions: exit 0"))
            .unwrap_or_else(|| panic!("no verdict line: {what}"));
        let heap = by_kind(&p, "heap");
        let want = format!("exit 0; faults: heap {heap}, mmap {mmap_total}, stack 1, bss ");
        assert!(verdict.contains(&want), "{verdict}\nwanted {want}");
    }
}

#[test]
fn bss_on_its_own_pages_and_data_bss_where_it_shares_one() {
    for Case {
        p, out, rs, what, ..
    } in cases()
    {
        // small_bss sits on the page where .data's file bytes end.
        let bss_start = at(&out, "bss_start");
        let small = at(&out, "small_bss");
        let page = bss_start & !(PAGE - 1);
        assert_ne!(bss_start % PAGE, 0, "premise: .bss starts mid-page: {what}");
        assert_eq!(small & !(PAGE - 1), page, "premise: {what}");
        let shared = holding(&rs, small);
        assert_eq!(
            (shared.0.as_str(), shared.1, shared.2, shared.3),
            ("data+bss", page, page + PAGE, 0),
            "loaded with the file, never a fault: {what}"
        );
        assert_eq!(holding(&rs, page - 1).0, "data", "{what}");
        // big_bss's pages past that one are bss, demand paged: 255 of its
        // 256 touches land there.
        let own = holding(&rs, page + PAGE);
        assert_eq!((own.0.as_str(), own.1), ("bss", page + PAGE), "{what}");
        assert!(own.3 >= 255, "1 MiB touched: {what}");
        assert_eq!(by_kind(&p, "bss"), own.3, "{what}");
        assert_eq!(by_kind(&p, "data+bss"), 0, "{what}");
    }
}

#[test]
fn many_mmaps_fill_the_table_and_merge_without_losing_a_fault() {
    for cc in Cc::STATIC {
        let Some(prog) = build("manymaps", cc) else {
            continue;
        };
        let prog = prog.display().to_string();
        let r = microvmm(&["--run", &prog, "--json", "-", "-q"], 0);
        let j = r.json();
        let p = procs(&j, "manymaps")[0];
        assert_eq!(p["exit"]["status"], 0, "every mmap succeeded: {}", r.stderr);
        let out = printed(p);
        let rs = regions(p);
        let what = format!("{}: {rs:x?}", cc.name());
        // The arena grew by mprotect: its two read-write pieces are one
        // region again, the rest stays PROT_NONE.
        let arena = at(&out, "arena");
        let rw = holding(&rs, arena);
        assert_eq!((rw.1, rw.2, rw.3), (arena, arena + 4 * PAGE, 4), "{what}");
        let none = holding(&rs, arena + 4 * PAGE);
        assert_eq!(
            (none.1, none.2),
            (arena + 4 * PAGE, arena + 16 * PAGE),
            "{what}"
        );
        // The first one-page mmap, right below the arena, has the same
        // protection but is a call of its own.
        let first = holding(&rs, at(&out, "first"));
        assert_eq!(first.2, arena, "{what}");
        assert!(first.1 < arena, "{what}");
        assert_eq!(first.3, first.2.saturating_sub(first.1) / PAGE, "{what}");
        // 200 more mmaps than the table has room for: merged, no fault lost.
        assert!(rs.len() <= 80, "{what}");
        let in_regions: u64 = rs.iter().filter(|g| g.0 == "mmap").map(|g| g.3).sum();
        assert_eq!(in_regions, 204, "{what}");
        assert_eq!(by_kind(p, "mmap"), 204, "{what}");
    }
}
