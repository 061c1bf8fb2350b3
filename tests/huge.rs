//! 2 MiB pages in a real VM. Guest pages (guest/kernel/src/mm/huge.rs):
//! a static C program (tests/programs/huge.c) asks for them with
//! madvise(MADV_HUGEPAGE), or gets them from `--guest-pages 2m`; the report
//! must list its 8 MiB area as four 2 MiB guest pages that KVM_TRANSLATE
//! agrees with, served by one fault each, and the kernel must get every
//! frame back (splits and partial unmaps included). And 2 MiB host pages:
//! `--backing thp` and `--backing hugetlb` (or a one-line error naming the
//! sysctl when the pool is short).

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

fn thp_enabled() -> bool {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|s| !s.contains("[never]"))
}

#[test]
fn thp_backing_gives_2mib_host_pages() {
    if !thp_enabled() {
        eprintln!("SKIPPED: transparent huge pages are disabled on this host ([never])");
        return;
    }
    let j = microvmm(
        &[
            "--backing",
            "thp",
            "--mem",
            "512M",
            "--pages",
            "--cmdline",
            "heap",
            "--json",
            "-",
            "-q",
        ],
        0,
    )
    .json();
    if j["host"]["pagemap"] != "available" {
        eprintln!("SKIPPED: host page sizes need /proc/self/pagemap with CAP_SYS_ADMIN");
        return;
    }
    assert_eq!(j["memory"]["backing"], "thp");
    let big = j["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .flat_map(|p| p["pages"].as_array().cloned().unwrap_or_default())
        .filter(|pg| pg["host_page_size"] == 2 << 20)
        .count();
    assert!(big > 0, "no page reported on a 2 MiB host page");
}

/// (HugePages_Free, Hugepagesize in kB) from /proc/meminfo.
fn huge_pool() -> (u64, u64) {
    let m = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("HugePages_Free:"), field("Hugepagesize:"))
}

#[test]
fn hugetlb_backing_maps_2mib_pages_or_names_the_sysctl() {
    let (free, size_kb) = huge_pool();
    if size_kb != 2048 {
        eprintln!("SKIPPED: the default huge page size here is {size_kb} kB, not 2 MiB");
        return;
    }
    let args = [
        "--backing",
        "hugetlb",
        "--mem",
        "64M",
        "--cmdline",
        "heap",
        "--pages",
        "--json",
        "-",
        "-q",
    ];
    if free < 32 {
        // The pool is short: a clear error naming the fix, not a SIGBUS.
        let r = microvmm(&args[..6], 2);
        assert!(r.stderr.contains("sysctl vm.nr_hugepages="), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        return;
    }
    let j = microvmm(&args, 0).json();
    assert_eq!(j["memory"]["backing"], "hugetlb");
    if j["host"]["pagemap"] == "available" {
        for p in j["processes"].as_array().expect("processes") {
            for pg in p["pages"].as_array().expect("pages") {
                assert_eq!(pg["host_page_size"], 2 << 20, "{pg}");
            }
        }
    }
}
