//! Hostile programs in the guest harm only themselves: a syscall fuzzer,
//! a forking one, copy-on-write out of memory and a deadlock each end
//! cleanly, with the reason said.

use crate::common::*;

/// A hostile user program: thousands of random system calls with kernel,
/// unmapped, wrapping and huge arguments, and memory games. The kernel
/// survives, the other programs finish with their output, every frame is
/// returned, and a syscall pointed at the kernel gets -EFAULT.
#[test]
fn a_syscall_fuzzer_harms_only_itself() {
    let (Some(fuzz), Some(ostep)) = (build("sysfuzz", Cc::Static), build("ostep", Cc::Musl)) else {
        return;
    };
    let r = microvmm_run(&[
        "--run",
        &fuzz.display().to_string(),
        "--run",
        &ostep.display().to_string(),
        "--timeout",
        "120",
    ]);
    assert_eq!(
        lines_of(&r.stdout, "sysfuzz"),
        ["sysfuzz: done, 0 failures"],
        "{}",
        r.stdout
    );
    assert_eq!(lines_of(&r.stdout, "ostep").len(), 3, "{}", r.stdout);
    assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A family of processes that fork, pipe, shuffle descriptors, exec
/// nonsense and signal each other at random: the kernel survives, the
/// first process gets to its last line, and every frame and open file is
/// returned.
#[test]
fn a_forking_fuzzer_leaves_nothing_behind() {
    let Some(p) = build("forkfuzz", Cc::Static) else {
        return;
    };
    let r = microvmm_run(&["--run", &p.display().to_string(), "--timeout", "120"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        lines_of(&r.stdout, "forkfuzz")
            .iter()
            .any(|l| l.starts_with("forkfuzz: done")),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
    assert!(!r.stdout.contains("still open at the end"), "{}", r.stdout);
}

/// Copy-on-write faults and forks past the end of guest RAM: children are
/// killed cleanly or refused (ENOMEM), never a kernel panic.
#[test]
fn copy_on_write_out_of_memory_kills_cleanly() {
    let Some(p) = build("cowoom", Cc::Static) else {
        return;
    };
    let r = microvmm_run(&[
        "--mem",
        "32M",
        "--run",
        &p.display().to_string(),
        "--timeout",
        "60",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
    assert!(r.stdout.contains("out of memory"), "{}", r.stdout);
}

/// A process that waits for ever on itself is ended, with the reason.
#[test]
fn a_deadlock_ends_with_sigkill_and_a_reason() {
    let Some(p) = build("deadlock", Cc::Static) else {
        return;
    };
    let r = microvmm_run(&["--run", &p.display().to_string(), "--timeout", "60"]);
    assert_eq!(r.code, 137, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("deadlock: every live process waits"),
        "{}",
        r.stdout
    );
}
