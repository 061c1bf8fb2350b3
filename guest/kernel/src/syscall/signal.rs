//! Signals: handlers, masks, the alternate stack, and delivery.
//!
//! A signal sent to a process is made pending (or, when its default
//! action terminates and it is not blocked, ends the process). Pending
//! signals that are not blocked are delivered whenever the kernel is about
//! to return to the process's user code: at the end of every system call
//! and when the scheduler resumes it (`deliver`).
//!
//! One handler at a time: while one runs, other caught signals stay
//! pending until its rt_sigreturn. So the interrupted code's FPU state is
//! kept in the kernel (`Proc::sigfpu`) rather than as an XSAVE image on
//! the user stack, and the frame's `sigcontext.fpstate` is 0.
//!
//! The frame is Linux's `struct rt_sigframe` (x86-64), built below the
//! 128-byte red zone (or at the top of the alternate stack, SA_ONSTACK):
//!
//! ```text
//!   +0    pretcode   sa_restorer (which calls rt_sigreturn)   <- rsp at entry
//!   +8    ucontext   uc_flags, uc_link, uc_stack{sp, flags, size}
//!   +48              uc_mcontext = sigcontext (32 words: r8..r15, rdi, rsi,
//!                    rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, cs/gs/fs/ss,
//!                    err, trapno, oldmask, cr2, fpstate = 0, reserved[8])
//!   +304             uc_sigmask (the mask to restore)
//!   +312  siginfo_t  128 bytes
//! ```
//!
//! A call that was blocked (rewound to its `syscall` instruction) when
//! the signal came runs again after the handler returns, as with
//! SA_RESTART, whatever the flags; only pause, rt_sigsuspend and the
//! waits Linux never restarts (poll, select, epoll_wait: `proc::sched`)
//! return EINTR.

use abi::Pod;
use abi::syscall::{EFAULT, EINTR, EINVAL, ENOMEM, EPERM, ESRCH};

use super::{Ret, current, put, with_aspace};
use crate::entry::{TrapFrame, USER_CS, USER_SS};
use crate::proc::{self, AltStack, Exit, SS_DISABLE, SigInfo};

/// Highest signal number (Linux's _NSIG).
const NSIG: u64 = 64;
/// Linux also takes SS_AUTODISARM with SS_ONSTACK or 0.
const SS_AUTODISARM: u64 = 1 << 31;
const SS_ONSTACK: u64 = 1;
/// Linux's MINSIGSTKSZ on x86-64.
const MINSIGSTKSZ: u64 = 2048;
/// Signals whose default action is to be ignored: SIGCHLD, SIGCONT,
/// SIGURG, SIGWINCH.
const IGNORED: [u64; 4] = [17, 18, 23, 28];

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
/// Signals a process stops on, which the kernel does not do: accepted and
/// dropped (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
const STOPS: [u64; 4] = [19, 20, 21, 22];

const SA_RESTORER: u64 = 0x0400_0000;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;

/// SIGKILL and SIGSTOP: never blocked.
const UNBLOCKABLE: u64 = (1 << 8) | (1 << 18);
const SIGSEGV: u64 = abi::signals::SIGSEGV as u64;
/// The end of the lower (user) half: a rip at or past it is no user code.
const USER_END: u64 = 1 << 47;
/// The red zone below a user rsp that a signal frame must not touch.
const RED_ZONE: u64 = 128;
/// Bytes of the frame (see the module comment).
const FRAME: usize = 440;
const UC_OFF: u64 = 8;
const SI_OFF: u64 = 312;
/// The rflags bits a handler may change for the code it returns to
/// (CF, PF, AF, ZF, SF, DF, OF, AC); IF and IOPL stay the kernel's.
const USER_FLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800 | 0x4_0000;
/// rflags bits cleared on entry to a handler: TF, DF, RF.
const ENTRY_CLEAR: u64 = 0x100 | 0x400 | 0x1_0000;

/// The bit of signal `sig` (1..=64) in a mask.
fn bit(sig: u64) -> u64 {
    1 << (sig - 1)
}

/// What sending `sig` to a process does.
#[derive(PartialEq, Eq)]
pub enum Action {
    Ignore,
    Terminate,
    Catch,
}

/// What `sig` does to process `p` now, by its disposition.
pub fn action(p: &proc::Proc, sig: u64) -> Action {
    if sig == 9 {
        return Action::Terminate;
    }
    if sig == 0 || sig > NSIG {
        return Action::Ignore;
    }
    match p.sigactions[(sig - 1) as usize][0] {
        SIG_IGN => Action::Ignore,
        SIG_DFL if IGNORED.contains(&sig) || STOPS.contains(&sig) => Action::Ignore,
        SIG_DFL => Action::Terminate,
        _ => Action::Catch,
    }
}

/// Make `sig` pending on `p` with `info`, unless it is ignored. True if
/// it was made pending (the caller wakes `p` if it waits).
pub fn post(p: &mut proc::Proc, sig: u64, info: SigInfo) -> bool {
    if action(p, sig) == Action::Ignore {
        return false;
    }
    p.pending |= bit(sig);
    p.siginfo[(sig - 1) as usize] = info;
    true
}

/// Whether a pending signal would be delivered to `p` under `mask`: one
/// that terminates, or a caught one when no handler runs already.
fn deliverable(p: &proc::Proc, mask: u64) -> bool {
    let ready = p.pending & !(mask & !UNBLOCKABLE);
    (1..=NSIG).any(|sig| {
        ready & bit(sig) != 0
            && match action(p, sig) {
                Action::Ignore => false,
                Action::Terminate => true,
                Action::Catch => !p.in_handler,
            }
    })
}

/// A handler left without rt_sigreturn (siglongjmp out of it, as C
/// programs and test harnesses do) is over once the stack pointer `rsp`
/// is off the stack it ran on: signals are delivered again from then on.
/// Its saved FPU state is dropped, as Linux drops its frame.
pub fn settle(rsp: u64) {
    let p = current();
    let (lo, hi) = p.handler_stack;
    if p.in_handler && !(lo <= rsp && rsp < hi) {
        p.in_handler = false;
        p.sig_deadline = 0;
    }
}

/// Deliver the current process's first deliverable pending signal, as it
/// is about to return to user code with `f`: end it (default action), or
/// set `f` up to run the handler. True if `f` changed (it must then be
/// restored whole, not by sysret), false if nothing was delivered.
pub fn deliver(f: &mut TrapFrame) -> bool {
    settle(f.rsp);
    let p = current();
    // rt_sigsuspend's temporary mask lasts until this delivery.
    let restore = p.suspend_mask.take();
    let old = restore.unwrap_or(p.sigmask);
    let ready = p.pending & !p.sigmask;
    for sig in 1..=NSIG {
        if ready & bit(sig) == 0 {
            continue;
        }
        match action(p, sig) {
            Action::Ignore => p.pending &= !bit(sig),
            Action::Terminate => {
                p.pending &= !bit(sig);
                p.sigmask = old;
                proc::exit_current(f, Exit::Signal(sig as u32));
                return true;
            }
            Action::Catch if p.in_handler => {}
            Action::Catch => {
                p.pending &= !bit(sig);
                p.sigmask = old;
                run_handler(f, sig);
                return true;
            }
        }
    }
    current().sigmask = old;
    false
}

/// A fault in user code that raises `sig` (si_code `code`, si_addr
/// `addr`), as Linux's force_sig_fault: run the process's handler at
/// once, with `f` as the interrupted context. False when the signal is
/// not caught, is blocked, or a handler runs already: the caller ends the
/// process (Linux, too, takes a blocked or ignored fault signal's default
/// action, and this kernel runs one handler at a time).
pub fn fault(f: &mut TrapFrame, sig: u64, code: i32, addr: u64) -> bool {
    settle(f.rsp);
    let p = current();
    if action(p, sig) != Action::Catch || p.sigmask & bit(sig) != 0 || p.in_handler {
        return false;
    }
    p.siginfo[(sig - 1) as usize] = SigInfo {
        code,
        pid: 0,
        status: 0,
        addr: Some(addr),
    };
    run_handler(f, sig);
    true
}

/// Build `sig`'s frame on the current process's stack and point `f` at
/// its handler. The mask in the frame is the one in force now.
fn run_handler(f: &mut TrapFrame, sig: u64) {
    let p = current();
    let i = (sig - 1) as usize;
    let [handler, flags, restorer, mask] = p.sigactions[i];
    // A handler outside the user half would make the return to user mode
    // itself fault (iretq to a non-canonical rip faults in the kernel).
    if flags & SA_RESTORER == 0 || restorer == 0 || handler >= USER_END {
        // Linux on x86-64 cannot return from such a handler either.
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return;
    }
    let alt = p.altstack;
    let alt_on = alt.flags & SS_DISABLE == 0 && alt.size != 0;
    let on_alt = alt_on && f.rsp.wrapping_sub(alt.sp) < alt.size;
    let mut sp = f.rsp.wrapping_sub(RED_ZONE);
    let to_alt = flags & SA_ONSTACK != 0 && alt_on && !on_alt;
    if to_alt {
        sp = alt.sp.wrapping_add(alt.size);
    }
    // (rsp + 8) % 16 == 0 at entry, as after a call.
    let sp = (sp.wrapping_sub(FRAME as u64) & !15).wrapping_sub(8);
    let handler_stack = if to_alt || on_alt {
        (alt.sp, alt.sp.wrapping_add(alt.size))
    } else {
        (0, sp.wrapping_add(FRAME as u64))
    };
    let info = p.siginfo[i];
    let mut w = [0u64; FRAME / 8];
    w[0] = restorer;
    w[3] = alt.sp;
    w[4] = if !alt_on {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        0
    } | alt.flags & SS_AUTODISARM;
    w[5] = alt.size;
    let sc = [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx,
        f.rax, f.rcx, f.rsp, f.rip, f.rflags,
    ];
    w[6..6 + sc.len()].copy_from_slice(&sc);
    w[24] = (f.cs & 0xffff) | (f.ss & 0xffff) << 48;
    w[25] = f.err;
    w[26] = f.vec;
    w[27] = p.sigmask;
    // w[29], fpstate: 0, the FPU state stays in the kernel.
    w[38] = p.sigmask;
    let si = 39;
    w[si] = sig;
    w[si + 1] = info.code as u32 as u64;
    if let Some(addr) = info.addr {
        // A fault: si_addr, and sigcontext's cr2 as Linux fills it.
        w[si + 2] = addr;
        w[28] = addr;
    } else {
        w[si + 2] = u64::from(info.pid);
        w[si + 3] = info.status as u32 as u64;
    }
    let mut b = [0u8; FRAME];
    for (k, v) in w.iter().enumerate() {
        b[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    if with_aspace(|a| if a.copy_out(sp, &b) { 0 } else { EFAULT }) != 0 {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return;
    }
    let p = current();
    p.sigfpu.0.copy_from_slice(&p.fpu.0);
    p.in_handler = true;
    p.handler_stack = handler_stack;
    // A timed wait the handler interrupted keeps its deadline for when it
    // runs again; the handler's own calls start without one.
    p.sig_deadline = p.call_deadline;
    p.call_deadline = 0;
    if flags & SA_NODEFER == 0 {
        p.sigmask |= bit(sig);
    }
    p.sigmask = (p.sigmask | mask) & !UNBLOCKABLE;
    if flags & SA_RESETHAND != 0 {
        p.sigactions[i] = [SIG_DFL, 0, 0, 0];
    }
    f.rip = handler;
    f.rdi = sig;
    f.rsi = sp + SI_OFF;
    f.rdx = sp + UC_OFF;
    f.rax = 0;
    f.rsp = sp;
    f.rflags &= !ENTRY_CLEAR;
    f.cs = USER_CS;
    f.ss = USER_SS;
}

/// rt_sigreturn(2): back from a handler to the code it interrupted, from
/// the frame `run_handler` built (its restorer's `ret` popped pretcode,
/// so it starts at rsp - 8): registers, rflags' user bits, mask, FPU.
pub fn sigreturn(f: &mut TrapFrame) -> Ret {
    let at = f.rsp.wrapping_sub(8);
    let mut b = [0u8; SI_OFF as usize];
    if with_aspace(|a| if a.copy_in(&mut b, at) { 0 } else { EFAULT }) != 0 {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return Ret::Switched(true);
    }
    let w = |k: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[k * 8..k * 8 + 8]);
        u64::from_le_bytes(x)
    };
    // The same for a rip the handler left outside the user half.
    if w(22) >= USER_END {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return Ret::Switched(true);
    }
    f.r8 = w(6);
    f.r9 = w(7);
    f.r10 = w(8);
    f.r11 = w(9);
    f.r12 = w(10);
    f.r13 = w(11);
    f.r14 = w(12);
    f.r15 = w(13);
    f.rdi = w(14);
    f.rsi = w(15);
    f.rbp = w(16);
    f.rbx = w(17);
    f.rdx = w(18);
    f.rax = w(19);
    f.rcx = w(20);
    f.rsp = w(21);
    f.rip = w(22);
    f.rflags = (f.rflags & !USER_FLAGS) | (w(23) & USER_FLAGS) | 0x202;
    f.cs = USER_CS;
    f.ss = USER_SS;
    let p = current();
    p.sigmask = w(38) & !UNBLOCKABLE;
    if p.in_handler {
        p.fpu.0.copy_from_slice(&p.sigfpu.0);
        p.in_handler = false;
        p.call_deadline = p.sig_deadline;
    }
    deliver(f);
    Ret::Switched(true)
}

/// rt_sigprocmask(2): change the blocked set (SIG_BLOCK 0, SIG_UNBLOCK
/// 1, SIG_SETMASK 2) and report the previous one. SIGKILL and SIGSTOP
/// stay unblocked. A signal it unblocks is delivered on the way out.
pub fn sigprocmask(how: u64, set: u64, old: u64, setsize: u64) -> i64 {
    if setsize != 8 {
        return EINVAL;
    }
    let prev = current().sigmask;
    let mut next = prev;
    if set != 0 {
        let mut b = [0u8; 8];
        if with_aspace(|a| if a.copy_in(&mut b, set) { 0 } else { EFAULT }) != 0 {
            return EFAULT;
        }
        let s = u64::from_le_bytes(b);
        next = match how as u32 {
            0 => prev | s,
            1 => prev & !s,
            2 => s,
            _ => return EINVAL,
        };
    }
    if old != 0 && with_aspace(|a| put(a, old, &prev)) != 0 {
        return EFAULT;
    }
    current().sigmask = next & !UNBLOCKABLE;
    0
}

/// The channel a process waits on in pause and rt_sigsuspend: nothing
/// wakes it but a signal (`proc::kill_other`, a child's SIGCHLD).
fn sig_chan(pid: u32) -> u64 {
    (6 << 32) | u64::from(pid)
}

/// pause(2): wait for a signal; -EINTR once one is delivered.
pub fn pause() -> Ret {
    let p = current();
    if deliverable(p, p.sigmask) {
        Ret::Value(EINTR)
    } else {
        Ret::Block(sig_chan(p.pid))
    }
}

/// rt_sigsuspend(2): pause with the mask at `set` in force until a
/// signal is delivered; the handler's frame restores the mask of before.
pub fn sigsuspend(set: u64, setsize: u64) -> Ret {
    if setsize != 8 {
        return Ret::Value(EINVAL);
    }
    let mut b = [0u8; 8];
    if with_aspace(|a| if a.copy_in(&mut b, set) { 0 } else { EFAULT }) != 0 {
        return Ret::Value(EFAULT);
    }
    let temp = u64::from_le_bytes(b) & !UNBLOCKABLE;
    let p = current();
    if deliverable(p, temp) {
        p.suspend_mask = Some(p.sigmask);
        p.sigmask = temp;
        Ret::Value(EINTR)
    } else {
        Ret::Block(sig_chan(p.pid))
    }
}

/// rt_sigaction(2): record `act` for `sig` and report the previous one.
/// SIGKILL and SIGSTOP cannot be changed.
pub fn sigaction(sig: u64, act: u64, old: u64, setsize: u64) -> i64 {
    if setsize != 8 {
        return EINVAL;
    }
    let sig = sig as u32 as u64;
    if sig == 0 || sig > NSIG || (act != 0 && (sig == 9 || sig == 19)) {
        return EINVAL;
    }
    let i = (sig - 1) as usize;
    let prev = current().sigactions[i];
    let mut next = prev;
    if act != 0 {
        let mut b = [0u8; 32];
        if with_aspace(|a| if a.copy_in(&mut b, act) { 0 } else { EFAULT }) != 0 {
            return EFAULT;
        }
        next = <[u64; 4]>::from_bytes(&b).unwrap_or(prev);
    }
    if old != 0 && with_aspace(|a| put(a, old, &prev)) != 0 {
        return EFAULT;
    }
    // CLONE_SIGHAND: the threads of a process share their dispositions.
    proc::set_group(|p| p.sigactions[i] = next);
    0
}

/// Whether `sig` would end process `p` now: its default action
/// terminates, and it is neither caught nor ignored.
pub fn terminates(p: &proc::Proc, sig: u64) -> bool {
    action(p, sig) == Action::Terminate
}

/// sigaltstack(2): report the current stack to `old` and install `new`
/// (either may be 0). EPERM while a handler runs on it.
pub fn sigaltstack(new: u64, old: u64) -> i64 {
    let cur = current().altstack;
    let mut next = cur;
    if new != 0 {
        let mut b = [0u8; 24];
        if with_aspace(|a| if a.copy_in(&mut b, new) { 0 } else { EFAULT }) != 0 {
            return EFAULT;
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (sp, flags, size) = (word(0), word(1) & 0xffff_ffff, word(2));
        next = match flags & !SS_AUTODISARM {
            SS_DISABLE if flags == SS_DISABLE => AltStack::NONE,
            0 | SS_ONSTACK if size < MINSIGSTKSZ => return ENOMEM,
            0 | SS_ONSTACK => AltStack {
                sp,
                flags: flags & SS_AUTODISARM,
                size,
            },
            _ => return EINVAL,
        };
    }
    if old != 0 && with_aspace(|a| put(a, old, &[cur.sp, cur.flags, cur.size])) != 0 {
        return EFAULT;
    }
    current().altstack = next;
    0
}

/// kill(2), tkill(2) and tgkill(2), once the target is known to be the
/// caller itself (`to_self`): signal 0 only checks; an ignored signal
/// does nothing; one whose default terminates and is not blocked ends the
/// process now; any other is made pending, delivered on the way out.
pub fn send(f: &mut TrapFrame, to_self: bool, sig: u64) -> Ret {
    let sig = sig as u32 as u64; // an int
    if sig > NSIG {
        return Ret::Value(EINVAL);
    }
    if !to_self {
        return Ret::Value(EPERM);
    }
    if sig == 0 {
        return Ret::Value(0);
    }
    let p = current();
    if terminates(p, sig) && p.sigmask & bit(sig) == 0 {
        proc::exit_current(f, Exit::Signal(sig as u32));
        return Ret::Switched(true);
    }
    let pid = p.pid;
    post(
        p,
        sig,
        SigInfo {
            code: 0,
            pid,
            status: 0,
            addr: None,
        },
    );
    Ret::Value(0)
}

/// kill(2) of another process (see `proc::kill_other`). Process groups are not kept: 0 and -1 reach every
/// other process, and -pgid the process pgid.
pub fn kill(pid: u64, sig: u64) -> i64 {
    let sig = sig as u32 as u64; // an int
    if sig > NSIG {
        return EINVAL;
    }
    let pid = pid as i32;
    let target = match pid {
        0 | -1 => -1,
        i32::MIN => return ESRCH,
        p if p < 0 => -p,
        p => p,
    };
    proc::kill_other(target, sig as u32)
}

/// Is `pid` (as kill takes it) the caller's process? kill's 0 means the
/// caller's process group, which holds only the caller.
/// pid_t is an int: the upper half of the register is not the caller's.
pub fn is_self(pid: u64, group_ok: bool) -> bool {
    let pid = pid as u32;
    pid == current().tgid || (group_ok && pid == 0)
}

/// si_code of a signal sent by tkill/tgkill.
const SI_TKILL: i32 = -6;

/// tkill(2) (`tgid` None) and tgkill(2): a signal to thread `tid`. To a
/// thread of the caller's own process, a caught or blocked signal is
/// pending on that thread, a fatal one ends the whole process; to
/// another's, as kill(2) of that process.
pub fn tkill(f: &mut TrapFrame, tgid: Option<u64>, tid: u64, sig: u64) -> Ret {
    let (tid, tgid) = (tid as u32 as i32, tgid.map(|g| g as u32 as i32));
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Ret::Value(EINVAL);
    }
    let Some(group) = proc::tgid_of(tid as u32) else {
        return Ret::Value(ESRCH);
    };
    if tgid.is_some_and(|g| g as u32 != group) {
        return Ret::Value(ESRCH);
    }
    if group == current().tgid {
        // To one thread: a caught or blocked signal waits on that thread
        // (a runtime preempting it, as Go's SIGURG does, needs it there);
        // a fatal one ends the group, as from the caller.
        let s = sig as u32 as u64;
        if (1..=NSIG).contains(&s) {
            let info = SigInfo {
                code: SI_TKILL,
                pid: current().tgid,
                status: 0,
                addr: None,
            };
            let fatal = |q: &proc::Proc| terminates(q, s) && q.sigmask & bit(s) == 0;
            match proc::signal_thread(tid as u32, s, info, fatal) {
                Some(true) => return Ret::Value(0),
                // Fatal where it is aimed, whatever the caller blocks.
                Some(false) => {
                    proc::exit_current(f, Exit::Signal(s as u32));
                    return Ret::Switched(true);
                }
                None => return Ret::Value(ESRCH),
            }
        }
        send(f, true, sig)
    } else {
        let sig = sig as u32 as u64;
        if sig > NSIG {
            return Ret::Value(EINVAL);
        }
        Ret::Value(proc::kill_other(group as i32, sig as u32))
    }
}
