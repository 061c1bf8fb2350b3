//! The guest kernel's Linux ABI as the built-in programs see it (no host
//! compiler needed): each process keeps its own vector registers, unknown
//! system calls answer -ENOSYS and the process goes on, and the old
//! built-ins still pass on the new system-call numbers.

mod common;
use common::*;

#[test]
fn two_processes_keep_their_own_vector_registers() {
    let r = microvmm(&["--cmdline", "vector vector spin:50", "-q"], 0);
    let kept: Vec<_> = r
        .stdout
        .lines()
        .filter(|l| l.contains("] vector: ") && l.contains("kept this process's values"))
        .collect();
    assert_eq!(kept.len(), 2, "both vector processes pass:\n{}", r.stdout);
    assert!(!r.stdout.contains("CORRUPTED"), "{}", r.stdout);
}

#[test]
fn unknown_syscalls_get_enosys_and_the_process_goes_on() {
    let r = microvmm(&["--cmdline", "linuxabi", "-q"], 0);
    assert!(
        r.stdout.contains("linuxabi: unknown syscalls got ENOSYS"),
        "{}",
        r.stdout
    );
    // Each distinct number once, in the order first seen.
    assert!(
        r.stdout
            .contains("linuxabi: exit 0; heap faults 1, stack faults 1")
            && r.stdout.contains("unknown syscalls (3): 500 999 1003"),
        "{}",
        r.stdout
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
