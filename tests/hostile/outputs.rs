//! The files microvmm writes (reports, through FIFOs and symlinks): a FIFO
//! without a reader is refused, a report is written whole or not at all
//! (SIGINT, full disk, timeout), links are written through, stale
//! temporary files are removed.

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{self, *};
use crate::scratch;

/// Hole 3: --json to a FIFO nobody reads is refused at once (exit 2), not
/// a hang in open().
#[test]
fn a_fifo_without_reader_is_refused() {
    let d = scratch("fifo");
    let fifo = d.join("report.json");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let r = microvmm(&["--json", &fifo.display().to_string(), "-q"], 2);
    assert!(r.stderr.contains("no process is reading"), "{}", r.stderr);
    let _ = fs::remove_dir_all(&d);
}

/// Hole 2: SIGINT mid-run ends the guest; the report of what was seen is
/// written whole (marked incomplete), the old file is replaced only then,
/// and no temporary file is left behind.
#[test]
fn sigint_writes_an_incomplete_report_atomically() {
    let d = scratch("sigint");
    let json = d.join("report.json");
    fs::write(&json, "the previous report").expect("write");
    let child = Command::new(microvmm_bin())
        .args(["--cmdline", "spin:20000", "--timeout", "60", "-q", "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        fs::read_to_string(&json).ok().as_deref(),
        Some("the previous report"),
        "nothing written before the report exists"
    );
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&json).expect("report");
    let j = common::report_json(text.as_bytes());
    assert_eq!(j["complete"], false);
    assert!(
        j["guest"]["outcome"]
            .as_str()
            .unwrap_or("")
            .contains("SIGINT"),
        "{}",
        j["guest"]["outcome"]
    );
    let names: Vec<_> = fs::read_dir(&d)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names.len(), 1, "litter: {names:?}");
    let _ = fs::remove_dir_all(&d);
}

/// Hole 6: a failed write of the text report is an error, not exit 0.
#[test]
fn a_full_disk_is_an_error() {
    let out = Command::new(microvmm_bin())
        .args(["--cmdline", "addrspace"])
        .stdin(Stdio::null())
        .stdout(fs::File::create("/dev/full").expect("/dev/full"))
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the text report"), "{err}");
}

fn is_link(p: &std::path::Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Issue 16, item 2: an output path that is a symlink is written through:
/// the file it ends at gets the report, the link stays a link (the
/// temporary file was renamed over the link itself). A link that ends at
/// a pipe is streamed to.
#[test]
fn outputs_are_written_through_symlinks() {
    let d = scratch("symlink-out");
    let (target, out) = (d.join("target.json"), d.join("out"));
    std::os::unix::fs::symlink("target.json", &out).expect("symlink");
    let out_s = out.display().to_string();
    microvmm(&["--cmdline", "addrspace", "-q", "--json", &out_s], 0);
    assert!(is_link(&out), "out was replaced");
    let text = fs::read_to_string(&target).expect("target");
    common::report_json(text.as_bytes());

    // `--json /dev/stdout > file`, with a link of our own to fd 1.
    let fd1 = d.join("fd1");
    std::os::unix::fs::symlink("/proc/self/fd/1", &fd1).expect("symlink");
    let file = d.join("stdout.txt");
    let status = Command::new(microvmm_bin())
        .args(["--cmdline", "addrspace", "-q", "--json"])
        .arg(&fd1)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&file).expect("create"))
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(0));
    assert!(is_link(&fd1), "the link to /proc/self/fd/1 was replaced");
    let text = fs::read_to_string(&file).expect("stdout file");
    common::report_json(text.as_bytes());

    // The same link when fd 1 is a pipe: streamed, not replaced.
    let r = microvmm(
        &[
            "--cmdline",
            "addrspace",
            "-q",
            "--json",
            &fd1.display().to_string(),
        ],
        0,
    );
    assert!(r.stdout.contains("\"processes\""), "{}", r.stdout);
    assert!(is_link(&fd1));
    let _ = fs::remove_dir_all(&d);
}

/// Issue 16, item 9: a temporary file left by a microvmm that was killed
/// (SIGKILL) is recognised by its name and removed by the next run.
#[test]
fn a_stale_temporary_file_is_removed() {
    let d = scratch("stale");
    let json = d.join("r.json");
    let mut child = Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let stale = d.join(format!(".r.json.microvmm-{dead}.tmp"));
    fs::write(&stale, "half a report").expect("write");
    microvmm(
        &[
            "--cmdline",
            "addrspace",
            "-q",
            "--json",
            &json.display().to_string(),
        ],
        0,
    );
    assert!(!stale.exists(), "the stale temporary file is still there");
    assert!(json.exists());
    let _ = fs::remove_dir_all(&d);
}

/// A reader of the FIFO at `path` that reads everything written to it:
/// registered as a reader before microvmm opens it (microvmm refuses a
/// FIFO nobody reads), so the test cannot race it. `done` unblocks the
/// reader if microvmm never opened the FIFO.
fn fifo_reader(path: &std::path::Path) -> impl FnOnce() -> Vec<u8> {
    use std::os::unix::fs::OpenOptionsExt;
    let early = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("open the FIFO's read end");
    let p = path.to_path_buf();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // Blocks until a writer opens it; EOF when the last one closes.
        if let Ok(mut f) = fs::File::open(&p) {
            drop(early);
            let _ = f.read_to_end(&mut bytes);
        }
        bytes
    });
    let p = path.to_path_buf();
    move || {
        let _ = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p);
        reader.join().expect("FIFO reader")
    }
}

/// Issue 16, item 4: a guest that times out still gets its reports, from
/// the grace after --timeout (deadline.rs): the text report on stdout,
/// the JSON with `--json -`, and whole JSON to a FIFO that is read. The
/// output's deadline used to be the guest's, already passed when the
/// timeout fired: "cannot write the text report: the output stalled past
/// --timeout", 0 bytes of JSON.
#[test]
fn a_timed_out_run_still_writes_its_reports() {
    let spin = ["--cmdline", "spin:60000", "--timeout", "1"];
    let text = microvmm(&spin, 1);
    assert!(!text.stderr.contains("cannot write"), "{}", text.stderr);
    assert!(
        text.stdout.contains("== microvmm report =="),
        "{}",
        text.stdout
    );
    assert!(text.stderr.contains("timeout"), "{}", text.stderr);
    let json = microvmm(&[&spin[..], &["--json", "-", "-q"]].concat(), 1);
    assert!(!json.stderr.contains("cannot write"), "{}", json.stderr);
    assert_eq!(json.json()["complete"], false);

    // A large report (every page of 2^16, 31 MB) to a FIFO.
    let d = scratch("fifo-timeout");
    let fifo = d.join("report.json");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let read = fifo_reader(&fifo);
    let guest = test_guest("amplify");
    let fifo_s = fifo.display().to_string();
    let r = microvmm_run(&[
        &guest,
        "--cmdline",
        "translate",
        "--timeout",
        "2",
        "--pages",
        "-q",
        "--json",
        &fifo_s,
    ]);
    let bytes = read();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("cannot write"), "{}", r.stderr);
    let j = common::report_json(&bytes);
    assert_eq!(j["complete"], false);
    let _ = fs::remove_dir_all(&d);
}
