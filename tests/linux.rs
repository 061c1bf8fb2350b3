//! Unmodified static Linux executables (`--run`) in real VMs: C programs
//! from tests/programs built at test time with `gcc -static`,
//! `gcc -static-pie` and `musl-gcc -static`, and Debian's busybox-static.
//! What they print must be what they print natively on this host; their
//! lines reach stdout as `[pid name] line`.
//!
//! A missing compiler or busybox is a skip, except under CI=true.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};

/// Run `argv` natively on the host with stdin at EOF: (stdout, exit code).
fn native(argv: &[String]) -> (String, i32) {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?} natively: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The argv microvmm gives a `--run` value, for the native run.
fn argv_of(spec: &str) -> Vec<String> {
    microvmm::Program::parse(spec)
        .unwrap_or_else(|e| panic!("{e}"))
        .argv
}

/// Text as the lines `lines_of` would return for it.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// The JSON report's process named `name` (exactly one).
fn process<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let ps = procs(j, name);
    assert_eq!(ps.len(), 1, "one process named {name}: {}", j["processes"]);
    ps[0]
}

#[test]
fn ostep_address_space_in_all_three_builds() {
    for cc in Cc::STATIC {
        let Some(prog) = build("ostep", cc) else {
            continue;
        };
        let r = microvmm(&["--run", path_str(&prog), "-q"], 0);
        let out = lines_of(&r.stdout, "ostep");
        let what = ["code  : ", "heap  : ", "stack : "];
        assert_eq!(out.len(), 3, "{}: three lines:\n{}", cc.name(), r.stdout);
        let mut at = Vec::new();
        for (line, what) in out.iter().zip(what) {
            let addr = line
                .strip_prefix(&format!("location of {what}0x"))
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| panic!("{}: not 'location of {what}0x...': {line}", cc.name()));
            at.push(addr);
        }
        // The OSTEP picture: code low, heap above it, stack at the top.
        assert!(
            at[0] < at[1] && at[1] < at[2] && at[2] < 0x7fff_ffff_f000,
            "{}: code {:#x} < heap {:#x} < stack {:#x}",
            cc.name(),
            at[0],
            at[1],
            at[2]
        );
        // The prefix is "[pid ostep] ".
        let first = r
            .stdout
            .lines()
            .find(|l| l.contains("location of code"))
            .expect("code line");
        let (pid, rest) = first
            .strip_prefix('[')
            .and_then(|l| l.split_once(' '))
            .expect("[pid ...");
        assert!(pid.parse::<u32>().is_ok(), "{first}");
        assert!(rest.starts_with("ostep] location of code"), "{first}");
    }
}

#[test]
fn workload_output_is_byte_identical_to_the_host() {
    for cc in Cc::STATIC {
        let Some(prog) = build("workload", cc) else {
            continue;
        };
        let (want, code) = native(&[path_str(&prog).to_string()]);
        assert_eq!(code, 0, "{} natively: {want}", cc.name());
        let r = microvmm(&["--run", path_str(&prog), "-q"], 0);
        let got = lines_of(&r.stdout, "workload");
        assert_eq!(got.join("\n") + "\n", want, "{}:\n{}", cc.name(), r.stdout);
    }
}

#[test]
fn busybox_applets_give_the_hosts_output() {
    let busybox = "/bin/busybox";
    if !Path::new(busybox).exists() {
        skip::<()>("/bin/busybox (Debian's busybox-static)");
        return;
    }
    for args in [
        "echo hi",
        "seq 1 5",
        r"printf '%d\n' 42",
        "factor 1234567",
        "expr 6 '*' 7",
        "basename /a/b/c.txt .txt",
        "uname -m",
        "true",
        "false",
        "sleep 0",
        "sha256sum",
    ] {
        let spec = format!("{busybox} {args}");
        let (want, code) = native(&argv_of(&spec));
        // A process exiting non-zero makes the run fail (exit 1).
        let r = microvmm(&["--run", &spec, "-q"], i32::from(code != 0));
        assert_eq!(
            lines_of(&r.stdout, "busybox"),
            lines(&want),
            "{spec}:\n{}",
            r.stdout
        );
    }
    // `false` exits 1, and the report says so.
    let r = microvmm(&["--run", "/bin/busybox false", "--json", "-", "-q"], 1);
    let j = r.json();
    let p = process(&j, "busybox");
    assert_eq!(p["exit"]["kind"], "exit", "{}", p["exit"]);
    assert_eq!(p["exit"]["status"], 1, "{}", p["exit"]);
}

#[test]
fn a_null_write_kills_only_the_writer() {
    let (Some(null), Some(work)) = (build("nullwrite", Cc::Static), build("workload", Cc::Musl))
    else {
        return;
    };
    let (want, _) = native(&[path_str(&work).to_string()]);
    let r = microvmm_run(&[
        "--run",
        path_str(&null),
        "--run",
        path_str(&work),
        "--json",
        "-",
        "-q",
    ]);
    // The first program, killed by a fault, is SIGSEGV to a shell: 139;
    // the others finish, and microvmm says which one was killed.
    assert_eq!(r.code, 139, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("microvmm: pid 1 (nullwrite) was killed: #PF"),
        "{}",
        r.stderr
    );
    // With --json - the console goes to stderr.
    assert_eq!(
        lines_of(&r.stderr, "nullwrite"),
        ["nullwrite: writing to address 0"],
        "{}",
        r.stderr
    );
    assert_eq!(lines_of(&r.stderr, "workload").join("\n") + "\n", want);
    let j = r.json();
    let p = process(&j, "nullwrite");
    assert_eq!(p["exit"]["kind"], "fault", "{}", p["exit"]);
    assert_eq!(p["exit"]["vector"], 14, "a page fault: {}", p["exit"]);
    assert_eq!(hex(&p["exit"]["address"]), 0, "{}", p["exit"]);
    assert_eq!(p["exit"]["signal_name"], "SIGSEGV", "{}", p["exit"]);
    assert_eq!(p["exit"]["shell_status"], 139, "{}", p["exit"]);
    let p = process(&j, "workload");
    assert_eq!(p["exit"]["kind"], "exit", "{}", p["exit"]);
    assert_eq!(p["exit"]["status"], 0, "{}", p["exit"]);
}

#[test]
fn argv_arrives_intact() {
    for cc in Cc::STATIC {
        let Some(prog) = build("argv", cc) else {
            continue;
        };
        let spec = format!(
            r#"{} "a b" 'c"d' e\ f '' "x'y"  -- 'tab	here' ünï"#,
            path_str(&prog)
        );
        let argv = argv_of(&spec);
        assert_eq!(argv.len(), 9);
        let (want, code) = native(&argv);
        assert_eq!(code, 0);
        assert!(want.starts_with("argc 9\n"), "{want}");
        let r = microvmm(&["--run", &spec, "-q"], 0);
        assert_eq!(
            lines_of(&r.stdout, "argv"),
            lines(&want),
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
    }
}

#[test]
fn unknown_system_calls_return_enosys() {
    for cc in Cc::STATIC {
        let Some(prog) = build("enosys", cc) else {
            continue;
        };
        let r = microvmm(&["--run", path_str(&prog), "-q"], 0);
        assert_eq!(
            lines_of(&r.stdout, "enosys"),
            ["syscall 999 returns -38", "syscall 5000 returns -38"],
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
    }
}

#[test]
fn run_alone_runs_no_builtin_and_mixes_with_cmdline() {
    let Some(prog) = build("argv", Cc::Static) else {
        return;
    };
    let spec = format!("{} one", path_str(&prog));
    let r = microvmm(&["--run", &spec, "-q"], 0);
    assert_eq!(lines_of(&r.stdout, "argv").len(), 3, "{}", r.stdout);
    assert!(
        output_of(&r.stdout, "addrspace").is_empty(),
        "no demo:\n{}",
        r.stdout
    );
    let r = microvmm(&["--cmdline", "addrspace", "--run", &spec, "-q"], 0);
    assert_eq!(lines_of(&r.stdout, "argv").len(), 3, "{}", r.stdout);
    assert!(
        !output_of(&r.stdout, "addrspace").is_empty(),
        "{}",
        r.stdout
    );
}

#[test]
fn rust_crt_static_gives_the_hosts_output() {
    let Some(prog) = build("hello", Cc::Rust) else {
        return;
    };
    let spec = format!("{} one 'two words'", path_str(&prog));
    let (want, code) = native(&argv_of(&spec));
    assert_eq!(code, 0, "{want}");
    let r = microvmm(&["--run", &spec, "-q"], 0);
    assert_eq!(lines_of(&r.stdout, "hello"), lines(&want), "{}", r.stdout);
}

#[test]
fn abort_ends_the_process_as_killed_by_sigabrt() {
    for cc in Cc::STATIC {
        let Some(prog) = build("abort", cc) else {
            continue;
        };
        // Killed by SIGABRT: microvmm exits 128 + 6, as a shell says.
        let r = microvmm(&["--run", path_str(&prog), "-q", "--json", "-"], 134);
        let j = r.json();
        let p = process(&j, "abort");
        assert_eq!(
            (
                &p["exit"]["kind"],
                &p["exit"]["signal"],
                &p["exit"]["signal_name"]
            ),
            (&"signal".into(), &6.into(), &"SIGABRT".into()),
            "{}",
            p["exit"]
        );
        let r = microvmm(&["--run", path_str(&prog), "-q"], 134);
        assert_eq!(
            lines_of(&r.stdout, "abort"),
            ["about to abort"],
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
        assert!(
            r.stdout.contains("killed by signal 6 (SIGABRT)"),
            "{}:\n{}",
            cc.name(),
            r.stdout
        );
    }
}
