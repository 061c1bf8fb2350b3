//! Threads on the one vCPU: pthreads (glibc and musl), Rust std::thread,
//! futex errors and timeouts, exit versus exit_group, and a thread bomb,
//! with real static programs (tests/programs/) in real VMs. A process of
//! many threads is one process to the VMM: reported once, at its end,
//! with its threads (`processes[].threads[]`, one under `--cpus 2`).

mod common;

use common::{Cc, build, hex, microvmm, microvmm_direct, procs, same_as_host, skip};
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

/// tests/programs/NAME.go built static (CGO_ENABLED=0) into target/, or
/// None (a skip, which fails in CI) without Go.
fn go_build(name: &str) -> Option<std::path::PathBuf> {
    // `go` has no --version: `go version` says whether it runs.
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return skip("go (Debian's golang-go)");
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-threads");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/programs/{name}.go"));
    let bin = dir.join(name);
    let ok = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.join("cache"))
        .status()
        .expect("go build")
        .success();
    assert!(ok, "go build {name}");
    Some(bin)
}

/// A static Go program with goroutines and a WaitGroup (CI installs Go;
/// elsewhere the test skips without it).
#[test]
fn a_static_go_program_runs_its_goroutines() {
    let Some(bin) = go_build("goroutines") else {
        return;
    };
    let (code, out, err) = guest(&bin.display().to_string());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out, "goroutines: 100 done, sum 4950\n");
    // Every call Go's runtime makes is known (Go 1.19 starts with
    // getrlimit(RLIMIT_NOFILE), which was ENOSYS).
    let r = microvmm_direct(&["--run", &bin.display().to_string(), "--timeout", "60"]);
    assert!(
        r.stderr.contains("pid 1 goroutines: exit 0;"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("unknown syscalls"), "{}", r.stderr);
}

/// Go's netpoller (epoll and a pipe) behind timers, a ticker and os.Pipe,
/// and its asynchronous preemption (SIGURG by tgkill to the spinning
/// goroutine's thread): the same output as on the host.
#[test]
fn go_timers_pipes_and_preemption_work_as_on_the_host() {
    let Some(bin) = go_build("goruntime") else {
        return;
    };
    let out = same_as_host(&bin, 0).stdout;
    assert!(
        out.contains("preemption: main ran again while a goroutine spun: true"),
        "{out}"
    );
    assert!(out.contains("pipe: read 5800 bytes, err <nil>"), "{out}");
}

/// A nil dereference recovered as a panic, then one that is not: Go's
/// SIGSEGV handler runs (it needs si_code SEGV_MAPERR and si_addr), the
/// process exits 2 with the panic on stderr, as on the host.
#[test]
fn a_go_nil_dereference_is_a_panic_as_on_the_host() {
    let Some(bin) = go_build("gopanic") else {
        return;
    };
    let r = same_as_host(&bin, 2);
    let (out, err) = (r.stdout, r.stderr);
    assert!(
        out.contains("recovered: runtime error: invalid memory address or nil pointer dereference"),
        "{out}"
    );
    assert!(
        err.contains("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc="),
        "{err}"
    );
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

/// `processes[].threads[]`: how each thread ended, where it ran, its
/// stack region and its process's CR3, from one message at the end.
fn threads_of(run: &str, cpus: &str, code: i32) -> (serde_json::Value, String) {
    let r = microvmm(
        &[
            "-q",
            "--cpus",
            cpus,
            "--run",
            run,
            "--json",
            "-",
            "--timeout",
            "60",
        ],
        code,
    );
    let j = r.json();
    let name = std::path::Path::new(run.split(' ').next().unwrap_or(run))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Its name carries its argument ("threads:group").
    let ps: Vec<_> = j["processes"]
        .as_array()
        .expect("processes[]")
        .iter()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with(&name)))
        .collect();
    assert_eq!(ps.len(), 1, "{}", r.stderr);
    (ps[0].clone(), r.stderr)
}

#[test]
fn every_thread_is_listed_with_its_exit_its_vcpus_and_its_stack() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let (p0, err) = threads_of(&p.display().to_string(), "1", 0);
    let ts = p0["threads"].as_array().expect("threads[]");
    // The kernel's line says 29 threads; each is listed once.
    assert_eq!(ts.len(), 29, "{err}");
    assert_eq!(p0["threads_dropped"], 0);
    let mut tids: Vec<u64> = ts.iter().filter_map(|t| t["tid"].as_u64()).collect();
    tids.sort_unstable();
    tids.dedup();
    assert_eq!(tids.len(), 29, "distinct tids: {ts:?}");
    assert!(tids.contains(&1), "the first thread is the pid");
    for t in ts {
        // It returned from main: the group ended its first thread; the
        // others called exit(2) through pthread_exit.
        let first = t["tid"] == 1;
        assert_eq!(t["exit"], if first { "group" } else { "exit" }, "{t}");
        assert_eq!(t["status"].is_null(), first, "{t}");
        assert_eq!(t["vcpus"], serde_json::json!([0]), "{t}");
        assert!(hex(&t["stack_start"]) < hex(&t["stack_end"]), "{t}");
        assert_eq!(t["cr3"], p0["cr3"], "threads share the process's CR3");
    }
    // exit_group from a thread: the group ends the joiner.
    let (p0, _) = threads_of(&format!("{} group", p.display()), "1", 3);
    let ts = p0["threads"].as_array().expect("threads[]");
    assert_eq!(ts.len(), 2);
    assert!(ts.iter().all(|t| t["exit"] == "group"), "{ts:?}");
    // The text report: one line per thread.
    let r = microvmm(&["--run", &p.display().to_string(), "--timeout", "60"], 0);
    let lines = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("  thread ") && l.ends_with("(same CR3 as the process)"))
        .count();
    assert_eq!(lines, 29, "{}", r.stdout);
}

/// A thread bomb ends more threads than a message lists: the first 32,
/// and the rest counted.
#[test]
fn a_thread_bomb_lists_32_threads_and_counts_the_rest() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let (p0, err) = threads_of(&format!("{} bomb", p.display()), "1", 0);
    assert_eq!(p0["threads"].as_array().map(Vec::len), Some(32), "{err}");
    assert!(p0["threads_dropped"].as_u64().unwrap_or(0) > 0, "{err}");
}

/// Two threads spinning at once under --cpus 2: one of them ran on vCPU 1.
#[test]
fn under_two_vcpus_a_spinning_thread_lists_vcpu_1() {
    let Some(p) = build("shootdown", Cc::Static) else {
        return;
    };
    let (p0, err) = threads_of(&p.display().to_string(), "2", 0);
    let ts = p0["threads"].as_array().expect("threads[]");
    assert_eq!(ts.len(), 2, "{err}");
    assert!(
        ts.iter().any(|t| t["vcpus"]
            .as_array()
            .is_some_and(|v| v.contains(&serde_json::json!(1)))),
        "{ts:?}"
    );
}

/// execve from a thread ends the image's threads with it (the exec'ing
/// thread by its own tid); the new image made none.
#[test]
fn execve_from_a_thread_lists_the_old_images_threads_only() {
    let Some(p) = build("threads", Cc::Static) else {
        return;
    };
    let run = format!("{} execthread", p.display());
    let r = microvmm(&["-q", "--run", &run, "--json", "-", "--timeout", "60"], 0);
    let j = r.json();
    let ps: Vec<_> = j["processes"]
        .as_array()
        .expect("processes[]")
        .iter()
        .filter(|p| p["pid"] == 1)
        .collect();
    assert_eq!(ps.len(), 2, "{}", r.stderr);
    let old = ps[0]["threads"].as_array().expect("threads[]");
    // main, a spinner and the thread that ran execve (by its own tid).
    let mut tids: Vec<u64> = old.iter().filter_map(|t| t["tid"].as_u64()).collect();
    tids.sort_unstable();
    assert_eq!(tids, [1, 2, 3], "{old:?}");
    assert!(old.iter().all(|t| t["exit"] == "group"), "{old:?}");
    assert_eq!(ps[1]["threads"], serde_json::json!([]));
}
