//! Threads in the report: a process's `threads[]` lists each thread with
//! its exit, its vCPUs and its stack; a thread bomb lists 32 and counts
//! the rest; under `--cpus 2` a spinning thread is seen on vCPU 1; after
//! execve from a thread only the old image's threads are listed.

use crate::common::{Cc, build, hex, microvmm};

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
