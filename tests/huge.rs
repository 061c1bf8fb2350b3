//! 2 MiB guest pages (guest/kernel/src/mm/huge.rs) in a real VM: a static
//! C program (tests/programs/huge.c) asks for them with
//! madvise(MADV_HUGEPAGE), or gets them from `--guest-pages 2m`; the report
//! must list its 8 MiB area as four 2 MiB guest pages that KVM_TRANSLATE
//! agrees with, served by one fault each, and the kernel must get every
//! frame back (splits and partial unmaps included).

mod common;
use common::*;

const HUGE: u64 = 2 << 20;

/// Run huge.c with `extra` microvmm flags and `arg`; check the report.
fn check(extra: &[&str], arg: &str) {
    let Some(prog) = build("huge", Cc::Static) else {
        return;
    };
    let spec = format!("{} {arg}", prog.display());
    // Every page compared with KVM_TRANSLATE, not a sample.
    let mut args = vec!["--run", &spec, "--pages", "--verify", "all", "--json", "-"];
    args.extend_from_slice(extra);
    let r = microvmm(&args, 0);
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
    let line = lines_of(&r.stderr, "huge")
        .into_iter()
        .find(|l| l.starts_with("area "))
        .unwrap_or_else(|| panic!("no 'area' line:\n{}", r.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    let base = u64::from_str_radix(words[1].trim_start_matches("0x"), 16).expect("hex area");
    assert_eq!(base % HUGE, 0, "{line}");
    let j = r.json();
    assert_eq!(
        j["errors"].as_array().map(Vec::len),
        Some(0),
        "{}",
        j["errors"]
    );
    let p = &procs(&j, "huge")[0];
    let pages: Vec<&serde_json::Value> = p["pages"]
        .as_array()
        .expect("pages[]")
        .iter()
        .filter(|pg| (base..base + 4 * HUGE).contains(&hex(&pg["gva"])))
        .collect();
    assert_eq!(pages.len(), 4, "four pages in the area: {pages:?}");
    for pg in &pages {
        assert_eq!(pg["guest_page_size"], HUGE, "{pg}");
        assert_eq!(hex(&pg["gva"]) % HUGE, 0, "{pg}");
        assert_eq!(
            pg["kvm_translate_gpa"], pg["gpa"],
            "KVM_TRANSLATE agrees: {pg}"
        );
    }
    let region = p["regions"]
        .as_array()
        .expect("regions[]")
        .iter()
        .find(|rg| hex(&rg["start"]) <= base && base < hex(&rg["end"]))
        .expect("a region holds the area");
    assert_eq!(region["kind"], "mmap", "{region}");
    assert_eq!(region["faults"], 4, "one fault per 2 MiB page: {region}");
}

#[test]
fn madvise_hugepage_gives_2m_pages() {
    check(&[], "");
}

#[test]
fn guest_pages_2m_gives_2m_pages_without_madvise() {
    check(&["--guest-pages", "2m"], "plain");
}
