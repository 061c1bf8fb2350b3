//! A `--run` program sees what a program run from a shell sees: the wall
//! clock, a working directory, a parent.

mod common;
use common::*;

use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// The number after `key ` in the program's lines.
fn value(lines: &[String], key: &str) -> f64 {
    let l = lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no '{key}' line in {lines:?}"));
    l.parse()
        .unwrap_or_else(|e| panic!("'{key} {l}' is not a number: {e}"))
}

#[test]
fn the_wall_clock_is_the_hosts_in_every_libc() {
    for cc in Cc::STATIC {
        let Some(prog) = build("clock", cc) else {
            continue;
        };
        let before = now();
        let r = microvmm(&["-q", "--run", prog.to_str().expect("UTF-8")], 0);
        let after = now();
        let lines = lines_of(&r.stdout, "clock");
        // time() truncates to the second; the others must lie within the
        // run (a second's slack either way for clocks that tick apart).
        for key in ["time", "gettimeofday", "realtime"] {
            let t = value(&lines, key);
            assert!(
                t >= before.floor() - 1.0 && t <= after + 1.0,
                "{}: {key} {t} not within the run {before}..{after}",
                cc.name()
            );
        }
        // Monotonic counts from the guest's boot, within this run.
        let mono = value(&lines, "monotonic");
        assert!(
            mono >= 0.0 && mono <= after - before + 1.0,
            "monotonic {mono}"
        );
        assert!(lines.contains(&"cwd /".to_string()), "{lines:?}");
        assert!(lines.contains(&"ppid 0".to_string()), "{lines:?}");
    }
}

#[test]
fn busybox_date_prints_this_year() {
    let bb = "/bin/busybox";
    if !std::path::Path::new(bb).exists() {
        skip::<()>("/bin/busybox (Debian's busybox-static)");
        return;
    }
    let r = microvmm(&["-q", "--run", &format!("{bb} date +%Y")], 0);
    let year = chrono_year();
    assert_eq!(
        lines_of(&r.stdout, "busybox"),
        [year.to_string()],
        "{}",
        r.stdout
    );
}

/// This year, from the host's own `date`.
fn chrono_year() -> i32 {
    let out = std::process::Command::new("date")
        .arg("+%Y")
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a year")
}

#[test]
fn env_sets_the_programs_environment() {
    let bb = "/bin/busybox";
    if !std::path::Path::new(bb).exists() {
        skip::<()>("/bin/busybox (Debian's busybox-static)");
        return;
    }
    let run = format!("{bb} env");
    // The test's stdout is a pipe: no TERM.
    let r = microvmm(&["-q", "--run", &run], 0);
    assert_eq!(
        lines_of(&r.stdout, "busybox"),
        ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/"],
        "the default environment"
    );
    let r = microvmm(
        &[
            "-q",
            "--env",
            "GREETING=hello world",
            "--env",
            "HOME=/root",
            "--run",
            &run,
        ],
        0,
    );
    assert_eq!(
        lines_of(&r.stdout, "busybox"),
        [
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "HOME=/root",
            "GREETING=hello world"
        ]
    );
}

#[test]
fn bad_env_values_are_usage_errors() {
    refused(&["--env", "=x"], "give NAME=VALUE or NAME");
    let many: Vec<String> = (0..64).map(|i| format!("V{i}=1")).collect();
    let mut args = vec![];
    for m in &many {
        args.extend(["--env", m.as_str()]);
    }
    refused(&args, "at most 64");
    let long = format!("L={}", "x".repeat(5000));
    refused(&["--env", &long], "at most 4096");
}
