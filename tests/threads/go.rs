//! Go's runtime on the guest: a static Go program's goroutines, timers,
//! pipes and preemption behave as on the host, and a nil dereference is
//! Go's panic. Skipped without the go toolchain (except in CI).

use crate::common::{go_build, microvmm_direct, same_as_host};
use crate::guest;

/// A static Go program with goroutines and a WaitGroup (CI installs Go;
/// elsewhere the test skips without it).
#[test]
fn a_static_go_program_runs_its_goroutines() {
    let Some(bin) = go_build("goroutines") else {
        return;
    };
    let (code, out, err) = guest(&bin.display().to_string());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out, "goroutines: 100 done, sum 4950\n");
    // Every call Go's runtime makes is known (Go 1.19 starts with
    // getrlimit(RLIMIT_NOFILE), which was ENOSYS).
    let r = microvmm_direct(&["--run", &bin.display().to_string(), "--timeout", "60"]);
    assert!(
        r.stderr.contains("pid 1 goroutines: exit 0;"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("unknown syscalls"), "{}", r.stderr);
}

/// Go's netpoller (epoll and a pipe) behind timers, a ticker and os.Pipe,
/// and its asynchronous preemption (SIGURG by tgkill to the spinning
/// goroutine's thread): the same output as on the host.
#[test]
fn go_timers_pipes_and_preemption_work_as_on_the_host() {
    let Some(bin) = go_build("goruntime") else {
        return;
    };
    let out = same_as_host(&bin, 0).stdout;
    assert!(
        out.contains("preemption: main ran again while a goroutine spun: true"),
        "{out}"
    );
    assert!(out.contains("pipe: read 5800 bytes, err <nil>"), "{out}");
}

/// A nil dereference recovered as a panic, then one that is not: Go's
/// SIGSEGV handler runs (it needs si_code SEGV_MAPERR and si_addr), the
/// process exits 2 with the panic on stderr, as on the host.
#[test]
fn a_go_nil_dereference_is_a_panic_as_on_the_host() {
    let Some(bin) = go_build("gopanic") else {
        return;
    };
    let r = same_as_host(&bin, 2);
    let (out, err) = (r.stdout, r.stderr);
    assert!(
        out.contains("recovered: runtime error: invalid memory address or nil pointer dereference"),
        "{out}"
    );
    assert!(
        err.contains("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc="),
        "{err}"
    );
}
