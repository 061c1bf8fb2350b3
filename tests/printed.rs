//! Every address a `--run` program prints is answered in the report
//! (issue 17 item 7): mapped at exit with its translation, or not mapped
//! and why: a demand-paged page never touched, a page unmapped before exit
//! (with the translation it had when printed), or outside every region.
//! The JSON `printed_addresses[]` and the text report's "you printed"
//! lines say the same.
//!
//! A missing compiler is a skip, except under CI=true.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// Run `prog` with a text report and a JSON report: (text, JSON process
/// named `name`). The text is stdout and stderr together (where the report
/// goes does not matter here).
fn run(prog: &Path, name: &str, tag: &str) -> (String, serde_json::Value) {
    let json = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("printed-{name}-{tag}-{}.json", std::process::id()));
    let json_s = json.to_str().expect("UTF-8 path");
    let prog_s = prog.to_str().expect("UTF-8 path");
    let r = microvmm(&["--run", prog_s, "--json", json_s], 0);
    let text = format!("{}{}", r.stdout, r.stderr);
    let j = common::report_json(&std::fs::read(&json).expect("read the JSON report"));
    let _ = std::fs::remove_file(&json);
    let ps = procs(&j, name);
    assert_eq!(ps.len(), 1, "one process named {name}");
    (text, ps[0].clone())
}

/// The program's line starting `what`: the address it printed there.
fn printed_at(text: &str, what: &str) -> u64 {
    let line = text
        .lines()
        .find_map(|l| l.split_once(what).map(|(_, rest)| rest.trim().to_string()))
        .unwrap_or_else(|| panic!("no line '{what}' in:\n{text}"));
    hex(&serde_json::Value::String(line))
}

/// The JSON entry for `gva` (exactly one).
fn entry(p: &serde_json::Value, gva: u64) -> &serde_json::Value {
    let all = p["printed_addresses"]
        .as_array()
        .expect("printed_addresses[]");
    let found: Vec<_> = all.iter().filter(|a| hex(&a["gva"]) == gva).collect();
    assert_eq!(found.len(), 1, "one entry for {gva:#x} in {all:#?}");
    found[0]
}

/// The text report's "you printed" line for `gva`.
fn text_line(text: &str, gva: u64) -> &str {
    let want = format!("  you printed {gva:#x}: ");
    text.lines()
        .find(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("no '{want}' line in:\n{text}"))
}

/// The student's question, musl build: its heap is a brk heap whose first
/// page malloc(100e6) has not touched, so the address was never mapped.
#[test]
fn musl_ostep_heap_line_is_answered() {
    let Some(prog) = build("ostep", Cc::Musl) else {
        return;
    };
    let (text, p) = run(&prog, "ostep", "musl");
    let heap = printed_at(&text, "location of heap  :");
    let e = entry(&p, heap);
    assert_eq!(e["mapped"], false, "{e}");
    assert_eq!(e["region"], "heap", "{e}");
    let why = e["why"].as_str().expect("why");
    assert!(
        why.contains("heap") && why.contains("demand paging"),
        "{why}"
    );
    assert!(e["gpa"].is_null() && e["translated"].is_null(), "{e}");
    let line = text_line(&text, heap);
    assert!(
        line.contains("not mapped, heap: no page touched there yet (demand paging)"),
        "{line}"
    );
    // Its code and stack lines still resolve.
    for what in ["location of code  :", "location of stack :"] {
        let gva = printed_at(&text, what);
        assert_eq!(entry(&p, gva)["mapped"], true, "{what}");
        assert!(text_line(&text, gva).contains(&format!("GVA {gva:#x} -> GPA 0x")));
    }
}

/// glibc's builds: all three lines mapped at exit, as before, with the
/// translation made at exit.
#[test]
fn gcc_static_ostep_lines_stay_mapped() {
    for cc in [Cc::Static, Cc::StaticPie] {
        let Some(prog) = build("ostep", cc) else {
            continue;
        };
        let (text, p) = run(&prog, "ostep", cc.name());
        for (what, region) in [
            ("location of code  :", "code"),
            ("location of heap  :", "mmap"),
            ("location of stack :", "stack"),
        ] {
            let gva = printed_at(&text, what);
            let e = entry(&p, gva);
            assert_eq!(e["mapped"], true, "{}: {e}", cc.name());
            assert_eq!(e["region"], region, "{}: {e}", cc.name());
            assert_eq!(e["translated"], "exit", "{}: {e}", cc.name());
            assert!(e["why"].is_null() && !e["gpa"].is_null(), "{e}");
            let line = text_line(&text, gva);
            assert!(
                line.contains(&format!(": {region}, GVA {gva:#x} -> GPA 0x")),
                "{line}"
            );
        }
    }
}

/// A page unmapped before exit gives the translation it had when printed;
/// a page of a mapping never touched says demand paging; an address in no
/// region says so. All three static builds.
#[test]
fn unmapped_untouched_and_outside_addresses_say_so() {
    for cc in Cc::STATIC {
        let Some(prog) = build("freed", cc) else {
            continue;
        };
        let (text, p) = run(&prog, "freed", cc.name());
        let gone = printed_at(&text, "freed before exit:");
        let e = entry(&p, gone);
        assert_eq!(e["mapped"], false, "{}: {e}", cc.name());
        assert_eq!(e["region"], "outside", "{}: {e}", cc.name());
        assert!(
            e["why"].as_str().unwrap().contains("unmapped before exit"),
            "{e}"
        );
        assert_eq!(e["translated"], "printed", "{}: {e}", cc.name());
        let gpa = hex(&e["gpa"]);
        let line = text_line(&text, gone);
        assert!(
            line.contains("not mapped, unmapped before exit")
                && line.contains(&format!(
                    "when printed: GVA {gone:#x} -> GPA {gpa:#x} -> HVA 0x"
                )),
            "{line}"
        );

        let untouched = printed_at(&text, "never touched    :");
        let e = entry(&p, untouched);
        assert_eq!(e["mapped"], false, "{}: {e}", cc.name());
        assert_eq!(e["region"], "mmap", "{}: {e}", cc.name());
        assert_eq!(e["why"], "mmap: no page touched there yet (demand paging)");
        assert!(e["gpa"].is_null(), "{e}");
        assert!(
            text_line(&text, untouched)
                .ends_with("not mapped, mmap: no page touched there yet (demand paging)")
        );

        let e = entry(&p, 0x1000);
        assert_eq!(e["mapped"], false, "{}: {e}", cc.name());
        assert_eq!(e["region"], "outside", "{}: {e}", cc.name());
        assert_eq!(e["why"], "outside every region", "{}: {e}", cc.name());
        assert!(text_line(&text, 0x1000).ends_with("not mapped, outside every region"));
    }
}
