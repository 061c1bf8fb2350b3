//! Copy-on-write at its edges (guest/kernel/src/mm/cow.rs), with
//! tests/programs/cowedge.c in real VMs: kernel writes into shared pages
//! (a missing TLB flush under PVM left them unseen), mprotect and munmap
//! over shared pages, 2 MiB pages split at fork, and running out of
//! memory in a copy-on-write fault or in fork itself. Each run must end
//! with every frame returned.

mod common;

use common::{Cc, build, microvmm_direct};

/// Run cowedge with `args` (`mem`: guest RAM, `extra`: more flags); check
/// the exit status and that every frame came back; its stdout.
fn cowedge(args: &str, mem: &str, extra: &[&str], want: i32) -> String {
    let Some(p) = build("cowedge", Cc::Static) else {
        return String::new();
    };
    let run = format!("{} {args}", p.display());
    let mut all = vec!["--run", &run, "--mem", mem, "--timeout", "60"];
    all.extend_from_slice(extra);
    let r = microvmm_direct(&all);
    assert_eq!(
        r.code, want,
        "cowedge {args}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
    r.stdout
}

#[test]
fn each_side_sees_only_its_own_writes_and_the_kernels() {
    let out = cowedge("share", "128M", &[], 0);
    if !out.is_empty() {
        assert_eq!(out.trim(), "cowedge: share: child ok, parent ok");
    }
}

#[test]
fn two_mib_pages_are_split_and_shared() {
    let out = cowedge("share", "128M", &["--guest-pages", "2m"], 0);
    if !out.is_empty() {
        assert_eq!(out.trim(), "cowedge: share: child ok, parent ok");
    }
}

#[test]
fn out_of_memory_in_a_copy_kills_only_the_writer() {
    // 18 MiB touched in 32 MiB of RAM: the child's copies cannot all fit.
    let out = cowedge("eat 18", "32M", &[], 0);
    if !out.is_empty() {
        assert_eq!(
            out.trim(),
            "cowedge: eat: child killed, parent's pages intact"
        );
    }
}

#[test]
fn out_of_memory_in_fork_is_enomem_and_the_parent_goes_on() {
    // 3000 pages, one per 2 MiB block: 3000 page tables for the child, more
    // than 32 MiB has left.
    let out = cowedge("sparse 3000", "32M", &[], 0);
    if !out.is_empty() {
        assert_eq!(
            out.trim(),
            "cowedge: sparse: fork ENOMEM, parent's pages ok"
        );
    }
}
