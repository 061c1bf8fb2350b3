//! Sending: kill, tkill and tgkill, and a signal a process sends itself
//! (`send`): who may be named, and when the signal ends its target at once
//! rather than being made pending.

use abi::syscall::{EINVAL, EPERM, ESRCH};

use super::super::{Ret, current};
use super::{NSIG, bit, post, terminates};
use crate::entry::TrapFrame;
use crate::proc::{self, Exit, SigInfo};

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
