//! The guest kernel's Linux ABI as the built-in programs see it (no host
//! compiler needed): each process keeps its own vector registers, unknown
//! system calls answer -ENOSYS and the process goes on, and the old
//! built-ins still pass on the new system-call numbers.

mod common;
use common::*;

#[test]
fn two_processes_keep_their_own_vector_registers() {
    // On PVM force the host's widest level (vector:N skips CPUID, which
    // there does not show what user code can run); elsewhere CPUID's.
    let (word, what) = match pvm_widest_vector() {
        Some("avx512") => ("vector:3", "zmm0-31, k0-7"),
        Some("avx") => ("vector:2", "ymm0-15"),
        Some(_) => ("vector:1", "xmm0-15"),
        None => ("vector", ""),
    };
    let cmdline = format!("{word} {word} spin:50");
    let r = microvmm_run(&["--cmdline", &cmdline, "-q"]);
    let kept: Vec<_> = r
        .stdout
        .lines()
        .filter(|l| l.contains("] vector: ") && l.contains("kept this process's values"))
        .collect();
    assert!(!r.stdout.contains("CORRUPTED"), "{cmdline}:\n{}", r.stdout);
    assert_eq!(kept.len(), 2, "both {word} pass:\n{}", r.stdout);
    for l in &kept {
        assert!(l.contains(&format!("vector: {what}")), "{cmdline}: {l}");
    }
    assert_eq!(r.code, 0, "{cmdline}:\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn unknown_syscalls_get_enosys_and_the_process_goes_on() {
    let r = microvmm(&["--cmdline", "linuxabi", "--json", "-"], 0);
    assert!(
        r.stdout.contains("linuxabi: unknown syscalls got ENOSYS"),
        "{}",
        r.stdout
    );
    // Each distinct number once, in the order first seen, with Linux's
    // name where it has one.
    assert!(
        r.stderr
            .contains("linuxabi: exit 0; faults: heap 1, mmap 3, stack 1; pages touched")
            && r.stderr
                .contains("unknown syscalls (4): 500 999 1003 425 (io_uring_setup)"),
        "{}",
        r.stderr
    );
    let j = r.json();
    let p = &procs(&j, "linuxabi")[0];
    let unknown: Vec<(u64, Option<&str>)> = p["unknown_syscalls"]
        .as_array()
        .expect("unknown_syscalls[]")
        .iter()
        .map(|u| (u["nr"].as_u64().expect("nr"), u["name"].as_str()))
        .collect();
    assert_eq!(
        unknown,
        [
            (500, None),
            (999, None),
            (1003, None),
            (425, Some("io_uring_setup"))
        ]
    );
    assert!(
        r.stderr.contains(
            "unknown system calls (each returned -ENOSYS): 500, 999, 1003, 425 (io_uring_setup)"
        ),
        "the text report names it too:
{}",
        r.stderr
    );
}

#[test]
fn builtins_still_pass_on_linux_syscall_numbers() {
    let r = microvmm(
        &[
            "--cmdline",
            "addrspace heap stack writek touch:4 spin:50",
            "-q",
        ],
        0,
    );
    for name in ["addrspace", "heap", "stack", "writek", "touch:4", "spin:50"] {
        assert!(
            r.stdout.contains(&format!(" {name}: exit 0;")),
            "{name} exits 0:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
}

/// guest/include/example/whereis.c, built with gcc -static against
/// guest/include/microvmm.h, asks the VMM where its code, heap and stack
/// live through syscall 1000.
#[test]
fn the_c_header_reaches_whereis() {
    if !have("gcc") {
        skip::<()>("gcc (to build guest/include/example/whereis.c)");
        return;
    }
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whereis-example");
    std::fs::create_dir_all(&dir).expect("create the build directory");
    let out = dir.join("whereis");
    let status = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-I"])
        .arg(root.join("guest/include"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("guest/include/example/whereis.c"))
        .status()
        .expect("spawn gcc");
    assert!(status.success(), "gcc whereis.c: {status}");
    let r = microvmm(&["--run", out.to_str().expect("UTF-8 path"), "-q"], 0);
    let walked = lines_of(&r.stdout, "whereis")
        .into_iter()
        .filter(|l| l.contains(" -> GPA 0x") && l.contains("levels walked"))
        .count();
    assert_eq!(walked, 3, "code, heap and stack found:\n{}", r.stdout);
}
