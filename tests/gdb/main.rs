//! `--gdb`: Debian's real gdb, in batch mode, against microvmm's stub
//! (real VMs through /dev/kvm): two `--run` programs built with -g -static
//! are gdb threads; a breakpoint at main stops the first; memory and code
//! are read through its own page tables; `monitor whereis` prints the
//! chain; `continue` runs both to the end and the report is written. Then
//! hostile clients: Ctrl-C, garbage packets, a disconnect mid-run, a
//! breakpoint in a frame shared after fork, and a non-loopback address.
//! One test binary (`--test gdb`): `debugger.rs` runs gdb, `clients.rs`
//! speaks the protocol by hand; this root starts microvmm for both.

#[path = "../common/mod.rs"]
mod common;

mod clients;
mod debugger;

use common::{Cc, build};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A fresh directory for this test's socket.
fn sock_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("microvmm-gdb-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("socket dir");
    d
}

/// gdb_first and gdb_second (built with -g -static) as two `--run`
/// programs of one microvmm waiting for gdb on a socket named for `test`:
/// gdb_first's path (for its symbols), the socket and microvmm. None when
/// the C compiler is missing (a skip, or a failure in CI: `build`).
fn start_both(test: &str) -> Option<(PathBuf, PathBuf, Child)> {
    let first = build("gdb_first", Cc::StaticDebug)?;
    let second = build("gdb_second", Cc::StaticDebug)?;
    let sock = sock_dir(test).join("sock");
    let vm = start(
        &sock,
        &[
            "--timeout",
            "120",
            "--run",
            first.to_str().unwrap(),
            "--run",
            second.to_str().unwrap(),
        ],
    );
    Some((first, sock, vm))
}

/// microvmm with `--gdb unix:SOCK` and `args`, once its socket exists.
fn start(sock: &Path, args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_microvmm"))
        .arg("--gdb")
        .arg(format!("unix:{}", sock.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn microvmm");
    // It binds before it opens KVM; a microvmm that died says why.
    for _ in 0..600 {
        if sock.exists() {
            return child;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("microvmm exited {st} before listening: {}", output(child).1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("microvmm never listened on {}", sock.display());
}

/// Wait for microvmm: its exit code, stdout and stderr.
fn output(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("wait for microvmm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
