//! The CPU the guest is given (`--cpu host[,-FEATURE...]`), on whatever
//! host this runs on: every single-feature mask boots the demo and a
//! static Linux program, the JSON lists what the guest got, and the guest
//! adapts (4-level paging without la57, FXSAVE without xsave on VMX/SVM).
//! This matrix is how a developer on one vendor's machine covers the
//! other's: an Intel PVM host offers no XSAVE in CPUID and refuses LA57,
//! an AMD one offers both.

mod common;
use common::*;

use serde_json::Value;

/// Every feature `--cpu` knows, and what taking it takes along.
const FEATURES: [(&str, &[&str]); 8] = [
    ("la57", &[]),
    ("xsave", &["avx", "avx512f"]),
    ("avx", &["avx512f"]),
    ("avx512f", &[]),
    ("fsgsbase", &[]),
    ("pcid", &[]),
    ("pdpe1gb", &[]),
    ("nx", &[]),
];

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a name: {s}"))
                .to_string()
        })
        .collect()
}

/// The XCR0 the hardware runs guest user code with under PVM: the host's.
fn host_xcr0() -> u64 {
    microvmm::cpu::xsave::host_xsave().0
}

/// What the guest kernel must save on this host under `j`'s CPU: under
/// PVM every component the host enabled, whatever CPUID says; on VMX/SVM
/// the XCR0 the VMM set, or FXSAVE without one.
fn check_fpu(j: &Value, what: &str) {
    let fpu = &j["guest"]["fpu"];
    if j["guest"]["mode"] == "pvm-native" && host_xcr0() != 0 {
        assert_eq!(fpu["method"], "xsave", "{what}: {fpu}");
        assert_eq!(hex(&fpu["xcr0"]), host_xcr0(), "{what}: the host's XCR0");
    } else if j["guest"]["xcr0"].is_null() {
        assert_eq!(fpu["method"], "fxsave", "{what}: {fpu}");
    } else {
        assert_eq!(fpu["method"], "xsave", "{what}: {fpu}");
        assert_eq!(fpu["xcr0"], j["guest"]["xcr0"], "{what}: the XCR0 set");
    }
}

#[test]
fn every_single_feature_mask_runs_the_demo_and_a_linux_program() {
    let base = microvmm(&["--json", "-", "-q"], 0).json();
    let offered = names(&base["guest"]["cpu_features"]);
    let refused: Vec<String> = base["host"]["cpu_refused"]
        .as_array()
        .expect("cpu_refused[]")
        .iter()
        .map(|r| r["feature"].as_str().expect("feature").to_string())
        .collect();
    check_fpu(&base, "host");
    eprintln!("this host gives the guest {offered:?}; KVM refused {refused:?}");
    let ostep = build("ostep", Cc::Static);
    for (f, along) in FEATURES {
        let mask = format!("host,-{f}");
        // Without NX the heap is executable: the demo's snoop:3 says
        // PROTECTION FAILED and the run fails, which is the point.
        let want = if f == "nx" && offered.iter().any(|o| o == "nx") {
            1
        } else {
            0
        };
        let r = microvmm(&["--cpu", &mask, "--json", "-", "-q"], want);
        let j = r.json();
        assert_eq!(j["guest"]["cpu"], mask.as_str());
        let given = names(&j["guest"]["cpu_features"]);
        for gone in std::iter::once(&f).chain(along) {
            assert!(!given.iter().any(|g| g == gone), "{mask}: {gone} given");
        }
        for o in &offered {
            if o != f && !along.contains(&o.as_str()) {
                assert!(given.contains(o), "{mask}: {o} was offered, now gone");
            }
        }
        check_fpu(&j, &mask);
        match f {
            "la57" => assert_eq!(j["guest"]["paging_levels"], 4, "{mask}"),
            "nx" if want == 1 => {
                let failed: Vec<&str> = r
                    .stderr
                    .lines()
                    .filter(|l| l.contains("exited with status"))
                    .collect();
                assert_eq!(failed.len(), 1, "{mask}: {}", r.stderr);
                assert!(failed[0].contains("(snoop:3)"), "{}", failed[0]);
            }
            _ => {}
        }
        if let Some(prog) = &ostep {
            let p = prog.to_str().expect("UTF-8 path");
            let r = microvmm(&["--cpu", &mask, "--run", p, "-q"], 0);
            assert_eq!(
                lines_of(&r.stdout, "ostep").len(),
                3,
                "{mask}: {}",
                r.stdout
            );
        }
    }
}

#[test]
fn la57_xsave_fsgsbase_masked_runs_the_demo() {
    let mask = "host,-la57,-xsave,-fsgsbase";
    let j = microvmm(&["--cpu", mask, "--json", "-", "-q"], 0).json();
    let given = names(&j["guest"]["cpu_features"]);
    for gone in ["la57", "xsave", "fsgsbase", "avx", "avx512f"] {
        assert!(!given.iter().any(|g| g == gone), "{gone} in {given:?}");
    }
    assert_eq!(j["guest"]["paging_levels"], 4);
    assert!(j["guest"]["xcr0"].is_null(), "no XCR0 without xsave");
    check_fpu(&j, mask);
    // Nothing masked is refused: KVM is asked only for what is left.
    let refused = j["host"]["cpu_refused"].as_array().expect("cpu_refused[]");
    assert!(
        refused.iter().all(|r| r["feature"] != "la57"),
        "{refused:?}"
    );
}

#[test]
fn each_refusal_is_one_note_on_stderr() {
    let r = microvmm(&["--json", "-"], 0);
    let j = r.json();
    let refused = j["host"]["cpu_refused"].as_array().expect("cpu_refused[]");
    let notes: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("microvmm: note: KVM refused "))
        .collect();
    assert_eq!(notes.len(), refused.len(), "{}", r.stderr);
    // -q leaves the notes to the JSON.
    let q = microvmm(&["--json", "-", "-q"], 0);
    assert!(!q.stderr.contains("note: KVM refused"), "{}", q.stderr);
    for (n, f) in notes.iter().zip(refused) {
        let name = f["feature"].as_str().expect("feature");
        assert!(n.contains(name), "{n}");
        assert!(!f["why"].as_str().expect("why").is_empty());
    }
}

#[test]
fn bad_cpu_values_are_usage_errors_naming_the_features() {
    for bad in ["host,-sse9", "host,avx", "max", "host,-", "host,,"] {
        refused(
            &["--cpu", bad],
            "la57, xsave, avx, avx512f, fsgsbase, pcid, pdpe1gb, nx",
        );
    }
    for bad in ["host,+avx", "host,avx=on"] {
        refused(&["--cpu", bad], "can only be taken away");
    }
}
