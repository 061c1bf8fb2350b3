//! Debian's real gdb, in batch mode, against the stub: two `--run`
//! programs built with -g -static are gdb threads, a breakpoint at main
//! stops the first, memory and code are read through its own page tables,
//! `monitor whereis` prints the chain, and a breakpoint in a frame shared
//! after fork is refused.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Cc, build, have, skip};
use crate::{output, sock_dir, start, start_both};

/// gdb -batch with `program`'s symbols, connected to `sock`, running `cmds`.
fn gdb(program: &Path, sock: &Path, cmds: &[&str]) -> String {
    let mut c = Command::new("gdb");
    c.args(["-batch", "-nx", "-ex", "set pagination off"]);
    c.arg("-ex").arg(format!("file {}", program.display()));
    c.arg("-ex")
        .arg(format!("target remote {}", sock.display()));
    for x in cmds {
        c.arg("-ex").arg(x);
    }
    let out = c.stdin(Stdio::null()).output().expect("spawn gdb");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn have_gdb() -> bool {
    have("gdb") || skip::<()>("gdb (apt-get install gdb)").is_some()
}

#[test]
fn gdb_stops_in_a_program_and_sees_both_processes() {
    if !have_gdb() {
        return;
    }
    let Some((first, sock, vm)) = start_both("session") else {
        return;
    };
    let g = gdb(
        &first,
        &sock,
        &[
            "break main",
            "continue",
            "info threads",
            "x/3i $pc",
            "monitor whereis 0x401000",
            "monitor ps",
            "next",
            "next",
            "print counter",
            "continue",
        ],
    );
    let (code, stdout, stderr) = output(vm);
    let both = format!("gdb:\n{g}\nmicrovmm stderr:\n{stderr}");
    assert!(g.contains("Breakpoint 1, main () at"), "{both}");
    // info threads: both programs, by pid and name.
    assert!(g.contains("(pid 1 gdb_first"), "{both}");
    assert!(g.contains("(pid 2 gdb_second"), "{both}");
    // x/3i $pc: the program's own code, read through its page tables.
    assert!(g.contains("=> 0x4"), "{both}");
    assert!(g.matches("<main+").count() >= 3, "{both}");
    // The chain and the 2D walk, as the report prints them.
    assert!(g.contains("whereis pid 1 GVA 0x401000 -> GPA 0x"), "{both}");
    assert!(g.contains("-> HVA 0x"), "{both}");
    for level in ["PML4", "PDPT", "PD ", "PT "] {
        assert!(g.contains(&format!("    {level}")), "{level}: {both}");
    }
    assert!(g.contains("    hardware: "), "{both}");
    // monitor ps: both processes with their CR3s.
    assert!(g.contains("gdb_second"), "{both}");
    // next, next: the store ran in the guest.
    assert!(g.contains("$1 = 42"), "{both}");
    assert!(g.contains("exited normally"), "{both}");
    // The programs ran to their end, and the report was written.
    assert_eq!(code, 0, "{both}");
    assert!(stdout.contains("gdb_first counter 42"), "{stdout}");
    assert!(
        stdout.contains("gdb_second saw gdb_first go on"),
        "{stdout}"
    );
    assert!(stderr.contains("== microvmm report =="), "{both}");
    assert!(stderr.contains("pid 2 gdb_second: exit 0"), "{both}");
}

#[test]
fn a_breakpoint_in_a_frame_shared_after_fork_is_refused() {
    if !have_gdb() {
        return;
    }
    let Some(prog) = build("gdb_fork", Cc::StaticDebug) else {
        return;
    };
    let dir = sock_dir("fork");
    let sock = dir.join("sock");
    let vm = start(
        &sock,
        &["--timeout", "120", "--run", prog.to_str().unwrap()],
    );
    // The program's own int3 stops it after the fork (SIGTRAP); its code
    // frames are then its child's too.
    let g = gdb(
        &prog,
        &sock,
        &[
            "continue",
            "info threads",
            "break shared_work",
            "continue",
            "detach",
        ],
    );
    let (code, stdout, stderr) = output(vm);
    let both = format!("gdb:\n{g}\nmicrovmm stderr:\n{stderr}");
    assert!(g.contains("SIGTRAP"), "{both}");
    assert!(g.contains("(pid 2 gdb_fork"), "{both}");
    assert!(g.contains("Cannot insert breakpoint 1"), "{both}");
    assert!(stderr.contains("is shared with pid 2"), "{both}");
    // Nothing of the child was changed: both halves ran to their end.
    assert_eq!(code, 0, "{both}");
    assert!(
        stdout.contains("child 41") && stdout.contains("parent 3"),
        "{both}"
    );
}
