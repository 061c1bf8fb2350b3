//! Issue 20 part 2: `--trace FILE` writes Chrome trace-event JSON that the
//! format's rules hold for, with a fault event per heap fault the report
//! counts, switch events, and named process tracks. Real VMs.

mod common;
use common::*;

use std::collections::BTreeMap;

use serde_json::Value;

fn traced(extra: &[&str]) -> (Value, Value) {
    let file = std::env::temp_dir().join(format!(
        "microvmm-trace-{}-{}.json",
        std::process::id(),
        extra.len()
    ));
    let path = file.to_string_lossy().into_owned();
    let mut args = vec![
        "--cmdline",
        "addrspace heap stack",
        "--trace",
        &path,
        "--json",
        "-",
        "-q",
    ];
    args.extend_from_slice(extra);
    let report = microvmm(&args, 0).json();
    let text = std::fs::read_to_string(&file).expect("the trace file");
    let _ = std::fs::remove_file(&file);
    (
        report,
        serde_json::from_str(&text).expect("the trace is JSON"),
    )
}

/// Check the trace-event format's rules; return the events.
fn check_format(t: &Value) -> &Vec<Value> {
    let evs = t["traceEvents"].as_array().expect("traceEvents");
    assert!(!evs.is_empty());
    // Open B slices per (pid, tid): each E closes the innermost one, never
    // before it began.
    let mut open: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    for e in evs {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("no ph: {e}"));
        let ts = e["ts"].as_f64().unwrap_or_else(|| panic!("no ts: {e}"));
        let pid = e["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {e}"));
        let tid = e["tid"].as_u64().unwrap_or(pid);
        assert!(e["name"].is_string(), "no name: {e}");
        match ph {
            "B" => open.entry((pid, tid)).or_default().push(ts),
            "E" => {
                let began = open
                    .get_mut(&(pid, tid))
                    .and_then(Vec::pop)
                    .unwrap_or_else(|| panic!("E without B: {e}"));
                assert!(began <= ts, "E before its B: {e}");
            }
            "X" => assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}"),
            "i" | "M" => {}
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    for (k, v) in open {
        assert!(v.is_empty(), "B left open on {k:?}");
    }
    evs
}

#[test]
fn the_demo_trace_is_well_formed_and_holds_every_heap_fault() {
    let (r, t) = traced(&[]);
    let evs = check_format(&t);
    // The metadata names every process of the report.
    for p in r["processes"].as_array().expect("processes") {
        let pid = p["pid"].as_u64().expect("pid");
        let name = p["name"].as_str().expect("name");
        for kind in ["process_name", "thread_name"] {
            assert!(
                evs.iter().any(|e| e["ph"] == "M"
                    && e["name"] == kind
                    && e["pid"] == pid
                    && e["args"]["name"].as_str().is_some_and(|n| n.contains(name))),
                "no {kind} for pid {pid} {name}"
            );
        }
    }
    let heap = procs(&r, "heap")[0];
    let pid = heap["pid"].as_u64().expect("pid");
    let counted = heap["heap_faults"].as_u64().expect("heap faults");
    assert!(counted > 0);
    let traced = evs
        .iter()
        .filter(|e| e["name"] == "page fault" && e["pid"] == pid && e["args"]["region"] == "heap")
        .count() as u64;
    assert!(
        traced >= counted,
        "{traced} heap fault events for {counted} heap faults"
    );
    let f = evs
        .iter()
        .find(|e| e["name"] == "page fault" && e["pid"] == pid)
        .expect("a fault");
    assert_eq!(f["args"]["kind"], "demand");
    assert!(
        f["args"]["gva"]
            .as_str()
            .is_some_and(|g| g.starts_with("0x"))
    );
    assert!(
        f["args"]["frame"]
            .as_str()
            .is_some_and(|g| g.starts_with("0x"))
    );
    assert!(evs.iter().any(|e| e["name"] == "context switch"));
    assert!(evs.iter().any(|e| e["name"] == "VM exit"));
    assert!(
        evs.iter()
            .any(|e| e["name"] == "process exit" && e["pid"] == pid)
    );
    assert!(!evs.iter().any(|e| e["cat"] == "syscall"));
    // The report says what the timeline holds, and what was dropped.
    assert_eq!(r["trace"]["guest_dropped"], 0);
    assert_eq!(t["otherData"]["guest_dropped"], 0);
    assert!(r["trace"]["faults"].as_u64().unwrap_or(0) >= counted);
}

#[test]
fn syscalls_are_traced_only_when_asked() {
    let (_, t) = traced(&["--trace-syscalls"]);
    let evs = check_format(&t);
    assert!(
        evs.iter()
            .any(|e| e["cat"] == "syscall" && e["name"] == "syscall write"),
        "no write syscall event"
    );
    refused(&["--trace-syscalls"], "--trace");
}
