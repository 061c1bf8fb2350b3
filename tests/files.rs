//! `--files DIR`, the input side: a directory the guest cannot have (a
//! FIFO in it, a tree over its bound, not a directory) is refused on the
//! host with one line naming the path (exit 2) before KVM is opened; a
//! good one is packed into guest RAM, the JSON says so, and programs run
//! as before.

mod common;
use common::*;

use std::fs;
use std::path::PathBuf;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("microvmm-files-it-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch dir");
    d
}

#[test]
fn help_explains_files_and_its_bound() {
    let r = microvmm(&["--help"], 0);
    for words in [
        "--files <DIR>",
        "a quarter of --mem",
        "4096 entries",
        "never followed",
    ] {
        assert!(
            r.stdout.contains(words),
            "--help lacks {words}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn a_fifo_is_refused_naming_its_path() {
    let d = scratch("fifo");
    fs::create_dir(d.join("sub")).expect("sub");
    fs::write(d.join("sub/a"), b"fine").expect("file");
    let fifo = d.join("sub/fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(ok.success(), "mkfifo");
    let dir = d.display().to_string();
    let line = format!(
        "microvmm: --files: {}: a FIFO; only regular files, directories and symlinks can be \
         copied into the guest",
        fifo.display()
    );
    let r = microvmm(&["--files", &dir], 2);
    assert_eq!(r.stderr.trim_end(), line, "one line, naming the path");
    assert_eq!(r.stdout, "", "refused before boot: no banner");
    // With --run (a good program) microvmm's own failures take 125, as
    // docker run's do.
    if let Some(prog) = build("oneline", Cc::Static) {
        refused_with(
            &["--files", &dir, "--run", &prog.display().to_string()],
            microvmm::exit_code::FAILED,
            &line,
        );
    }
    fs::remove_dir_all(&d).expect("clean up");
}

#[test]
fn a_tree_over_a_quarter_of_mem_is_refused() {
    let d = scratch("bound");
    // Sparse: 4 MiB of nothing, over a quarter of 16 MiB with its record.
    let big = d.join("big");
    fs::File::create(&big)
        .and_then(|f| f.set_len(4 << 20))
        .expect("sparse file");
    refused_with(
        &["--mem", "16M", "--files", &d.display().to_string()],
        2,
        &format!(
            "--files: {}: the tree is larger than 4 MiB with this entry (its bound: a quarter \
             of --mem 16 MiB)",
            big.display()
        ),
    );
    fs::remove_dir_all(&d).expect("clean up");
}

#[test]
fn files_must_name_a_directory() {
    refused_with(
        &["--files", "/etc/passwd"],
        2,
        "--files: /etc/passwd: not a directory (it is a regular file)",
    );
    refused_with(
        &["--files", "/no/such/dir"],
        2,
        "--files: /no/such/dir: cannot open: No such file or directory",
    );
}

#[test]
fn a_good_tree_boots_and_programs_run_as_before() {
    let Some(prog) = build("oneline", Cc::Static) else {
        return;
    };
    let d = scratch("good");
    fs::create_dir_all(d.join("usr/bin")).expect("dirs");
    fs::create_dir_all(d.join("etc")).expect("dirs");
    fs::copy(&prog, d.join("usr/bin/oneline")).expect("copy the program in");
    fs::write(d.join("etc/motd"), b"hello from the host\n").expect("file");
    std::os::unix::fs::symlink("usr/bin", d.join("bin")).expect("symlink");
    let dir = d.display().to_string();
    let prog = prog.display().to_string();
    let r = microvmm_direct(&["-q", "--files", &dir, "--run", &prog, "--json", "-"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("oneline: here"), "{}", r.stderr);
    let j = r.json();
    let files = &j["files"];
    assert_eq!(files["dir"], dir.as_str());
    // bin, etc, etc/motd, usr, usr/bin, usr/bin/oneline.
    assert_eq!(files["entries"], 6);
    let bytes = files["bytes"].as_u64().expect("bytes");
    let size = fs::metadata(d.join("usr/bin/oneline")).expect("stat").len();
    assert!(bytes > size && bytes < size + 4096, "{bytes} vs {size}");
    assert_eq!(hex(&files["gpa"]) % 4096, 0, "page aligned");
    // Without --files the report says null.
    let r = microvmm_direct(&["-q", "--run", &prog, "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["files"].is_null());
    fs::remove_dir_all(&d).expect("clean up");
}
