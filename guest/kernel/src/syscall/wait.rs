//! wait4(2) and waitid(2): collect a child that exited, or wait for one.
//! A parent that waits blocks on its wait channel, which a child's exit
//! wakes (`proc::exit_current`).

use abi::syscall::EINVAL;

use super::{Ret, put, with_aspace};
use crate::proc::{self, Found, Which};

/// Which children `pid` asks for: > 0 that one, anything else any child
/// (there are no process groups: 0 and < -1 mean every child too).
fn which(pid: u64) -> Which {
    match pid as i32 {
        p if p > 0 => Which::Pid(p as u32),
        _ => Which::Any,
    }
}

/// What a wait does when none of the children it asks for has exited.
fn not_yet(found: Found, nohang: bool) -> Ret {
    match found {
        Found::NoChild => Ret::Value(proc::NO_CHILD),
        _ if nohang => Ret::Value(0),
        _ => Ret::Block(proc::wait_chan(super::current().tgid)),
    }
}

/// struct rusage (144 bytes): nothing is accounted, all zero.
const RUSAGE_WORDS: usize = 18;

pub fn wait4(pid: u64, status: u64, options: u64, rusage: u64) -> Ret {
    let nohang = match proc::wait4_options(options) {
        Ok(n) => n,
        Err(e) => return Ret::Value(e),
    };
    match proc::find_child(which(pid), false) {
        Found::Zombie(child, ws) => {
            if status != 0 && with_aspace(|a| put(a, status, &ws)) != 0 {
                return Ret::Value(proc::BAD_BUFFER);
            }
            if rusage != 0 && with_aspace(|a| put(a, rusage, &[0u64; RUSAGE_WORDS])) != 0 {
                return Ret::Value(proc::BAD_BUFFER);
            }
            Ret::Value(child as i64)
        }
        found => not_yet(found, nohang),
    }
}

const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const P_PGID: u64 = 2;

pub fn waitid(idtype: u64, id: u64, info: u64, options: u64) -> Ret {
    let (nohang, nowait) = match proc::waitid_options(options) {
        Ok(o) => o,
        Err(e) => return Ret::Value(e),
    };
    let which = match idtype {
        P_ALL | P_PGID => Which::Any,
        P_PID if (id as i32) > 0 => Which::Pid(id as u32),
        _ => return Ret::Value(EINVAL),
    };
    match proc::find_child(which, nowait) {
        Found::Zombie(child, ws) => {
            let si = proc::siginfo(child, ws);
            if info != 0 && with_aspace(|a| put(a, info, &si)) != 0 {
                return Ret::Value(proc::BAD_BUFFER);
            }
            Ret::Value(0)
        }
        // WNOHANG with nobody exited: 0, and si_pid 0 if info is given.
        Found::Running if nohang => {
            if info != 0 && with_aspace(|a| put(a, info, &[0u32; 32])) != 0 {
                return Ret::Value(proc::BAD_BUFFER);
            }
            Ret::Value(0)
        }
        found => not_yet(found, nohang),
    }
}
