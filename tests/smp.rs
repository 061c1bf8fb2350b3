//! `--cpus N`: the range is checked before KVM is touched; with two or four
//! vCPUs the application processors come up and check in, every vCPU has a
//! host thread that ends with the run (whichever way it ends), and programs
//! print what they print with one vCPU. Real VMs through /dev/kvm.

mod common;

use common::{Cc, build, go_build, microvmm, microvmm_direct, procs, test_guest};
use std::process::Command;

#[test]
fn cpus_outside_one_to_eight_is_refused_with_one_line() {
    for bad in ["0", "9", "x", "-1"] {
        let arg = format!("--cpus={bad}");
        let r = microvmm_direct(&[&arg, "--cmdline", "addrspace"]);
        assert_eq!(r.code, 2, "--cpus {bad}\nstderr:\n{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "--cpus {bad}: {}", r.stderr);
        assert!(r.stderr.contains("--cpus"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

/// The gdb stub stops one vCPU; with more it is refused before anything
/// listens, on one line.
#[test]
fn gdb_with_several_vcpus_is_refused_with_one_line() {
    let r = microvmm_direct(&["--gdb", "0", "--cpus", "2", "--cmdline", "addrspace"]);
    assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--gdb works with one vCPU"),
        "{}",
        r.stderr
    );
}

#[test]
fn application_processors_come_up_and_each_vcpu_is_reported() {
    for n in [2usize, 4] {
        let ns = n.to_string();
        let r = microvmm(&["--cpus", &ns, "--cmdline", "addrspace", "--json", "-"], 0);
        assert!(
            r.stderr
                .contains(&format!("[kernel] vCPUs: {n} of {n} online")),
            "{}",
            r.stderr
        );
        let j = r.json();
        let v = j["guest"]["vcpus"].as_array().expect("guest.vcpus[]");
        assert_eq!(v.len(), n);
        for (i, c) in v.iter().enumerate() {
            assert_eq!(c["index"], i as u64);
        }
        // Every exit the devices saw was some vCPU's exit.
        let sum: u64 = v.iter().map(|c| c["exits"].as_u64().unwrap_or(0)).sum();
        assert!(sum >= j["guest"]["exits"]["total"].as_u64().unwrap_or(u64::MAX));
        assert_eq!(j["guest"]["outcome"], "ok");
    }
}

#[test]
fn the_demo_runs_under_two_vcpus_and_every_frame_comes_back() {
    // Which vCPU runs which process depends on the host's scheduling of
    // the vCPU threads: only the outcome is checked (the shootdown test
    // below shows two threads really running at once).
    let r = microvmm(&["--cpus", "2", "--json", "-"], 0);
    assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["guest"]["vcpus"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["processes"].as_array().map(Vec::len), Some(8));
}

#[test]
fn one_vcpu_has_no_vcpus_line_and_prints_no_smp_line() {
    let r = microvmm(&["--cmdline", "addrspace"], 0);
    assert!(!r.stdout.contains("vCPUs    :"), "{}", r.stdout);
    assert!(!r.stdout.contains("[kernel] vCPUs"), "{}", r.stdout);
    let r = microvmm(&["--cpus", "2", "--cmdline", "addrspace"], 0);
    assert!(r.stdout.contains("vCPUs    : 0: "), "{}", r.stdout);
}

#[test]
fn every_way_a_run_ends_stops_all_vcpu_threads() {
    // A timeout (the guest spins on vCPU 0, the APs are parked in HLT), a
    // run without an irqchip (an AP's HLT reaches the VMM), and a dying
    // guest: each returns with its usual verdict and exit code.
    let r = microvmm(
        &["--cpus", "3", "--cmdline", "spin:60000", "--timeout", "1"],
        1,
    );
    assert!(r.stdout.contains("timeout"), "{}", r.stdout);
    let r = microvmm(
        &["--cpus", "2", "--irqchip", "none", "--cmdline", "addrspace"],
        0,
    );
    assert!(r.stdout.contains("vCPUs    : 0: "), "{}", r.stdout);
    let r = microvmm(&[&test_guest("triple-fault"), "--cpus", "2", "-q"], 1);
    assert!(r.stderr.contains("triple fault"), "{}", r.stderr);
}

#[test]
fn threaded_programs_print_the_same_under_one_and_two_vcpus() {
    // pthreads (glibc and musl: mutexes, condition variables, semaphores,
    // futex requeue, a thread bomb), Rust std::thread, and signal
    // handlers across fork (pause woken by a parent on the other vCPU).
    for (name, cc, arg) in [
        ("threads", Cc::Static, ""),
        ("threads", Cc::Musl, ""),
        ("threads", Cc::Static, " bomb"),
        ("threads", Cc::Static, " mainexit"),
        ("threads", Cc::Static, " sem10m"),
        ("rthreads", Cc::Rust, ""),
        ("handlers", Cc::Static, ""),
    ] {
        let Some(p) = build(name, cc) else {
            continue;
        };
        let run = format!("{}{arg}", p.display());
        let one = microvmm_direct(&["-q", "--run", &run, "--timeout", "60"]);
        let two = microvmm_direct(&["-q", "--run", &run, "--timeout", "60", "--cpus", "2"]);
        assert_eq!(one.code, 0, "{run} {cc:?}\n{}", one.stderr);
        assert_eq!(two.code, 0, "{run} {cc:?} --cpus 2\n{}", two.stderr);
        assert_eq!(one.stdout, two.stdout, "{run} {cc:?}");
    }
}

/// One thread unmaps (or first makes read-only) pages that another
/// thread, spinning on the other vCPU, had just written: each change is a
/// TLB shootdown there, counted in the report; with one vCPU there is
/// nobody to shoot down. The program's output is the same either way.
#[test]
fn unmapping_what_a_thread_on_the_other_vcpu_touched_is_a_counted_shootdown() {
    let Some(p) = build("shootdown", Cc::Static) else {
        return;
    };
    let p = p.display().to_string();
    for mode in ["", " mprotect"] {
        let run = format!("{p}{mode}");
        let mut outputs = Vec::new();
        for cpus in ["1", "2"] {
            let r = microvmm(
                &[
                    "-q",
                    "--cpus",
                    cpus,
                    "--run",
                    &run,
                    "--json",
                    "-",
                    "--timeout",
                    "60",
                ],
                0,
            );
            let j = r.json();
            let ps = procs(&j, "shootdown");
            assert_eq!(ps.len(), 1);
            let n = ps[0]["tlb_shootdowns"].as_u64().unwrap_or(u64::MAX);
            if cpus == "1" {
                assert_eq!(n, 0, "one vCPU: nothing to shoot down");
                assert_eq!(ps[0]["vcpus"], serde_json::json!([0]));
            } else {
                assert!(n > 0, "--cpus 2{mode}: {}", r.stderr);
                // A shootdown needs a thread of it on the other vCPU.
                assert_eq!(ps[0]["vcpus"], serde_json::json!([0, 1]));
                assert!(ps[0]["tlb_shootdown_us"].as_f64().unwrap_or(0.0) > 0.0);
            }
            assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
            outputs.push(ps[0]["stdout"].as_str().unwrap_or("").to_string());
        }
        assert_eq!(outputs[0], outputs[1]);
        assert!(outputs[0].ends_with(", 0 wrong\n"), "{}", outputs[0]);
    }
    // The text report says so too.
    let r = microvmm(&["--cpus", "2", "--run", &p, "--timeout", "60"], 0);
    assert!(r.stdout.contains("  TLB shootdowns: "), "{}", r.stdout);
}

/// Two threads, one per vCPU, write the same fresh page at the same
/// moment, page after page: both take a not-present fault on it at once.
/// The one that waited for the kernel lock must find the page paged in and
/// run its write again, not be killed as if out of memory (what killed
/// the Go program below now and then, in the runtime's bss). Without the
/// fix this died in the first rounds on every run tried.
#[test]
fn two_threads_faulting_on_one_page_at_once_both_go_on() {
    let Some(p) = build("samefault", Cc::Static) else {
        return;
    };
    let p = p.display().to_string();
    for cpus in ["1", "2"] {
        let r = microvmm_direct(&["-q", "--cpus", cpus, "--run", &p, "--timeout", "60"]);
        assert_eq!(r.code, 0, "--cpus {cpus}\n{}", r.stderr);
        assert_eq!(
            r.stdout, "samefault: 256 rounds, 0 wrong\n",
            "--cpus {cpus}"
        );
    }
}

/// A static Go program (goroutines, a WaitGroup) prints the same under
/// one and two vCPUs. Needs `go` (Debian's golang-go; a skip fails in CI).
#[test]
fn a_go_program_runs_the_same_under_two_vcpus() {
    let Some(bin) = go_build("goroutines") else {
        return;
    };
    let bin = bin.display().to_string();
    for cpus in ["1", "2"] {
        let r = microvmm_direct(&["-q", "--cpus", cpus, "--run", &bin, "--timeout", "60"]);
        assert_eq!(r.code, 0, "--cpus {cpus}\n{}", r.stderr);
        assert_eq!(
            r.stdout, "goroutines: 100 done, sum 4950\n",
            "--cpus {cpus}"
        );
    }
}

/// sched_setaffinity is kept: under --cpus 2 a program pins itself to
/// CPU 1, the thread it then makes and the child it forks inherit that
/// mask, bad masks are EINVAL and an unknown thread ESRCH, as on a 2-CPU
/// host (compared when the host has 2 CPUs). The report shows that the
/// pinned thread ran on vCPU 1 only, and so did the child.
#[test]
fn an_affinity_mask_is_kept_inherited_and_honoured() {
    let Some(p) = build("affinity", Cc::Static) else {
        return;
    };
    let p = p.display().to_string();
    let args = [
        "-q",
        "--cpus",
        "2",
        "--run",
        &p,
        "--json",
        "-",
        "--timeout",
        "60",
    ];
    let r = microvmm(&args, 0);
    let j = r.json();
    let out = procs(&j, "affinity");
    assert_eq!(out.len(), 2, "the program and its child");
    let stdout = out[0]["stdout"].as_str().unwrap_or("").to_string();
    for line in [
        "start: 2 CPUs: 0 1\n",
        "empty mask: -22\n",
        "only CPU 63: -22\n",
        "no such thread: -3\n",
        "pinned: 1 CPUs: 1\n",
        "thread: 1 CPUs: 1\n",
        "end: 2 CPUs: 0 1\n",
    ] {
        assert!(stdout.contains(line), "{line}in:\n{stdout}");
    }
    let threads = out[0]["threads"].as_array().expect("threads[]");
    let worker: Vec<_> = threads
        .iter()
        .filter(|t| t["tid"] != out[0]["pid"])
        .collect();
    assert_eq!(worker.len(), 1, "{threads:?}");
    assert_eq!(
        worker[0]["vcpus"],
        serde_json::json!([1]),
        "the pinned thread"
    );
    assert_eq!(out[1]["vcpus"], serde_json::json!([1]), "the child");
    assert!(
        out[1]["stdout"]
            .as_str()
            .unwrap_or("")
            .contains("child: 1 CPUs: 1")
    );
    // The host says the same when it has two CPUs.
    let native = Command::new(&p).output().expect("run natively");
    if std::thread::available_parallelism().map_or(0, |n| n.get()) == 2 {
        let all = format!("{stdout}{}", out[1]["stdout"].as_str().unwrap_or(""));
        let mut want: Vec<_> = String::from_utf8_lossy(&native.stdout)
            .lines()
            .map(String::from)
            .collect();
        let mut got: Vec<_> = all.lines().map(String::from).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }
}
