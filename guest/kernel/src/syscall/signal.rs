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
use abi::syscall::{EFAULT, EINTR, EINVAL, ENOMEM};

use super::{Ret, current, put, with_aspace};
use crate::proc::{self, AltStack, SS_DISABLE, SigInfo};

mod deliver;
mod send;

pub use deliver::{deliver, fault, settle, sigreturn};
pub use send::{is_self, kill, send, tkill};

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
