//! Threads on the one vCPU: pthreads (glibc and musl), Rust std::thread,
//! futex errors and timeouts, exit versus exit_group, and a thread bomb,
//! with real static programs (tests/programs/) in real VMs. A process of
//! many threads is one process to the VMM: reported once, at its end,
//! with its threads (`processes[].threads[]`, one under `--cpus 2`).
//! One test binary (`--test threads`): Go's runtime in `go.rs`, the
//! threads in the report in `report.rs`.

#[path = "../common/mod.rs"]
mod common;

mod go;
mod report;

use common::{Cc, build, microvmm, microvmm_direct, procs, same_as_host};
use std::process::Command;

/// microvmm -q --run `run`: (exit code, the program's stdout, stderr).
fn guest(run: &str) -> (i32, String, String) {
    let r = microvmm_direct(&["-q", "--run", run, "--timeout", "60"]);
    (r.code, r.stdout, r.stderr)
}

#[test]
fn pthread_examples_print_what_they_print_on_the_host() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("threads", cc) else {
            continue;
        };
        let out = same_as_host(&p, 0).stdout;
        assert!(out.contains("sum: counter 160000 (want 160000)"), "{out}");
        assert!(
            out.contains("futex: bad address Bad address, kernel address Bad address"),
            "{out}"
        );
        assert!(out.contains("cas: 1000000 (want 1000000)"), "{out}");
        // Linux gives a new thread its creator's signal mask.
        assert!(
            out.contains("sigmask: new thread blocks SIGUSR1 yes, SIGUSR2 no"),
            "{out}"
        );
        assert!(
            out.contains("tgkill: the handler ran on the target thread: yes"),
            "{out}"
        );
        // A fatal tgkill acts where it is aimed, whatever the caller blocks.
        let native = Command::new(&p)
            .arg("tgkillfatal")
            .status()
            .expect("run natively");
        let (code, out, _) = guest(&format!("{} tgkillfatal", p.display()));
        assert_eq!(
            (native.code(), code),
            (None, 143),
            "{cc:?} tgkillfatal: {out}"
        );
        let (code, out, err) = guest(&format!("{} sem10m", p.display()));
        assert_eq!(code, 0, "{cc:?} sem10m\nstdout:\n{out}\nstderr:\n{err}");
        assert_eq!(out, "sem10m: 10000000 (want 10000000)\n", "{cc:?}");
    }
}

#[test]
fn a_threaded_process_is_reported_once_with_its_thread_count() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let r = microvmm(&["--run", &p.display().to_string(), "--json", "-", "-q"], 0);
    let j = r.json();
    let ps = procs(&j, "threads");
    assert_eq!(ps.len(), 1, "one process, however many threads");
    assert_eq!(ps[0]["pid"], 1);
    assert_eq!(ps[0]["exit"]["status"], 0);
    // The kernel's lines come on stderr.
    let r = microvmm_direct(&["--run", &p.display().to_string()]);
    assert!(
        r.stderr.contains("pid 1 threads: exit 0;") && r.stderr.contains("; threads 29"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
}

#[test]
fn exit_group_from_a_thread_ends_the_process() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("threads", cc) else {
            continue;
        };
        let (code, out, err) = guest(&format!("{} group", p.display()));
        assert_eq!(code, 3, "{cc:?}\nstdout:\n{out}\nstderr:\n{err}");
        assert!(!out.contains("not reached"), "{out}");
    }
}

#[test]
fn the_main_thread_may_exit_first_and_the_last_thread_ends_the_process() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("threads", cc) else {
            continue;
        };
        let (code, out, err) = guest(&format!("{} mainexit", p.display()));
        assert_eq!(code, 0, "{cc:?}\nstdout:\n{out}\nstderr:\n{err}");
        assert_eq!(out, "mainexit: the last thread finishes the process\n");
    }
}

#[test]
fn a_thread_bomb_meets_eagain_and_every_frame_comes_back() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("threads", cc) else {
            continue;
        };
        let run = format!("{} bomb", p.display());
        let r = microvmm_direct(&["--run", &run, "--timeout", "60"]);
        assert_eq!(
            r.code, 0,
            "{cc:?}\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stdout.contains(
                "bomb: pthread_create failed with Resource temporarily unavailable after more than 10 threads"
            ),
            "{cc:?}: {}",
            r.stdout
        );
        assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
    }
}

#[test]
fn rust_std_threads_run_and_a_panic_exits_101() {
    let Some(p) = build("rthreads", Cc::Rust) else {
        return;
    };
    let out = same_as_host(&p, 0).stdout;
    assert!(out.contains("mutex: 60000 (want 60000)"), "{out}");
    // A named thread renames itself (prctl); the process keeps its name.
    let r = microvmm(&["--run", &p.display().to_string(), "--json", "-", "-q"], 0);
    assert_eq!(procs(&r.json(), "rthreads").len(), 1);
    let (code, _, err) = guest(&format!("{} panic", p.display()));
    assert_eq!(code, 101, "{err}");
    assert!(err.contains("main panics after joining 5"), "{err}");
    assert!(!err.contains("futex facility"), "{err}");
}

#[test]
fn a_deadlock_of_threads_names_them_and_ends_with_sigkill() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let run = format!("{} deadlock", p.display());
    let r = microvmm_direct(&["--run", &run, "--timeout", "60"]);
    assert_eq!(r.code, 137, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("deadlock: every live process waits"), "{all}");
    assert!(
        all.contains("pid 1 threads: waits on the futex at 0x"),
        "{all}"
    );
    assert!(
        all.contains("pid 1 threads thread 2: waits on the futex at 0x"),
        "{all}"
    );
    assert!(all.contains("every frame returned"), "{all}");
}

#[test]
fn a_thread_on_an_unmapped_stack_ends_its_process_with_sigsegv() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let run = format!("{} badstack", p.display());
    let r = microvmm_direct(&["--run", &run, "--timeout", "60"]);
    assert_eq!(r.code, 139, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("killed by #PF err 0x4 at 0x1000")
            && r.stderr.contains("; in its thread 2; threads 2"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
}

#[test]
fn a_parent_waits_once_for_a_threaded_child_and_execve_from_a_thread_ends_the_others() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("threads", cc) else {
            continue;
        };
        let (code, out, err) = guest(&format!("{} forked", p.display()));
        assert_eq!(code, 0, "{cc:?}\nstdout:\n{out}\nstderr:\n{err}");
        assert_eq!(
            out, "forked: waitpid got the child yes, exit 3; then ECHILD\n",
            "{cc:?}"
        );
        // The guest's root holds the program as /threads.
        let (code, out, err) = guest(&format!("{} execthread", p.display()));
        assert_eq!(code, 0, "{cc:?}\nstdout:\n{out}\nstderr:\n{err}");
        assert_eq!(out, "execd: pid 1, tid 1\n", "{cc:?}");
    }
}
