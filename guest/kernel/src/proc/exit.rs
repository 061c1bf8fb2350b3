//! How processes end and who hears of it: exit (reported from the
//! process's own context, then torn down), zombies kept until the parent
//! collects their status with wait4/waitid, orphans adopted by the kernel
//! (which collects them at once), signals from other processes and
//! SIGCHLD to a parent that catches it, and the end of the run.

use abi::msg::PROC_EXITING;
use abi::signals::{self, SIGCHLD};
use abi::syscall::{ECHILD, EFAULT, EINVAL, ESRCH};

use super::report::{report, summary};
use super::sched::{FORCE_GS, interrupt, run_next};
use super::{Exit, NPROC, Proc, SigInfo, State, Table, table};
use crate::arch::{self, fsbase};
use crate::entry::{self, TrapFrame};
use crate::mm::{frame, kspace};
use crate::syscall::signal::{self, Action};
use crate::{kprintln, shutdown};

/// sigaction's flag: the children leave no zombies.
const SA_NOCLDWAIT: u64 = 1;

/// The wait channel of a parent waiting for its children.
pub fn wait_chan(pid: u32) -> u64 {
    (1 << 32) | u64::from(pid)
}

/// The status wait4 reports for an ending, as Linux encodes it: the exit
/// code in bits 8-15, or the killing signal in bits 0-6.
fn wstatus(how: Exit) -> i32 {
    match how {
        Exit::Status(s) => ((s & 0xff) as i32) << 8,
        Exit::Signal(sig) => (sig & 0x7f) as i32,
        Exit::Fault { vector, .. } => (signals::for_exception(vector) & 0x7f) as i32,
        Exit::Exec => 0,
    }
}

/// End the current process: report it from its own context (its CR3 is
/// live, so the VMM can cross-check with KVM_TRANSLATE), tear it down,
/// leave its status for its parent, and continue with the next process in
/// `f` — or shut down when none is left.
pub fn exit_current(f: &mut TrapFrame, how: Exit) {
    // The other threads of its group end with it: first off every CPU.
    super::cpus::gather();
    super::thread::end_group();
    let t = table();
    let cur = t.cur();
    let p = &mut t.procs[cur];
    // A program the kernel started says whether the run failed; a forked
    // child's status is its parent's business.
    if p.ppid == 0
        && !p.forked
        && (matches!(how, Exit::Status(s) if s != 0) || matches!(how, Exit::Signal(_)))
    {
        t.failed += 1;
    }
    p.fs_base = fsbase::read();
    report(p, PROC_EXITING, Some(how));
    summary(p, how);
    arch::set_cr3(kspace::root().get());
    entry::set_kernel_fx();
    if let Some(mut a) = p.aspace.take() {
        a.destroy();
    }
    p.fds.close_all();
    p.killed = None;
    p.wstatus = wstatus(how);
    let (pid, ppid) = (p.tgid, p.ppid);
    adopt_children(t, pid);
    let parent_live = ppid != 0 && t.procs.iter().any(|q| q.tgid == ppid && is_live(q));
    // A parent that ignores SIGCHLD (SIG_IGN, or SA_NOCLDWAIT) leaves no
    // zombies, as on Linux: its wait then finds none (ECHILD).
    let reaps_itself = t
        .procs
        .iter()
        .find(|q| q.tgid == ppid && is_live(q))
        .is_some_and(|q| {
            let a = q.sigactions[(SIGCHLD - 1) as usize];
            a[0] == 1 || a[1] & SA_NOCLDWAIT != 0
        });
    let parent_waits = parent_live && !reaps_itself;
    if parent_live && reaps_itself {
        super::sched::wakeup(wait_chan(ppid));
    }
    t.procs[cur].state = if parent_waits {
        State::Zombie
    } else {
        State::Unused
    };
    if parent_waits {
        super::sched::wakeup(wait_chan(ppid));
        sigchld(t, ppid, pid, t.procs[cur].wstatus);
    }
    // The exiting process may have left any GS base live.
    run_next(f, cur, FORCE_GS);
}

fn is_live(p: &Proc) -> bool {
    matches!(p.state, State::Runnable | State::Blocked(_))
}

/// `pid` is gone: the kernel adopts its children, and collects at once
/// those that already exited.
fn adopt_children(t: &mut Table, pid: u32) {
    for q in t.procs.iter_mut() {
        if q.ppid == pid && q.state != State::Unused {
            q.ppid = 0;
            if q.state == State::Zombie {
                q.state = State::Unused;
            }
        }
    }
}

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
/// __WNOTHREAD, __WALL, __WCLONE: accepted (threads are never waited for).
const WTHREADS: u64 = 0xe000_0000;

/// What a wait call asks for: which children, and whether to wait.
pub enum Which {
    Any,
    Pid(u32),
}

/// What a wait call finds now.
pub enum Found {
    /// A child that exited: (pid, wait status).
    Zombie(u32, i32),
    /// Children, none exited yet.
    Running,
    NoChild,
}

/// Look for a child of the current process that matches `which`; collect
/// it (free its slot) unless `keep`.
pub fn find_child(which: Which, keep: bool) -> Found {
    let t = table();
    let me = t.procs[t.cur()].tgid;
    let mut any = false;
    for q in t.procs.iter_mut() {
        let ours = q.ppid == me
            && q.state != State::Unused
            && match which {
                Which::Any => true,
                Which::Pid(p) => q.tgid == p,
            };
        if !ours {
            continue;
        }
        any = true;
        if q.state == State::Zombie {
            let found = Found::Zombie(q.tgid, q.wstatus);
            if !keep {
                q.state = State::Unused;
            }
            return found;
        }
    }
    if any { Found::Running } else { Found::NoChild }
}

/// Check wait4's options; Err(-EINVAL) on unknown bits.
pub fn wait4_options(options: u64) -> Result<bool, i64> {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WTHREADS) != 0 {
        return Err(EINVAL);
    }
    Ok(options & WNOHANG != 0)
}

/// Check waitid's options: (nohang, nowait); WEXITED is required (no
/// process ever stops, so WSTOPPED alone would wait forever: EINVAL too).
pub fn waitid_options(options: u64) -> Result<(bool, bool), i64> {
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WTHREADS) != 0
        || options & WEXITED == 0
    {
        return Err(EINVAL);
    }
    Ok((options & WNOHANG != 0, options & WNOWAIT != 0))
}

/// The siginfo_t waitid fills for a child (si_signo, si_code, si_pid,
/// si_status), 128 bytes.
pub fn siginfo(pid: u32, wstatus: i32) -> [u32; 32] {
    let mut si = [0u32; 32];
    si[0] = SIGCHLD;
    let (code, status) = if wstatus & 0x7f == 0 {
        (1, (wstatus >> 8) & 0xff) // CLD_EXITED
    } else {
        (2, wstatus & 0x7f) // CLD_KILLED
    };
    si[2] = code;
    si[4] = pid;
    si[6] = status as u32;
    si
}

/// Tell parent `ppid` that child `pid` ended with `wstatus`: SIGCHLD if
/// it catches it (by default SIGCHLD is ignored), waking it.
fn sigchld(t: &mut Table, ppid: u32, pid: u32, wstatus: i32) {
    // The parent process: any of its live threads (its first may be gone).
    let Some(i) = (0..NPROC).find(|&i| t.procs[i].tgid == ppid && is_live(&t.procs[i])) else {
        return;
    };
    let si = siginfo(pid, wstatus);
    let info = SigInfo {
        code: si[2] as i32,
        pid,
        status: si[6] as i32,
        addr: None,
    };
    if signal::post(&mut t.procs[i], SIGCHLD.into(), info) {
        interrupt(t, i);
    }
}

/// kill(2) of another process (pid > 0), or every other process (-1):
/// a signal whose default is to terminate, not blocked, ends the target
/// the next time it would run (a waiting one is woken for it); a caught
/// or blocked one is made pending, and a waiting target woken to take it.
pub fn kill_other(pid: i32, sig: u32) -> i64 {
    let t = table();
    let me = t.procs[t.cur()].tgid;
    let mut hit = false;
    // A caught signal goes to one thread of each process, as on Linux.
    let mut posted = [0u32; NPROC];
    let mut nposted = 0;
    for i in 0..NPROC {
        let q = &t.procs[i];
        let target = if pid == -1 {
            q.tgid != me && q.tgid != 0
        } else {
            q.tgid == pid as u32
        };
        if !target || q.state == State::Unused {
            continue;
        }
        hit = true;
        if q.state == State::Zombie {
            continue;
        }
        let s = u64::from(sig);
        if sig == 0 || signal::action(q, s) == Action::Ignore {
            continue;
        }
        if signal::action(q, s) == Action::Catch || q.sigmask & (1 << (s - 1)) != 0 {
            let tgid = q.tgid;
            if posted[..nposted].contains(&tgid) {
                continue;
            }
            posted[nposted] = tgid;
            nposted += 1;
            let info = SigInfo {
                code: 0,
                pid: me,
                status: 0,
                addr: None,
            };
            signal::post(&mut t.procs[i], s, info);
            interrupt(t, i);
            continue;
        }
        if t.procs[i].killed.is_none() {
            t.procs[i].killed = Some(Exit::Signal(sig));
        }
        t.procs[i].wake = 0;
        interrupt(t, i);
    }
    if hit { 0 } else { ESRCH }
}

/// A user buffer the caller could not write: the wait calls' EFAULT.
pub const BAD_BUFFER: i64 = EFAULT;

/// Every process has ended: check that every frame came back, and stop.
pub fn all_done() -> ! {
    crate::running::set(0, 0);
    // The file system goes with the run: its frames come back first (and
    // any it lost track of stay missing, so the check below sees them).
    crate::fs::discard();
    let t = table();
    let free = frame::free_count();
    kprintln!(
        "[kernel] all processes done after {} switches; frames free {} of {} (at first spawn {}){}",
        t.switches,
        free,
        frame::total(),
        t.frames_free_at_start,
        if free == t.frames_free_at_start {
            ", every frame returned"
        } else {
            ": FRAMES LEAKED"
        }
    );
    let (files, pipes) = (crate::file::in_use(), crate::pipe::in_use());
    // An epoll instance or eventfd counter goes with its open file; one
    // left over would be a leak of its own (an error path).
    let (epolls, counters) = (crate::file::epoll::in_use(), crate::file::eventfd::in_use());
    let open = files + pipes + epolls + counters;
    if open > 0 {
        kprintln!(
            "[kernel] still open at the end: {files} open file(s), {pipes} pipe(s), {epolls} epoll instance(s), {counters} eventfd(s)"
        );
    }
    let status = if free != t.frames_free_at_start || open > 0 {
        abi::status::PANIC
    } else if t.failed > 0 {
        kprintln!(
            "[kernel] {} process(es) exited with a non-zero status",
            t.failed
        );
        abi::status::PROCESS_FAILED
    } else {
        abi::status::OK
    };
    shutdown::halt(status)
}

/// No child to wait for.
pub const NO_CHILD: i64 = ECHILD;
