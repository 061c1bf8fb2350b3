//! Issue 18 item 3: the RAM file system, through real static programs in
//! real VMs. tests/programs/ramfs.c checks one thing a line (create,
//! write, read back, lseek, holes, truncate, rename, readdir, unlink of
//! an open file, mkdir/rmdir, symlink/readlink/ELOOP, chdir/getcwd,
//! openat from a dirfd) in all three static builds; busybox applets read
//! and change files of the root. Without --files the root holds the
//! --run programs as /NAME, and /bin and /tmp.
//!
//! A missing compiler or busybox is a skip, except under CI=true.

mod common;
use common::*;

use std::path::Path;

const BUSYBOX: &str = "/bin/busybox";

/// The lines of the one process named `name`, and the run.
fn run_lines(args: &[&str], want: i32, name: &str) -> (Run, Vec<String>) {
    let r = microvmm(args, want);
    let out = lines_of(&r.stdout, name);
    (r, out)
}

#[test]
fn a_program_writes_files_and_reads_them_back_in_all_three_builds() {
    for cc in Cc::STATIC {
        let Some(prog) = build("ramfs", cc) else {
            continue;
        };
        let (r, out) = run_lines(&["--run", path_str(&prog), "-q"], 0, "ramfs");
        let failed: Vec<&String> = out.iter().filter(|l| !l.starts_with("ok ")).collect();
        assert_eq!(
            failed,
            vec!["ramfs: all ok"],
            "{}: every check passes:\n{}\n{}",
            cc.name(),
            r.stdout,
            r.stderr
        );
        assert!(
            out.len() > 60,
            "{}: every check ran:\n{}",
            cc.name(),
            r.stdout
        );
        // Files the program left (/tmp/b.txt...) and the ones it removed
        // while open: every frame back at the end all the same.
        assert!(
            r.stdout.contains("every frame returned"),
            "{}: {}",
            cc.name(),
            r.stdout
        );
    }
}

/// A failing check fails the run: the program's exit status is the run's.
/// Named `tmp`, the program is the root's /tmp itself (a file), so the
/// checks that need the /tmp directory fail.
#[test]
fn a_failing_check_fails_the_run() {
    let Some(prog) = build("ramfs", Cc::Musl) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("microvmm-ramfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let renamed = dir.join("tmp");
    std::fs::copy(&prog, &renamed).expect("copy the program");
    let (r, out) = run_lines(&["--run", path_str(&renamed), "-q"], 1, "tmp");
    assert!(out.iter().any(|l| l == "ok self_in_root"), "{out:?}");
    assert!(
        out.iter().any(|l| l.starts_with("FAIL tmp_is_dir")),
        "{out:?}"
    );
    assert!(out.iter().any(|l| l.starts_with("FAIL create")), "{out:?}");
    assert_eq!(out.last().map(String::as_str), Some("ramfs: FAILED"));
    assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
}

/// What `busybox ARGS` prints in the guest (exit 0 wanted).
fn busybox(args: &str) -> Vec<String> {
    let spec = format!("{BUSYBOX} {args}");
    run_lines(&["--run", &spec, "-q"], 0, "busybox").1
}

#[test]
fn busybox_reads_the_root() {
    if !Path::new(BUSYBOX).exists() {
        skip::<()>("/bin/busybox");
        return;
    }
    // Without --files, the root holds /busybox (the --run program).
    assert_eq!(busybox("ls /"), vec!["bin", "busybox", "dev", "tmp"]);
    assert_eq!(busybox("ls /dev"), vec!["null", "zero"]);
    assert_eq!(
        busybox("find /"),
        vec![
            "/",
            "/busybox",
            "/bin",
            "/tmp",
            "/dev",
            "/dev/null",
            "/dev/zero"
        ],
        "find walks the root with getdents64 and lstat"
    );
    let size = std::fs::metadata(BUSYBOX).expect("busybox").len();
    assert_eq!(busybox("wc -c /busybox"), vec![format!("{size} /busybox")]);
    // Every byte of the 2 MB copy, as the host has it.
    let host = std::process::Command::new("md5sum")
        .arg(BUSYBOX)
        .output()
        .expect("md5sum");
    let sum = String::from_utf8_lossy(&host.stdout)
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_string();
    assert_eq!(busybox("md5sum /busybox"), vec![format!("{sum}  /busybox")]);
    assert_eq!(busybox("stat -c %F:%a /tmp"), vec!["directory:1777"]);
    assert_eq!(busybox("readlink -f /tmp/../bin/."), vec!["/bin"]);
}

/// Applets that change the tree, one per VM (no fork for a shell yet).
#[test]
fn busybox_changes_the_root() {
    if !Path::new(BUSYBOX).exists() {
        skip::<()>("/bin/busybox");
        return;
    }
    assert_eq!(busybox("mkdir -p /tmp/a/b/c"), Vec::<String>::new());
    assert_eq!(busybox("cp /busybox /tmp/copy"), Vec::<String>::new());
    assert_eq!(busybox("mv /busybox /bin/bb"), Vec::<String>::new());
    assert_eq!(busybox("rm -r /tmp"), Vec::<String>::new());
    assert_eq!(busybox("ln -s /busybox /tmp/l"), Vec::<String>::new());
    let r = microvmm(&["--run", &format!("{BUSYBOX} rmdir /nope"), "-q"], 1);
    assert_eq!(
        lines_of(&r.stdout, "busybox"),
        vec!["rmdir: '/nope': No such file or directory"],
        "{}",
        r.stdout
    );
}

/// The bounds a hostile program meets: ENOSPC with memory left for
/// processes, the node table, EFAULT, ENAMETOOLONG, ELOOP, a removed
/// working directory; and every frame back at the end though it leaves
/// its files behind.
#[test]
fn the_bounds_hold_against_a_hostile_program() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(prog) = build("ramfs_limits", cc) else {
            continue;
        };
        let (r, out) = run_lines(&["--run", path_str(&prog), "-q"], 0, "ramfs_limits");
        let failed: Vec<&String> = out
            .iter()
            .filter(|l| {
                !l.starts_with("ok ") && !l.starts_with("filled ") && !l.starts_with("made ")
            })
            .collect();
        assert_eq!(
            failed,
            vec!["ramfs_limits: all ok"],
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
        assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
    }
}

/// A host directory for --files: busybox as /bin/busybox with a few
/// applet links, a file, a symlink, a private directory.
fn tree() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("microvmm-ramfs-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).expect("bin");
    std::fs::create_dir_all(dir.join("etc/private")).expect("etc");
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).expect("copy busybox");
    for applet in ["cat", "wc", "ls", "sh", "stat"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).expect("applet link");
    }
    std::fs::write(dir.join("f"), "one\ntwo\nthree\n").expect("f");
    std::os::unix::fs::symlink("../f", dir.join("etc/link")).expect("link");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("etc/private"),
        std::fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    dir
}

/// --files DIR: the guest's root is a copy of DIR, read-write, with /tmp
/// made; programs of the tree run by their guest paths.
#[test]
fn files_dir_becomes_the_root() {
    if !Path::new(BUSYBOX).exists() {
        skip::<()>("/bin/busybox");
        return;
    }
    let dir = tree();
    let d = path_str(&dir);
    // One applet a run, or shell builtins only: no fork and exec needed.
    let run = |args: &str| {
        let spec = format!("{BUSYBOX} {args}");
        run_lines(&["--files", d, "--run", &spec, "-q"], 0, "busybox").1
    };
    assert_eq!(run("cat /etc/link"), vec!["one", "two", "three"]);
    assert_eq!(run("ls /"), vec!["bin", "dev", "etc", "f", "tmp"]);
    assert_eq!(run("ls /etc"), vec!["link", "private"]);
    assert_eq!(
        run("stat -c %a:%F /etc/private /bin/busybox /tmp /etc/link"),
        vec![
            "700:directory",
            "755:regular file",
            "1777:directory",
            "777:symbolic link"
        ]
    );
    assert_eq!(
        run(
            "sh -c 'echo new >> /f; cd /etc/private && echo x > y; pwd; \
             while read l; do echo $l; done < /etc/link; echo *'"
        ),
        vec!["/etc/private", "one", "two", "three", "new", "y"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18 item 5: mmap of files. MAP_SHARED stores reach read() and
/// other mappers, MAP_PRIVATE ones stay private, mappings outlive the
/// name; every frame back at the end.
#[test]
fn file_mappings_share_the_files_frames() {
    for cc in Cc::STATIC {
        let Some(prog) = build("filemap", cc) else {
            continue;
        };
        let (r, out) = run_lines(&["--run", path_str(&prog), "-q"], 0, "filemap");
        let failed: Vec<&String> = out.iter().filter(|l| !l.starts_with("ok ")).collect();
        assert_eq!(
            failed,
            vec!["filemap: all ok"],
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
        assert!(r.stdout.contains("every frame returned"), "{}", r.stdout);
    }
}

/// Issue 18 item 6: file pages marked with their path. mapname.c leaves
/// four named files mapped at exit (one split in three by mprotect, one
/// path over 120 bytes) and a fifth unnamed; one it unmapped gave its
/// slot back. A forked child has the same names. JSON `regions[].file`,
/// and the path at the end of the text report's region line.
#[test]
fn file_mappings_are_named_in_the_report() {
    let full = format!("/tmp/deep/{}-end.txt", "x".repeat(116));
    let cut = format!("...{}", &full[full.len() - 117..]);
    for cc in Cc::STATIC {
        let Some(prog) = build("mapname", cc) else {
            continue;
        };
        let r = microvmm(&["--run", path_str(&prog), "--json", "-"], 0);
        assert_eq!(
            lines_of(&r.stderr, "mapname"),
            vec!["mapname: 6 files mapped, 5 left mapped"],
            "{}:\n{}",
            cc.name(),
            r.stderr
        );
        assert!(r.stderr.contains("every frame returned"), "{}", r.stderr);
        let j = r.json();
        let ps = procs(&j, "mapname");
        assert_eq!(ps.len(), 2, "{}: parent and child", cc.name());
        for p in ps {
            let regions = p["regions"].as_array().expect("regions[]");
            let mut named: Vec<(String, Option<String>)> = Vec::new();
            for rg in regions {
                let file = rg["file"].as_str().map(String::from);
                if rg["kind"] == "file" {
                    named.push((rg["prot"].as_str().expect("prot").into(), file));
                } else {
                    assert!(rg["file"].is_null(), "{}: {rg}", cc.name());
                }
            }
            // The pieces of /tmp/mapped.txt, in address order: its middle
            // page read-only.
            let pieces: Vec<&str> = named
                .iter()
                .filter(|(_, f)| f.as_deref() == Some("/tmp/mapped.txt"))
                .map(|(prot, _)| prot.as_str())
                .collect();
            assert_eq!(pieces, ["rw-", "r--", "rw-"], "{}: {p}", cc.name());
            let mut files: Vec<Option<String>> = named.into_iter().map(|(_, f)| f).collect();
            files.sort();
            let mut want = vec![
                None,
                Some(cut.clone()),
                Some("/tmp/fourth.txt".into()),
                Some("/tmp/mapped.txt".into()),
                Some("/tmp/mapped.txt".into()),
                Some("/tmp/mapped.txt".into()),
                Some("/tmp/shared.txt".into()),
            ];
            want.sort();
            assert_eq!(files, want, "{}: pid {}", cc.name(), p["pid"]);
        }
        // The text report (stderr with --json -): the path ends the line.
        let line = |path: &str| {
            r.stderr.lines().any(|l| {
                l.starts_with("  file     0x")
                    && l.contains(" rw-      1 pages mapped, 0 faults")
                    && l.ends_with(&format!("  {path}"))
            })
        };
        assert!(line("/tmp/shared.txt"), "{}:\n{}", cc.name(), r.stderr);
        assert!(line("/tmp/mapped.txt"), "{}:\n{}", cc.name(), r.stderr);
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with("  file     0x") && l.ends_with(&format!("  {cut}"))),
            "{}:\n{}",
            cc.name(),
            r.stderr
        );
        assert!(!r.stderr.contains("fifth.txt") && !r.stderr.contains("gone.txt"));
    }
}
