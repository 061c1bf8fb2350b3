//! Signal handlers delivered in the guest, by a real static program
//! (tests/programs/handlers.c, glibc and musl): pause woken by another
//! process's kill, SIGCHLD handlers, masks, raise, sigsuspend's EINTR,
//! SA_RESETHAND, the interrupted context restored, abort's SIGABRT, SA_ONSTACK, and
//! hostile handler addresses and sigreturn frames (SIGSEGV, not a crash).

mod common;

use common::{Cc, build, microvmm_direct};

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
