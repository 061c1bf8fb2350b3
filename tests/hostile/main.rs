//! Hostile guests and hostile outputs (SECURITY.md): whatever the guest
//! does, the VMM stays within its memory bound, keeps the user's terminal
//! and files safe, and ends within --timeout. Each test is one hole that
//! was open before: it failed on the old VMM and passes now. One test
//! binary (`--test hostile`), a file per kind of hole: `memory.rs` (the
//! memory bound), `terminal.rs`, `outputs.rs` (the files written),
//! `deadline.rs` (--timeout), `programs.rs` (hostile --run files) and
//! `guests.rs` (hostile guest programs).

#[path = "../common/mod.rs"]
mod common;

mod deadline;
mod guests;
mod memory;
mod outputs;
mod programs;
mod terminal;

use std::fs;
use std::path::PathBuf;

/// How long a run that must end at its --timeout (2 s here) or at once
/// may take before the test calls it a hang. A liveness bound, not a
/// speed goal: generous, because this machine is shared and noisy (the
/// hangs these tests catch ran until the test killed them at 30 s).
const LIVENESS: f64 = 20.0;

/// Guest RAM of these runs (the default) and the bound SECURITY.md
/// documents: guest RAM + 64 MiB, plus 256 bytes per page listed.
const RAM_KIB: u64 = 128 << 10;
const BOUND_KIB: u64 = RAM_KIB + (64 << 10);

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("microvmm-hostile-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch dir");
    d
}
