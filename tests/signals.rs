//! Signal handlers delivered in the guest, by a real static program
//! (tests/programs/handlers.c, glibc and musl): pause woken by another
//! process's kill, SIGCHLD handlers, masks, raise, sigsuspend's EINTR,
//! SA_RESETHAND, the interrupted context restored, abort's SIGABRT, SA_ONSTACK, and
//! hostile handler addresses and sigreturn frames (SIGSEGV, not a crash).

mod common;

use common::{Cc, build, microvmm_direct, same_as_host};

const CHECKS: [&str; 10] = [
    "pause-wakeup ok",
    "sigchld-count ok",
    "mask-then-unblock ok",
    "raise-handler ok",
    "sigsuspend-eintr ok",
    "resethand ok",
    "context-restored ok",
    "abort-sigabrt ok",
    "altstack ok",
    "hostile-segv ok",
];

fn handlers_run(cc: Cc) {
    let Some(p) = build("handlers", cc) else {
        return;
    };
    let r = microvmm_direct(&["-q", "--run", &p.display().to_string(), "--timeout", "60"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines, CHECKS, "stderr:\n{}", r.stderr);
}

#[test]
fn handlers_run_with_glibc() {
    handlers_run(Cc::Static);
}

#[test]
fn handlers_run_with_musl() {
    handlers_run(Cc::Musl);
}

/// Faults the program catches (tests/programs/faults.c): SIGSEGV with
/// SEGV_MAPERR and SEGV_ACCERR, SIGFPE, SIGILL, each with Linux's si_code
/// and si_addr, the handler returning past the instruction; the same
/// output as on the host; handlers left by siglongjmp run again for later
/// signals. With SIGSEGV blocked the fault still kills.
#[test]
fn a_fault_runs_the_programs_handler_as_on_linux() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("faults", cc) else {
            continue;
        };
        let r = same_as_host(&p, 0);
        assert_eq!(
            r.stdout.matches("si_addr right: yes").count(),
            5,
            "{}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("siglongjmp: the handlers ran 4 times (want 4)"),
            "{}",
            r.stdout
        );
        let run = format!("{} blocked", p.display());
        let r = microvmm_direct(&["-q", "--run", &run, "--timeout", "60"]);
        assert_eq!(
            r.code, 139,
            "{cc:?}\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stderr.contains("not-present page at 0x10"),
            "{}",
            r.stderr
        );
    }
}
