//! Helpers shared by the integration tests: run the real `microvmm` binary
//! (real VMs through /dev/kvm) and look at what it printed and reported.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

mod programs;
pub use programs::*;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON report on stdout (`--json -`), checked against the schema.
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => {
                check_schema(&v);
                v
            }
            Err(e) => panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            ),
        }
    }
}

/// A JSON report's text (a `--json FILE`), parsed and checked against the
/// schema.
pub fn report_json(text: &[u8]) -> serde_json::Value {
    let v = serde_json::from_slice(text).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}):\n{}",
            String::from_utf8_lossy(text)
        )
    });
    check_schema(&v);
    v
}

/// docs/report.schema.json, the report's committed JSON Schema.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json")
}

/// The committed schema, compiled once per test binary.
pub fn schema_validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let schema: serde_json::Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{} is not a JSON Schema: {e}", path.display()))
    })
}

/// Panic, listing the first errors, unless `report` validates against
/// docs/report.schema.json.
pub fn check_schema(report: &serde_json::Value) {
    let errors: Vec<String> = schema_validator()
        .iter_errors(report)
        .take(10)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not validate against docs/report.schema.json:\n{}",
        errors.join("\n")
    );
}

/// The microvmm binary, once /dev/kvm is known to open: every test that
/// runs microvmm comes here first. Without KVM no test of this binary can
/// boot a VM, so they are skipped: one line says why and the test binary
/// exits 0 at once (its remaining tests are skipped with it), except
/// under CI=true, where the test fails.
pub fn microvmm_bin() -> &'static str {
    static KVM: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    static EXITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let kvm = KVM.get_or_init(|| {
        std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .map(drop)
            .map_err(|e| format!("/dev/kvm cannot be opened ({e})"))
    });
    if let Err(why) = kvm {
        assert!(!in_ci(), "CI=true: {why}, and CI must not skip");
        // One thread says it and exits; the others wait here until then.
        let _only_one = EXITING.lock();
        // Straight to fd 2: the harness captures eprintln! and would
        // lose the line when the process exits.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {why}: the tests of this binary boot real VMs"
        );
        std::process::exit(0);
    }
    env!("CARGO_BIN_EXE_microvmm")
}

/// Run microvmm with `args`, whatever its exit code. Most tests read a
/// program's lines by their `[pid name]` prefix, so a run with `--run`
/// gets `--tag-output`; `microvmm_direct` runs it as a user types it (the
/// programs' own stdout and stderr: tests/command/).
pub fn microvmm_run(args: &[&str]) -> Run {
    let mut args = args.to_vec();
    if args.contains(&"--run") && !args.contains(&"--tag-output") {
        args.push("--tag-output");
    }
    microvmm_direct(&args)
}

/// Run microvmm with exactly `args`, whatever its exit code.
pub fn microvmm_direct(args: &[&str]) -> Run {
    let out = Command::new(microvmm_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn microvmm");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `prog` natively, then in the guest as a user types it (`microvmm -q
/// --run PROG --timeout 60`): each must exit `want` and both must print the
/// same stdout. The guest's run, for the caller's own checks.
pub fn same_as_host(prog: &std::path::Path, want: i32) -> Run {
    let native = Command::new(prog).output().expect("run natively");
    let p = prog.display();
    assert_eq!(native.status.code(), Some(want), "{p} on the host");
    let r = microvmm_direct(&["-q", "--run", &p.to_string(), "--timeout", "60"]);
    assert_eq!(
        r.code, want,
        "{p}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.stdout, String::from_utf8_lossy(&native.stdout), "{p}");
    r
}

/// Run microvmm with `args`; panic with its output if the code is not `want`.
pub fn microvmm(args: &[&str], want: i32) -> Run {
    let run = microvmm_run(args);
    assert_eq!(
        run.code, want,
        "microvmm {args:?} exited {} (wanted {want})\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
    run
}

/// A test guest built from guest/kernel by vmm/build.rs.
pub fn test_guest(name: &str) -> String {
    PathBuf::from(env!("MICROVMM_GUEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

/// The guest mode this host should give: pvm-native on PVM, else x86.
pub fn expected_mode(stdout_or_stderr: &str) -> &'static str {
    if stdout_or_stderr.contains("kvm flavour pvm") {
        "pvm-native"
    } else {
        "x86"
    }
}

/// On a PVM host, the widest vector state the host CPU has ("avx512" with
/// AVX512F+BW, "avx", "sse"): user code there runs with the host's XCR0
/// whatever CPUID the guest shows, so that is what isolation tests must
/// force. None elsewhere (the guest's CPUID tells the truth there). Asks a
/// short microvmm run for the KVM flavour.
pub fn pvm_widest_vector() -> Option<&'static str> {
    let probe = microvmm(&["--cmdline", "spin:1", "-q"], 0);
    if !(probe.stdout + &probe.stderr).contains("kvm flavour pvm") {
        None
    } else if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
        Some("avx512")
    } else if is_x86_feature_detected!("avx") {
        Some("avx")
    } else {
        Some("sse")
    }
}

/// The processes of a JSON report, by name.
pub fn procs<'a>(r: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    r["processes"]
        .as_array()
        .expect("processes[]")
        .iter()
        .filter(|p| p["name"] == name)
        .collect()
}

pub fn hex(v: &serde_json::Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

/// One line on stderr, naming the problem, no panic; exit 2, or with
/// `--run` 126 (a program file that cannot run: microvmm::exit_code).
pub fn refused(args: &[&str], words: &str) {
    let code = if args.contains(&"--run") {
        microvmm::exit_code::CANNOT_RUN
    } else {
        2
    };
    refused_with(args, code, words);
}

/// One line on stderr naming the problem, exit `code`, no panic.
pub fn refused_with(args: &[&str], code: i32, words: &str) {
    let r = microvmm(args, code);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of reason, got:\n{}", r.stderr);
    assert!(lines[0].contains(words), "'{words}' not in: {}", lines[0]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// A file of `bytes` in this test run's temp dir.
pub fn tmp_file(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("microvmm-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write tmp file");
    p.display().to_string()
}

/// The demo kernel with one header field changed.
pub fn patched(name: &str, f: impl Fn(&mut Vec<u8>)) -> String {
    let mut b = std::fs::read(test_guest("kernel")).expect("read kernel");
    f(&mut b);
    tmp_file(name, &b)
}

/// File offset of the first program header.
pub fn phdr0(b: &[u8]) -> usize {
    u64::from_le_bytes(b[32..40].try_into().expect("8 bytes")) as usize
}

/// Whether a `[pid NAME]` prefix's NAME is process `name`: the same, a
/// path ending in it, or its first 15 bytes (the guest keeps 16 with NUL).
fn is_name(token: &str, name: &str) -> bool {
    token == name
        || token.ends_with(&format!("/{name}"))
        || (token.len() >= 15 && name.starts_with(token))
}

/// Every line a guest process named `name` wrote, as (pid, text without the
/// `[pid name] ` prefix), in the order they appear in `console`.
pub fn output_of(console: &str, name: &str) -> Vec<(u32, String)> {
    console
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('[')?;
            let (head, text) = rest.split_once("] ")?;
            let (pid, token) = head.split_once(' ')?;
            let pid = pid.parse().ok()?;
            is_name(token, name).then(|| (pid, text.to_string()))
        })
        .collect()
}

/// The lines of the one process named `name` (panics if several wrote).
pub fn lines_of(console: &str, name: &str) -> Vec<String> {
    let out = output_of(console, name);
    let pids: std::collections::BTreeSet<u32> = out.iter().map(|(p, _)| *p).collect();
    assert!(
        pids.len() <= 1,
        "several processes named {name}: {pids:?}\n{console}"
    );
    out.into_iter().map(|(_, l)| l).collect()
}
