//! Hostile and hasty clients, speaking the remote protocol by hand:
//! Ctrl-C and garbage packets, a disconnect mid-run, SIGTERM while gdb
//! holds the guest or before it connects, TCP on loopback only unless
//! asked.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Cc, build, microvmm_direct};
use crate::{output, sock_dir, start, start_both};

/// A gdb remote-protocol packet.
fn packet(body: &[u8]) -> Vec<u8> {
    let sum = body.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    let mut p = b"$".to_vec();
    p.extend_from_slice(body);
    p.extend_from_slice(format!("#{sum:02x}").as_bytes());
    p
}

/// Read one reply packet's body (acks skipped); None at end of stream.
fn reply(s: &mut impl Read) -> Option<String> {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        match b[0] {
            b'+' if got.is_empty() => {}
            b'#' => {
                let mut sum = [0u8; 2];
                s.read_exact(&mut sum).ok()?;
                let body = got.strip_prefix(b"$").unwrap_or(&got);
                return Some(String::from_utf8_lossy(body).into_owned());
            }
            c => got.push(c),
        }
    }
}

fn connect(sock: &Path) -> UnixStream {
    let s = UnixStream::connect(sock).expect("connect to the stub");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

#[test]
fn ctrl_c_stops_a_running_guest_and_garbage_ends_the_session() {
    let Some(spin) = build("gdb_spin", Cc::StaticDebug) else {
        return;
    };
    let dir = sock_dir("ctrlc");
    let sock = dir.join("sock");
    let vm = start(&sock, &["--timeout", "5", "--run", spin.to_str().unwrap()]);
    let mut s = connect(&sock);
    s.write_all(&packet(b"?")).unwrap();
    assert_eq!(reply(&mut s).as_deref(), Some("T05thread:01;"));
    s.write_all(b"+").unwrap();
    s.write_all(&packet(b"c")).unwrap();
    // gdb's Ctrl-C is one 0x03 byte while the guest runs.
    s.write_all(&[3]).unwrap();
    let stop = reply(&mut s).expect("a stop reply after Ctrl-C");
    assert!(stop.starts_with("T02") || stop.starts_with("S02"), "{stop}");
    s.write_all(b"+").unwrap();
    // A bad checksum, junk, a read of 2^64 bytes, an overlong escape run.
    s.write_all(b"$zz\xff\xfe#00$$$###").unwrap();
    s.write_all(&packet(b"m0,ffffffffffffffff")).unwrap();
    let mut long = b"X401000,1:".to_vec();
    long.extend(std::iter::repeat_n(b'}', 5000));
    s.write_all(&packet(&long)).unwrap();
    drop(s);
    let (code, _, stderr) = output(vm);
    // The session ended, the guest ran on until --timeout, and the
    // report is there.
    assert!(stderr.contains("microvmm: gdb: session ended"), "{stderr}");
    assert_eq!(code, microvmm::exit_code::TIMEOUT, "{stderr}");
    assert!(stderr.contains("== microvmm report =="), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_disconnect_mid_run_lets_the_guest_finish() {
    let Some((first, sock, vm)) = start_both("drop") else {
        return;
    };
    let mut s = connect(&sock);
    s.write_all(&packet(b"?")).unwrap();
    assert!(reply(&mut s).is_some_and(|r| r.starts_with("T05")));
    s.write_all(b"+").unwrap();
    // A breakpoint at main, then gone while the guest runs: the int3
    // must come out again, or gdb_first dies of SIGTRAP.
    let main = symbol(&first, "main");
    s.write_all(&packet(format!("Z0,{main:x},1").as_bytes()))
        .unwrap();
    assert_eq!(reply(&mut s).as_deref(), Some("OK"));
    s.write_all(b"+").unwrap();
    s.write_all(&packet(b"c")).unwrap();
    drop(s);
    let (code, stdout, stderr) = output(vm);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("gdb_first counter 42"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("== microvmm report =="), "{stderr}");
}

/// A symbol's address in an ET_EXEC file (nm).
fn symbol(prog: &Path, name: &str) -> u64 {
    let out = Command::new("nm").arg(prog).output().expect("nm");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let (a, _, n) = (w.next()?, w.next()?, w.next()?);
            (n == name).then(|| u64::from_str_radix(a, 16).ok())?
        })
        .unwrap_or_else(|| panic!("no {name} in nm {}", prog.display()))
}

#[test]
fn tcp_port_zero_is_loopback_and_printed() {
    let Some(first) = build("gdb_first", Cc::StaticDebug) else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_microvmm"))
        .args(["--gdb", "0", "--timeout", "120", "--run"])
        .arg(&first)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn microvmm");
    // A line on stderr names the port it picked.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "microvmm said no 'target remote' line");
        if let Some((_, a)) = line.split_once("target remote ") {
            break a.trim().to_string();
        }
    };
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(&packet(b"D")).unwrap();
    assert_eq!(reply(&mut s).as_deref(), Some("OK"));
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0), "{rest}");
    assert!(rest.contains("gdb detached; the guest runs on"), "{rest}");
}

#[test]
fn listening_beyond_loopback_needs_its_own_flag() {
    let r = microvmm_direct(&["--gdb", "0.0.0.0:1234"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("--gdb-any-address"), "{}", r.stderr);
    let r = microvmm_direct(&["--gdb", "not-a-port"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = microvmm_direct(&[
        "--gdb-any-address",
        "--gdb",
        "0.0.0.0:0",
        "--timeout",
        "1",
        "--mem",
        "1K",
    ]);
    // Accepted as an address (the --mem error is what stops it).
    assert!(r.stderr.contains("--mem"), "{}", r.stderr);
}

#[test]
fn sigterm_ends_a_run_that_gdb_holds_stopped() {
    let Some(spin) = build("gdb_spin", Cc::StaticDebug) else {
        return;
    };
    let dir = sock_dir("sigterm");
    let sock = dir.join("sock");
    let vm = start(
        &sock,
        &["--timeout", "120", "--run", spin.to_str().unwrap()],
    );
    let mut s = connect(&sock);
    s.write_all(&packet(b"?")).unwrap();
    assert_eq!(reply(&mut s).as_deref(), Some("T05thread:01;"));
    // The guest is stopped and the stub waits for gdb's next packet.
    let pid = libc::pid_t::try_from(vm.id()).expect("pid");
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let (_, _, stderr) = output(vm);
    drop(s);
    assert!(
        stderr.contains("microvmm: gdb: SIGTERM while gdb had the guest stopped"),
        "{stderr}"
    );
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(stderr.contains("== microvmm report =="), "{stderr}");
}

#[test]
fn sigterm_ends_the_wait_for_gdb() {
    let Some(spin) = build("gdb_spin", Cc::StaticDebug) else {
        return;
    };
    let dir = sock_dir("sigterm-wait");
    let sock = dir.join("sock");
    let vm = start(
        &sock,
        &["--timeout", "120", "--run", spin.to_str().unwrap()],
    );
    let pid = libc::pid_t::try_from(vm.id()).expect("pid");
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let (_, _, stderr) = output(vm);
    // Caught waiting for gdb ("no gdb attached (SIGTERM)"), or before the
    // wait began: the guest stops either way, with its report.
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(stderr.contains("== microvmm report =="), "{stderr}");
    assert!(!sock.exists(), "the socket is removed at the end");
}
