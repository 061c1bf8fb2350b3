//! Signals, with default actions only: handlers and masks are recorded
//! and reported back but never run, so a signal that is caught or ignored
//! does nothing, and any other whose default terminates ends the process
//! (`abort` raising SIGABRT, SIGPIPE on a broken pipe, kill from another
//! process), with a verdict. The alternate stack is remembered too.

use abi::Pod;
use abi::syscall::{EFAULT, EINVAL, ENOMEM, EPERM, ESRCH};

use super::{Ret, current, put, with_aspace};
use crate::entry::TrapFrame;
use crate::proc::{self, AltStack, Exit, SS_DISABLE};

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
    if sig == 0 || IGNORED.contains(&sig) {
        return false;
    }
    sig == 9
        || p.sigactions
            .get((sig - 1) as usize)
            .is_none_or(|a| a[0] == SIG_DFL)
}

/// sigaltstack(2): report the current stack to `old` and install `new`
/// (either may be 0). Never on the stack, since no signal is delivered.
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
/// caller itself (`to_self`): signal 0 only checks; a signal that is
/// ignored by default does nothing; any other ends the process, as an
/// unhandled signal would (handlers are never run here).
pub fn send(f: &mut TrapFrame, to_self: bool, sig: u64) -> Ret {
    let sig = sig as u32 as u64; // an int
    if sig > NSIG {
        return Ret::Value(EINVAL);
    }
    if !to_self {
        return Ret::Value(EPERM);
    }
    if !terminates(current(), sig) {
        return Ret::Value(0);
    }
    proc::exit_current(f, Exit::Signal(sig as u32));
    Ret::Switched(true)
}

/// kill(2) of another process: default actions only (see
/// `proc::kill_other`). Process groups are not kept: 0 and -1 reach every
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

/// tkill(2) (`tgid` None) and tgkill(2): a signal to thread `tid`. No
/// handler runs, so what a signal does is what it does to the process:
/// to a thread of the caller's own process, as to itself (a fatal one
/// ends the whole process); to another's, as kill(2) of that process.
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
        send(f, true, sig)
    } else {
        let sig = sig as u32 as u64;
        if sig > NSIG {
            return Ret::Value(EINVAL);
        }
        Ret::Value(proc::kill_other(group as i32, sig as u32))
    }
}
