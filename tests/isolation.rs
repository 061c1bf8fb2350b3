//! Protection between processes, for state the page tables do not cover:
//! registers. What user code can reach must be saved per process, whatever
//! CPUID says: under PVM user code runs with the host's CR4, so it can
//! `wrgsbase` even where the guest's CPUID has no FSGSBASE.

mod common;
use common::*;

/// Three copies of tests/programs/segbase.c at once, with `mode`, plus a
/// spinner so the timer preempts them too: each must see only its own
/// bases.
fn segbase(mode: &str) {
    let Some(prog) = build("segbase", Cc::Static) else {
        return;
    };
    let p = prog.to_str().expect("UTF-8 path");
    let runs: Vec<String> = (1..=3).map(|s| format!("{p} {s} {mode}")).collect();
    let mut args = vec!["-q", "--cmdline", "spin:50"];
    for r in &runs {
        args.extend(["--run", r.as_str()]);
    }
    let r = microvmm(&args, 0);
    let out = output_of(&r.stdout, "segbase");
    assert_eq!(out.len(), 3, "{}", r.stdout);
    for (_, line) in &out {
        assert!(
            line.ends_with(" 300 rounds, 0 with a foreign base"),
            "{mode}: {line}"
        );
    }
}

#[test]
fn gs_base_set_with_arch_prctl_stays_per_process() {
    segbase("prctl");
}

#[test]
fn fs_and_gs_set_with_wrfsbase_stay_per_process_under_pvm() {
    // wrgsbase runs in user mode where the hardware's CR4.FSGSBASE is on:
    // under PVM always (the host's CR4), elsewhere only if the guest was
    // given FSGSBASE.
    let j = microvmm(&["--json", "-", "-q", "--cmdline", "addrspace"], 0).json();
    let pvm = j["guest"]["mode"] == "pvm-native";
    let given = j["guest"]["cpu_features"]
        .as_array()
        .expect("cpu_features[]")
        .iter()
        .any(|f| f == "fsgsbase");
    if !pvm && !given {
        eprintln!("SKIPPED: wrgsbase does not run in user mode here (no FSGSBASE, not PVM)");
        return;
    }
    segbase("wr");
}
