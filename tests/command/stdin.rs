//! `--stdin`: the first `--run` program reads microvmm's stdin, streamed
//! rather than read whole first; with `--stdin none`, and for every other
//! process, stdin is at end of file. Compared with busybox on the host.

use crate::busybox;
use crate::common::*;

/// Run microvmm with `input` on its stdin (closed after): (exit code, stdout).
fn with_stdin(args: &[&str], input: &[u8]) -> (i32, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(microvmm_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn microvmm");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let input = input.to_vec();
    // A writer thread: the guest may stop reading before the input ends.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for microvmm");
    let _ = writer.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `busybox ARGS` natively with `input` on stdin: its stdout.
fn native(bb: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bb)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn busybox");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("feed busybox");
    let out = child.wait_with_output().expect("busybox");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stdin_reaches_the_first_program() {
    let Some(bb) = busybox() else {
        return;
    };
    let input = b"a b\nc\n";
    let (code, out) = with_stdin(&["-q", "--run", &format!("{bb} wc")], input);
    assert_eq!(code, 0, "{out}");
    // Exactly what it prints natively: stdout is the program's.
    assert_eq!(out, native(bb, &["wc"], input));
    // More than one message's worth (4000 bytes a read), in order.
    let big: Vec<u8> = (0..20000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let (code, out) = with_stdin(&["-q", "--run", &format!("{bb} md5sum")], &big);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, native(bb, &["md5sum"], &big));
}

#[test]
fn stdin_none_and_other_processes_read_end_of_file() {
    let Some(bb) = busybox() else {
        return;
    };
    let wc = format!("{bb} wc");
    let (code, out) = with_stdin(&["-q", "--stdin", "none", "--run", &wc], b"x y z\n");
    assert_eq!(code, 0, "{out}");
    let zero = native(bb, &["wc"], b"");
    assert_eq!(out, zero);
    // Only the first --run program reads microvmm's stdin (tagged lines,
    // to tell the two apart).
    let cat = format!("{bb} cat");
    let (code, out) = with_stdin(
        &["-q", "--tag-output", "--run", &cat, "--run", &wc],
        b"x y z\n",
    );
    assert_eq!(code, 0, "{out}");
    let lines: Vec<String> = output_of(&out, "busybox")
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert!(lines.contains(&"x y z".to_string()), "{out}");
    assert!(lines.contains(&zero.trim_end().to_string()), "{out}");
}

#[test]
fn stdin_is_streamed_not_read_whole_first() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Some(bb) = busybox() else {
        return;
    };
    // One line, and the pipe stays open: `head -n 1` ends after it. A VMM
    // that read its stdin to the end first would wait for --timeout.
    let mut child = Command::new(microvmm_bin())
        .args(["-q", "--timeout", "30", "--run", &format!("{bb} head -n 1")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn microvmm");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    pipe.write_all(b"first\nsecond\n").expect("write");
    pipe.flush().expect("flush");
    let out = child.wait_with_output().expect("wait");
    drop(pipe);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "first\n");
}
