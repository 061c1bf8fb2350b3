//! Address spaces born and copied: fork with copy-on-write, wait, pipes,
//! signals between processes, and a fork bomb, with real static programs
//! (tests/programs/) in real VMs. The process-API examples must print what
//! they print on the host, pids aside.

mod common;

use common::{Cc, build, microvmm_direct};
use std::process::Command;

/// `pid:123` -> `pid:N`, so guest and host runs compare.
fn without_pids(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut out = String::new();
            let mut rest = l;
            while let Some(i) = rest.find("pid:") {
                out.push_str(&rest[..i + 4]);
                rest = rest[i + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
                out.push('N');
            }
            out.push_str(rest);
            out
        })
        .collect();
    // A parent and its child print in either order, here and on the host.
    lines.sort();
    lines
}

/// The program's own stdout in the guest (exit status checked).
fn guest(args: &[&str], want: i32) -> String {
    let mut all = vec!["-q"];
    all.extend_from_slice(args);
    let r = microvmm_direct(&all);
    assert_eq!(
        r.code, want,
        "microvmm {all:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

#[test]
fn fork_and_fork_wait_print_what_they_print_on_the_host() {
    let Some(p) = build("procapi", Cc::Static) else {
        return;
    };
    for mode in ["1", "2"] {
        let native = Command::new(&p).arg(mode).output().expect("run natively");
        let run = format!("{} {mode}", p.display());
        let got = guest(&["--run", &run], 0);
        assert_eq!(
            without_pids(&got),
            without_pids(&String::from_utf8_lossy(&native.stdout)),
            "procapi {mode}"
        );
        assert!(got.contains("child (pid:2) of parent pid:1"), "{got}");
    }
}

#[test]
fn copy_on_write_shares_a_frame_until_the_child_writes() {
    let Some(p) = build("cow", Cc::Static) else {
        return;
    };
    let out = guest(&["--run", &p.display().to_string()], 0);
    assert!(
        out.contains("cow: same frame before the write: yes; another after: yes"),
        "{out}"
    );
    assert!(
        out.contains("cow: parent's pages intact after the child wrote: yes"),
        "{out}"
    );
}

#[test]
fn a_pipe_carries_more_than_it_holds_between_parent_and_child() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("pipes", cc) else {
            return;
        };
        let out = guest(&["--run", &p.display().to_string()], 0);
        assert_eq!(
            out.trim(),
            "pipes: cloexec set, poll 1, read 204800 bytes, 0 wrong, child status 0, EPIPE yes",
            "{cc:?}"
        );
    }
}

#[test]
fn a_fork_bomb_ends_with_eagain_and_every_frame_returned() {
    let Some(p) = build("forkbomb", Cc::Static) else {
        return;
    };
    let r = microvmm_direct(&["--run", &p.display().to_string(), "--timeout", "60"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("fork failed with Resource temporarily unavailable"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
}

#[test]
fn signals_between_processes_take_their_default_action() {
    let Some(p) = build("signals", Cc::Static) else {
        return;
    };
    let r = microvmm_direct(&["-q", "--run", &p.display().to_string(), "--timeout", "60"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.trim(),
        "signals: SIGTERM ok, SIGKILL ok, ignored SIGTERM ok, orphan adopted ok"
    );
}

/// MAP_SHARED memory stays shared across fork: an anonymous counter four
/// children add to, and a file mapping a child writes and the parent
/// reads back; no copy-on-write and no report error for those frames.
#[test]
fn shared_mappings_stay_shared_after_fork() {
    let Some(p) = build("sharedmem", Cc::Static) else {
        return;
    };
    let out = guest(&["--run", &p.display().to_string()], 0);
    assert_eq!(
        out.trim(),
        r#"sharedmem: counter 4000, file says "written by the child""#
    );
}

/// A parent that ignores SIGCHLD leaves no zombies (100 children, more
/// than the process table holds, all forked, wait says ECHILD), and
/// select that times out hands back empty sets.
#[test]
fn ignoring_sigchld_leaves_no_zombies_and_select_clears_its_sets() {
    let Some(p) = build("reaping", Cc::Static) else {
        return;
    };
    let out = guest(&["--run", &p.display().to_string(), "--timeout", "60"], 0);
    assert_eq!(
        out.trim(),
        "reaping: 100 of 100 forks, wait ECHILD; select timed out with empty sets"
    );
}
