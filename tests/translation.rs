//! Issue 4: the translation report: software walk vs KVM_TRANSLATE, the
//! pattern read-back, the JSON schema, whereis, walks and the dirty log
//! (2 MiB host backing is in huge.rs).
//! Real VMs through /dev/kvm.

mod common;
use common::*;

#[test]
fn every_page_agrees_with_kvm_translate() {
    let r = microvmm(&["--pages", "--verify", "all", "--json", "-", "-q"], 0);
    let j = r.json();
    assert_eq!(j["verify"], "all");
    assert_eq!(
        j["errors"].as_array().map(|e| e.len()),
        Some(0),
        "errors: {}",
        j["errors"]
    );
    let mut checked = 0;
    for p in j["processes"].as_array().expect("processes") {
        let pages = p["pages"].as_array().expect("pages");
        assert_eq!(
            pages.len() as u64,
            p["pages_total"].as_u64().expect("total"),
            "--pages lists every page"
        );
        for pg in pages {
            assert_eq!(
                pg["kvm_translate_gpa"], pg["gpa"],
                "every page checked: {pg}"
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} pages were cross-checked");
}

#[test]
fn by_default_region_ends_and_a_small_sample_are_checked() {
    let r = microvmm(&["--cmdline", "heap addrspace", "--json", "-"], 0);
    assert!(
        r.stderr
            .contains("KVM_TRANSLATE cross-check: each region's first and last page"),
        "the text says what was checked:\n{}",
        r.stderr
    );
    let j = r.json();
    assert_eq!(j["verify"], "sample");
    for p in j["processes"].as_array().expect("processes") {
        let regions = p["regions"].as_array().map_or(0, |r| r.len()) as u64;
        let checked = p["pages_checked"].as_u64().expect("pages_checked");
        let total = p["pages_total"].as_u64().expect("pages_total");
        assert!(checked > 0 && checked <= total, "{p}");
        assert!(checked <= 64 + 2 * regions, "{checked} checked: {p}");
    }
    let heap = procs(&j, "heap")[0];
    assert!(heap["pages_total"].as_u64() > Some(700) && heap["pages_checked"].as_u64() < Some(100));
}

#[test]
fn the_pattern_reads_back_through_gpa_and_hva() {
    let j = microvmm(&["--cmdline", "addrspace", "--json", "-", "-q"], 0).json();
    let p = procs(&j, "addrspace")[0];
    assert_eq!(p["pattern"]["ok"], true, "{}", p["pattern"]);
    assert_eq!(p["pattern"]["via_gpa"], p["pattern"]["expected"]);
    assert_eq!(p["pattern"]["via_hva"], p["pattern"]["expected"]);
}

#[test]
fn json_has_the_documented_keys() {
    let j = microvmm(&["--json", "-", "-q"], 0).json();
    for k in [
        "schema",
        "host",
        "memory",
        "guest",
        "processes",
        "whereis",
        "errors",
    ] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    assert_eq!(j["schema"], "microvmm-report/1");
    for k in [
        "kvm_flavour",
        "nested",
        "pagemap",
        "nested_paging",
        "hpa_meaning",
    ] {
        assert!(j["host"].get(k).is_some(), "missing host.{k}");
    }
    assert!(j["memory"]["backing"].is_string());
    assert!(
        j["memory"]["resident"].as_u64() > Some(0),
        "memory.resident"
    );
    assert_eq!(j["verify"], "sample");
    let slot = &j["memory"]["slots"][0];
    for k in ["slot", "gpa_start", "gpa_end", "hva", "size", "flags"] {
        assert!(slot.get(k).is_some(), "missing memory.slots[].{k}");
    }
    assert!(j["guest"]["mode"].is_string() && j["guest"]["exit_status"] == 0);
    let p = &j["processes"][0];
    for k in ["pid", "name", "cr3", "exit", "regions", "pages"] {
        assert!(p.get(k).is_some(), "missing processes[].{k}");
    }
    for k in ["kind", "start", "end"] {
        assert!(p["regions"][0].get(k).is_some(), "missing regions[].{k}");
    }
    for k in [
        "gva",
        "gpa",
        "hva",
        "hpa",
        "guest_page_size",
        "host_page_size",
        "flags",
        "region",
        "kvm_translate_gpa",
    ] {
        assert!(p["pages"][0].get(k).is_some(), "missing pages[].{k}");
    }
    let w = &j["whereis"][0];
    assert_eq!(
        w["walk"].as_array().map(|l| l.len()),
        Some(walk_levels(&j, w)),
        "walk as deep as the guest's paging mode: {w}"
    );
    for k in ["level", "table_gpa", "entry_gpa", "entry", "entry_hpa"] {
        assert!(
            w["walk"][0].get(k).is_some(),
            "missing whereis[].walk[].{k}"
        );
    }
}

#[test]
fn hpa_is_an_address_or_plainly_unavailable_never_zero() {
    let j = microvmm(&["--cmdline", "addrspace", "--json", "-", "-q"], 0).json();
    let available = j["host"]["pagemap"] == "available";
    for pg in procs(&j, "addrspace")[0]["pages"]
        .as_array()
        .expect("pages")
    {
        if available {
            assert!(hex(&pg["hpa"]) != 0, "{pg}");
        } else {
            assert!(pg["hpa"].is_null(), "{pg}");
        }
    }
    if !available {
        assert!(
            j["host"]["pagemap"]
                .as_str()
                .unwrap_or("")
                .contains("unavailable")
        );
    }
}

#[test]
fn addrspace_prints_the_gpas_the_report_has() {
    let r = microvmm(&["--cmdline", "addrspace", "--json", "-", "-q"], 0);
    let j = r.json();
    let ws = j["whereis"].as_array().expect("whereis");
    assert_eq!(ws.len(), 3, "code, heap, stack");
    for w in ws {
        let line = format!("GVA {:#x} -> GPA {:#x}", hex(&w["gva"]), hex(&w["gpa"]));
        assert!(
            r.stderr.contains(&line),
            "addrspace did not print '{line}':\n{}",
            r.stderr
        );
        assert_eq!(w["kvm_translate_gpa"], w["gpa"], "{w}");
    }
    assert_eq!(
        ws[0]["hw_refs"],
        expected_refs(&j, &ws[0]),
        "{}",
        ws[0]["hw_refs_explained"]
    );
}

#[test]
fn dirty_log_attributes_the_heap_demo() {
    let j = microvmm(
        &["--dirty-log", "--cmdline", "heap", "--json", "-", "-q"],
        0,
    )
    .json();
    assert_eq!(j["memory"]["slots"][0]["flags"][0], "log-dirty-pages");
    let owners = j["dirty"]["by_owner"].as_array().expect("dirty.by_owner");
    let heap = owners
        .iter()
        .find(|o| {
            o["owner"]
                .as_str()
                .is_some_and(|s| s.ends_with("heap heap"))
        })
        .expect("heap owner");
    // Every page the heap faulted in was written, and no later process can
    // have taken one of its frames: all of them are its.
    let faults = procs(&j, "heap")[0]["heap_faults"]
        .as_u64()
        .expect("heap faults");
    assert!(
        faults > 700 && heap["pages"].as_u64() == Some(faults),
        "{heap} vs {faults} heap faults"
    );
    assert!(
        owners.iter().any(|o| o["owner"] == "page tables"),
        "{owners:?}"
    );
}

#[test]
fn walk_shows_a_chosen_gva_in_every_process() {
    let j = microvmm(
        &[
            "--walk",
            "0x400000",
            "--cmdline",
            "heap stack",
            "--json",
            "-",
            "-q",
        ],
        0,
    )
    .json();
    let ws: Vec<_> = j["whereis"]
        .as_array()
        .expect("whereis")
        .iter()
        .filter(|w| w["gva"] == "0x400000")
        .collect();
    assert_eq!(ws.len(), 2, "one walk per process: {ws:?}");
    assert_ne!(ws[0]["gpa"], ws[1]["gpa"], "same GVA, different frames");
    for w in ws {
        assert_eq!(w["kvm_translate_gpa"], w["gpa"], "{w}");
        assert_eq!(
            w["walk"].as_array().map(|l| l.len()),
            Some(walk_levels(&j, w))
        );
    }
}

/// Levels a walk of `w` reads: the guest's paging levels (4, or 5 with
/// LA57), one fewer for each 9 bits a large guest page covers.
fn walk_levels(j: &serde_json::Value, w: &serde_json::Value) -> usize {
    let guest = j["guest"]["paging_levels"].as_u64().expect("guest levels") as usize;
    let page = w["guest_page_size"].as_u64().expect("guest page size");
    guest - (page.trailing_zeros() as usize - 12) / 9
}

/// What the hardware reads for `w` on the reported host: a 2D walk under
/// EPT/NPT (host page tables as deep as reported; the demo's RAM is on 4 KiB
/// host pages), the shadow table's levels otherwise.
fn expected_refs(j: &serde_json::Value, w: &serde_json::Value) -> u32 {
    let g = walk_levels(j, w) as u32;
    match j["host"]["kvm_flavour"].as_str() {
        Some("vmx-ept") | Some("svm-npt") => {
            let h = j["host"]["paging_levels"].as_u64().expect("host levels") as u32;
            microvmm::paging::two_d_refs(g, h)
        }
        _ => g,
    }
}

#[test]
fn html_records_the_page_tables_every_walk_read() {
    let page = tmp_file("report.html", b"");
    let j = microvmm(&["--html", &page, "--json", "-", "-q"], 0).json();
    let html = std::fs::read_to_string(&page).expect("the HTML report");
    assert!(
        html.contains("id=\"report-data\""),
        "the page embeds the report"
    );
    let walks = j["whereis"].as_array().expect("whereis");
    assert!(!walks.is_empty());
    for w in walks {
        let p = j["processes"]
            .as_array()
            .expect("processes")
            .iter()
            .find(|p| p["pid"] == w["pid"])
            .expect("the asker");
        let tables = p["page_tables"]["tables"].as_array().expect("page_tables");
        assert_eq!(p["page_tables"]["complete"], true);
        for l in w["walk"].as_array().expect("walk") {
            let t = tables
                .iter()
                .find(|t| t["gpa"] == l["table_gpa"])
                .unwrap_or_else(|| panic!("no table {} for {}", l["table_gpa"], w["gva"]));
            assert_eq!(t["level"], l["level"]);
            let e = t["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .find(|e| e[0] == l["index"])
                .unwrap_or_else(|| panic!("{} has no entry {}", t["gpa"], l["index"]));
            // The same entry, but for the accessed and dirty bits: the
            // walk was made while the process ran, the tables kept at exit.
            let ad = 0x60;
            assert_eq!(
                hex(&e[1]) & !ad,
                hex(&l["entry"]) & !ad,
                "{} in {}",
                w["gva"],
                l["level"]
            );
            if !l["entry_hpa"].is_null() {
                // The entry's HPA is its table's, plus its offset.
                let index = l["index"].as_u64().expect("index");
                assert_eq!(hex(&t["hpa"]) + 8 * index, hex(&l["entry_hpa"]));
            }
        }
    }
    // Without --html the JSON is as it was: no page tables.
    let plain = microvmm(&["--json", "-", "-q", "--cmdline", "addrspace"], 0).json();
    assert!(plain["processes"][0].get("page_tables").is_none());
}
