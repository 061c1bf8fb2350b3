//! Helpers shared by the integration tests: run the real `microvmm` binary
//! (real VMs through /dev/kvm) and look at what it printed and reported.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            ),
        }
    }
}

/// Run microvmm with `args`; panic with its output if the code is not `want`.
pub fn microvmm(args: &[&str], want: i32) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_microvmm"))
        .args(args)
        .output()
        .expect("spawn microvmm");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
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
