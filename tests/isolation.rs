//! Protection between processes, for state the page tables do not cover:
//! registers. What user code can reach must be saved per process, whatever
//! CPUID says: under PVM user code runs with the host's CR4, so it can
//! `wrgsbase` even where the guest's CPUID has no FSGSBASE. Segment bases,
//! vector registers (xmm/ymm/zmm and opmasks) and AMX tiles.

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

#[test]
fn three_copies_keep_every_vector_and_mask_register() {
    // Three copies at once, each with its own seed, one per build where the
    // compilers are there, and a CPU burner to share the time slices with.
    let progs: Vec<_> = Cc::STATIC
        .into_iter()
        .filter_map(|cc| build("vector", cc))
        .collect();
    if progs.is_empty() {
        return;
    }
    // PVM: the host's widest (see pvm_widest_vector); elsewhere CPUID's.
    let mode = pvm_widest_vector().unwrap_or("auto");
    let args: Vec<String> = (1..=3)
        .map(|seed| {
            format!(
                "{} {seed} {mode}",
                path_str(&progs[(seed - 1) % progs.len()])
            )
        })
        .collect();
    let mut argv = vec!["--cmdline", "spin:500", "-q"];
    for a in &args {
        argv.extend(["--run", a]);
    }
    let r = microvmm_run(&argv);
    let out: Vec<String> = output_of(&r.stdout, "vector")
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let mut preempted = 0;
    for seed in 1..=3 {
        let mine = |what: &str| {
            let head = format!("vector {seed}: {what}");
            out.iter()
                .find_map(|l| l.strip_prefix(&head))
                .unwrap_or_else(|| panic!("no '{head}' line ({mode}):\n{}", r.stdout))
                .to_string()
        };
        mine("skipped ");
        // "mode M (REGS), N rounds (I interrupted mid-spin), B with foreign register contents[; first ...]"
        let line = mine("mode ");
        let shown = line.split(' ').next().unwrap_or("");
        if mode != "auto" {
            assert_eq!(shown, mode, "vector {seed}: {line}");
        }
        let words: Vec<&str> = line.split([' ', '(', ')', ',', ';']).collect();
        let before = |word: &str| -> u32 {
            words
                .iter()
                .position(|w| *w == word)
                .and_then(|i| words[..i].last()?.parse().ok())
                .unwrap_or_else(|| panic!("no number before '{word}': vector {seed}: {line}"))
        };
        assert_eq!(
            before("with"),
            0,
            "vector {seed} in mode {shown} saw another process's registers: mode {line}"
        );
        preempted += before("interrupted");
    }
    assert!(
        preempted > 0,
        "no copy was ever preempted mid-round in mode {mode}, so the test proved nothing:\n{}",
        r.stdout
    );
    assert_eq!(r.code, 0, "mode {mode}: {}\n{}", r.stdout, r.stderr);
}

/// AMX tiles never leak: two copies of tests/programs/amx.c load their own
/// tile data, yield, spin, store it. Safe outcomes: a copy is refused AMX
/// (killed by #UD/#NM before its verdict), or its verdict shows 0 foreign
/// rounds. Rounds whose tile came back all zero ("lost") are the host's
/// doing (PVM loses tile data even with one process) and only noted.
#[test]
fn amx_tiles_never_leak_between_processes() {
    let Some(prog) = build("amx", Cc::Static) else {
        return;
    };
    let p = path_str(&prog);
    let (one, two) = (format!("{p} 1"), format!("{p} 2"));
    let r = microvmm_run(&["-q", "--cmdline", "spin:300", "--run", &one, "--run", &two]);
    let out = output_of(&r.stdout, "amx");
    let killed = |pid: u32| {
        r.stderr.lines().chain(r.stdout.lines()).any(|l| {
            l.starts_with(&format!("microvmm: pid {pid} (amx) was killed: "))
                && ["#UD", "#NM", "vector 6", "vector 7"]
                    .iter()
                    .any(|v| l.contains(v))
        })
    };
    for seed in 1..=2 {
        // Its pid from the line it prints before any AMX instruction.
        let pid = out
            .iter()
            .find(|(_, l)| l.starts_with(&format!("amx {seed}: CPUID")))
            .map(|(pid, _)| *pid)
            .unwrap_or_else(|| panic!("amx {seed} never started:\n{}", r.stdout));
        let head = format!("amx {seed}: tmm0, ");
        match out.iter().find_map(|(_, l)| l.strip_prefix(&head)) {
            Some(v) => {
                assert!(
                    v.contains(" 0 with foreign tile contents"),
                    "amx {seed} read another process's tiles: {v}\n{}",
                    r.stdout
                );
                if !v.contains(" 0 lost") {
                    eprintln!("note: amx {seed} lost tile data (the host's doing): {v}");
                }
            }
            None => assert!(
                killed(pid),
                "amx {seed}: neither a verdict nor killed by #UD/#NM:\n{}\n{}",
                r.stdout,
                r.stderr
            ),
        }
    }
}
