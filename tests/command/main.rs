//! A `--run` program sees what a program run from a shell sees: the wall
//! clock, a working directory, a parent, an environment, exit codes as a
//! shell reports them; its stdin (`--stdin`) is in `stdin.rs`. One test
//! binary (`--test command`).

#[path = "../common/mod.rs"]
mod common;

mod stdin;
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
    let Some(bb) = busybox() else {
        return;
    };
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
    let Some(bb) = busybox() else {
        return;
    };
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

fn busybox() -> Option<&'static str> {
    let bb = "/bin/busybox";
    if std::path::Path::new(bb).exists() {
        Some(bb)
    } else {
        skip("/bin/busybox (Debian's busybox-static)")
    }
}

/// A C program writing to both streams and exiting 3.
fn outerr() -> Option<std::path::PathBuf> {
    build("outerr", Cc::Static)
}

#[test]
fn stdout_and_stderr_are_the_programs_and_microvmm_speaks_on_stderr() {
    let Some(prog) = outerr() else {
        return;
    };
    let p = prog.to_str().expect("UTF-8");
    // -q: only the program's bytes, and microvmm's verdict on stderr.
    let r = microvmm_direct(&["-q", "--run", p]);
    assert_eq!(r.code, 3, "the program's status:\n{}", r.stderr);
    assert_eq!(r.stdout, "to stdout\nagain\n");
    assert_eq!(
        r.stderr,
        "to stderr\nmicrovmm: pid 1 (outerr) exited with status 3\n"
    );
    // Without -q the host line, the kernel's lines and the report go to
    // stderr too: stdout stays the program's.
    let r = microvmm_direct(&["--run", p]);
    assert_eq!(r.stdout, "to stdout\nagain\n");
    assert!(r.stderr.contains("== microvmm report =="), "{}", r.stderr);
    assert!(
        r.stderr.contains("[kernel] pid 1 outerr: exit 3"),
        "{}",
        r.stderr
    );
    // The JSON keeps each stream, and both interleaved.
    let r = microvmm_direct(&["-q", "--run", p, "--json", "-"]);
    let j = r.json();
    let o = &j["processes"][0];
    assert_eq!(o["stdout"], "to stdout\nagain\n");
    assert_eq!(o["stderr"], "to stderr\n");
    assert_eq!(o["output"], "to stdout\nto stderr\nagain\n");
    // With --json - stdout is the JSON's: the program's stdout goes to stderr.
    assert!(r.stderr.starts_with("to stdout\n"), "{}", r.stderr);
}

#[test]
fn exit_codes_are_a_shells() {
    let Some(bb) = busybox() else {
        return;
    };
    let code = |args: &[&str]| microvmm_direct(args).code;
    assert_eq!(code(&["-q", "--run", &format!("{bb} true")]), 0);
    assert_eq!(code(&["-q", "--run", &format!("{bb} sh -c 'exit 3'")]), 3);
    assert_eq!(code(&["-q", "--run", &format!("{bb} false")]), 1);
    // The first program's status, whatever the second does.
    assert_eq!(
        code(&[
            "-q",
            "--run",
            &format!("{bb} true"),
            "--run",
            &format!("{bb} false")
        ]),
        0
    );
    if let Some(null) = build("nullwrite", Cc::Static) {
        // Killed by a fault: SIGSEGV, 128 + 11.
        assert_eq!(code(&["-q", "--run", null.to_str().expect("UTF-8")]), 139);
    }
    if let Some(trap) = build("trap", Cc::Static) {
        // ud2: #UD, SIGILL to a shell, 128 + 4; the verdict names it.
        let r = microvmm_direct(&["-q", "--run", trap.to_str().expect("UTF-8")]);
        assert_eq!(r.code, 132, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("(trap) was killed: #UD: invalid opcode at rip 0x"),
            "{}",
            r.stderr
        );
    }
    // microvmm's own: timeout, its failure, a file that cannot run, none.
    let sleep = format!("{bb} sleep 10");
    assert_eq!(code(&["-q", "--timeout", "1", "--run", &sleep]), 124);
    assert_eq!(code(&["-q", "--mem", "1Z", "--run", &sleep]), 125);
    assert_eq!(code(&["-q", "--no-such-flag", "--run", &sleep]), 125);
    assert_eq!(code(&["-q", "--run", "/etc/passwd"]), 126);
    assert_eq!(code(&["-q", "--run", "/no/such/program"]), 127);
    // Without --run, as make: 0, 1, 2.
    assert_eq!(code(&["-q", "--cmdline", "no-such-program"]), 2);
}

#[test]
fn echo_into_a_file_leaves_exactly_its_output() {
    let Some(bb) = busybox() else {
        return;
    };
    let r = microvmm_direct(&["-q", "--run", &format!("{bb} echo hi")]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "hi\n", "")
    );
}

#[test]
fn a_reader_that_leaves_is_sigpipe_and_output_is_buffered_as_on_the_host() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let Some(bb) = busybox() else {
        return;
    };
    // `| head -c 4`: the reader leaves; the writer gets SIGPIPE (141) and
    // the run ends, as `seq | head` does on the host (it ran to --timeout).
    let mut child = Command::new(microvmm_bin())
        .args([
            "-q",
            "--timeout",
            "60",
            "--run",
            &format!("{bb} seq 1 100000000"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn microvmm");
    let mut first = [0u8; 4];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("four bytes");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(&first, b"1\n2\n");
    assert_eq!(
        out.status.code(),
        Some(141),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "a shell says nothing of SIGPIPE");
    // Into a pipe (not a terminal) libc buffers fully, as it does on the
    // host: 100000 lines cost a handful of exits, not one per line.
    let r = microvmm_direct(&["-q", "--json", "-", "--run", &format!("{bb} seq 1 100000")]);
    let j = r.json();
    let lines = j["processes"][0]["stdout"]
        .as_str()
        .map_or(0, |s| s.lines().count());
    assert!(lines > 0, "{}", j["processes"][0]);
    let exits = j["guest"]["exits"]["hypercall"].as_u64().expect("exits");
    assert!(exits < 1000, "{exits} hypercalls for 100000 lines");
}
