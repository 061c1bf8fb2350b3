//! Address spaces replaced: busybox's shell in the guest, with a `--files`
//! tree holding busybox as its applets, runs pipelines and command
//! substitution (fork, exec, pipes, dup2, wait), and the process-API
//! examples that exec `wc` print what they print on the host.

mod common;

use common::{Cc, build, microvmm_direct, skip};
use std::path::{Path, PathBuf};
use std::process::Command;

const BUSYBOX: &str = "/bin/busybox";

/// A tree like a tiny root file system: bin/ with busybox and its applets
/// as symlinks, and a few files. None (a skip) without busybox.
fn rootfs(name: &str) -> Option<PathBuf> {
    if !Path::new(BUSYBOX).exists() {
        return skip("busybox-static (/bin/busybox)");
    }
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rootfs-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("bin")).expect("mkdir bin");
    std::fs::copy(BUSYBOX, d.join("bin/busybox")).expect("copy busybox");
    for applet in [
        "sh", "wc", "seq", "cat", "echo", "ls", "true", "false", "head",
    ] {
        std::os::unix::fs::symlink("busybox", d.join("bin").join(applet)).expect("symlink");
    }
    std::fs::write(d.join("f"), "one line\nand another\n").expect("write f");
    Some(d)
}

/// busybox sh -c SCRIPT in the guest: (exit code, stdout).
fn guest_sh(root: &Path, script: &str) -> (i32, String) {
    let run = format!("{BUSYBOX} sh -c {}", shell_quote(script));
    let r = microvmm_direct(&[
        "-q",
        "--files",
        &root.display().to_string(),
        "--run",
        &run,
        "--timeout",
        "60",
    ]);
    (r.code, r.stdout + &r.stderr)
}

/// The same script on the host, with the tree as its working directory.
fn host_sh(root: &Path, script: &str) -> String {
    let out = Command::new(BUSYBOX)
        .args(["sh", "-c", script])
        .current_dir(root)
        .env("PATH", root.join("bin"))
        .output()
        .expect("run busybox on the host");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn pipelines_and_command_substitution_give_the_hosts_output() {
    let Some(root) = rootfs("pipelines") else {
        return;
    };
    for script in [
        "seq 1 100 | wc -l",
        "echo [$(echo hi)]",
        "cat /f | wc -c",
        "echo a; false || echo b; true && echo c",
        "x=$(seq 1 5 | wc -l); echo $((x * 2))",
        "echo hidden > /dev/null; echo shown; cat /dev/null | wc -c",
        "head -c 100000 /dev/zero | wc -c",
    ] {
        // On the host the tree is the working directory, not the root.
        let host = host_sh(&root, &script.replace("/f", "f"));
        let (code, got) = guest_sh(&root, script);
        assert_eq!(code, 0, "{script}: {got}");
        assert_eq!(got, host, "{script}");
    }
}

#[test]
fn the_exit_status_of_a_pipeline_is_its_last_command() {
    let Some(root) = rootfs("status") else {
        return;
    };
    let (code, _) = guest_sh(&root, "true | false");
    assert_eq!(code, 1);
    let (code, out) = guest_sh(&root, "exit 7");
    assert_eq!(code, 7, "{out}");
}

/// `procapi 3` (fork, exec wc) and `procapi 4` (the child's stdout sent
/// to a file before the exec, the file read back): as on the host, with
/// busybox installed as /bin/wc.
#[test]
fn fork_exec_and_redirection_give_the_hosts_output() {
    let (Some(root), Some(p)) = (rootfs("procapi"), build("procapi", Cc::Static)) else {
        return;
    };
    std::fs::write(root.join("procapi.txt"), "a few words\non two lines\n").expect("write");
    for mode in ["3", "4"] {
        let native = Command::new(&p)
            .arg(mode)
            .current_dir(&root)
            .env("PATH", root.join("bin"))
            .output()
            .expect("run natively");
        let _ = std::fs::remove_file(root.join("procapi.output"));
        let run = format!("{} {mode}", p.display());
        let r = microvmm_direct(&["-q", "--files", &root.display().to_string(), "--run", &run]);
        assert_eq!(r.code, 0, "procapi {mode}: {}\n{}", r.stdout, r.stderr);
        let norm = |t: &str| {
            let mut v: Vec<String> = t
                .lines()
                .map(|l| {
                    l.split("pid:")
                        .enumerate()
                        .map(|(i, s)| {
                            if i == 0 {
                                s.to_string()
                            } else {
                                format!(
                                    "pid:N{}",
                                    s.trim_start_matches(|c: char| c.is_ascii_digit())
                                )
                            }
                        })
                        .collect()
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            norm(&r.stdout),
            norm(&String::from_utf8_lossy(&native.stdout)),
            "procapi {mode}"
        );
    }
}

/// Background jobs and traps need signal handlers: ash's `wait` sleeps in
/// sigsuspend until its SIGCHLD handler runs, and `trap` installs one.
/// The tree's dev/null is a plain empty file (background jobs open it).
#[test]
fn background_jobs_wait_and_traps_run_their_handlers() {
    let Some(root) = rootfs("signals") else {
        return;
    };
    std::os::unix::fs::symlink("busybox", root.join("bin/sleep")).expect("symlink");
    std::fs::create_dir_all(root.join("dev")).expect("mkdir dev");
    std::fs::write(root.join("dev/null"), "").expect("write dev/null");
    for (script, want) in [
        ("sleep 0.2 & wait; echo done $?", "done 0\n"),
        ("(sleep 0.1; echo bg) & echo fg; wait", "fg\nbg\n"),
        (
            "trap 'echo got' USR1; kill -USR1 $$; echo after",
            "got\nafter\n",
        ),
    ] {
        let (code, got) = guest_sh(&root, script);
        assert_eq!(code, 0, "{script}: {got}");
        assert_eq!(got, want, "{script}");
    }
}
