//! Who a process is and how it ends: exit, its TLS pointer (arch_prctl),
//! its name (prctl), limits, uname, the CPUs it may run on, and random
//! bytes.

use abi::msg::NAME_MAX;
use abi::syscall::{EFAULT, EINVAL, EPERM, ESRCH, STACK_MAX};

use super::{Ret, current, put, with_aspace};
use crate::arch::fsbase::{self, Seg};
use crate::entry::TrapFrame;
use crate::proc::{self, Exit};

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const RLIMIT_STACK: u64 = 3;
const RLIM_INFINITY: u64 = u64::MAX;
/// Most bytes one getrandom call returns (a short read is legal).
const RANDOM_MAX: u64 = 1 << 16;

/// exit_group: the process (every thread) ends; the status is
/// `code & 0xff`.
pub fn exit(f: &mut TrapFrame, code: u64) -> Ret {
    proc::exit_current(f, Exit::Status((code & 0xff) as i64));
    Ret::Switched(true)
}

/// exit: the calling thread ends (the process with it if it is the last).
pub fn exit_thread(f: &mut TrapFrame, code: u64) -> Ret {
    proc::exit_thread(f, code);
    Ret::Switched(true)
}

/// struct clone_args as clone3(2) takes it (the first version's fields).
const CLONE_ARGS_VER0: u64 = 64;
/// Largest clone_args accepted (Linux: a page; fields past the ones known
/// must be zero, which is not checked here).
const CLONE_ARGS_MAX: u64 = 4096;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3(2): the same as clone with its arguments in a struct: flags,
/// pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
/// set_tid, set_tid_size, cgroup. pidfds, set_tid and cgroups are not
/// served (EINVAL).
pub fn clone3(f: &TrapFrame, args: u64, size: u64) -> i64 {
    if !(CLONE_ARGS_VER0..=CLONE_ARGS_MAX).contains(&size) {
        return EINVAL;
    }
    let mut b = [0u8; 88];
    let n = size.min(88) as usize;
    if with_aspace(|a| {
        if a.copy_in(&mut b[..n], args) {
            0
        } else {
            EFAULT
        }
    }) != 0
    {
        return EFAULT;
    }
    let w = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i * 8..i * 8 + 8]);
        u64::from_le_bytes(x)
    };
    let (flags, exit_signal, stack, stack_size) = (w(0), w(4), w(5), w(6));
    if flags & (CLONE_PIDFD | CLONE_INTO_CGROUP) != 0 || w(9) != 0 || exit_signal > 64 {
        return EINVAL;
    }
    if (stack == 0) != (stack_size == 0) {
        return EINVAL;
    }
    let Some(top) = stack.checked_add(stack_size) else {
        return EINVAL;
    };
    proc::fork(
        f,
        &proc::Clone {
            flags: (flags & !0xff) | exit_signal,
            stack: top,
            ptid: w(3),
            ctid: w(2),
            tls: w(7),
        },
    )
}

pub fn arch_prctl(code: u64, addr: u64) -> i64 {
    match code {
        ARCH_SET_FS => {
            if !fsbase::canonical_user(addr) {
                return EPERM;
            }
            current().fs_base = addr;
            fsbase::write(addr);
            0
        }
        ARCH_SET_GS => {
            if !fsbase::canonical_user(addr) {
                return EPERM;
            }
            current().gs_base = addr;
            fsbase::write_base(Seg::Gs, addr);
            0
        }
        // The live value: user code may have run wrfsbase itself.
        ARCH_GET_FS => with_aspace(|a| put(a, addr, &fsbase::read())),
        ARCH_GET_GS => with_aspace(|a| put(a, addr, &fsbase::read_base(Seg::Gs))),
        _ => EINVAL,
    }
}

pub fn prctl(option: u64, arg: u64) -> i64 {
    let p = current();
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    match option {
        PR_GET_NAME => {
            // Linux's TASK_COMM_LEN is 16 with the NUL: 15 bytes of name.
            let mut n = [0u8; 16];
            let len = abi::msg::until_nul(&p.name).len().min(15);
            n[..len].copy_from_slice(&p.name[..len]);
            if a.copy_out(arg, &n) { 0 } else { EFAULT }
        }
        PR_SET_NAME => {
            let mut n = [0u8; NAME_MAX];
            for (i, c) in n.iter_mut().enumerate().take(15) {
                let mut b = [0u8; 1];
                if !a.copy_in(&mut b, arg + i as u64) {
                    return EFAULT;
                }
                if b[0] == 0 {
                    break;
                }
                *c = b[0];
            }
            // The name is the process's as the VMM reports it: its first
            // thread's renames it (every thread), another's are accepted
            // and dropped.
            if p.pid == p.tgid {
                proc::set_group(|q| q.name = n);
            }
            0
        }
        _ => EINVAL,
    }
}

/// prlimit64(2) on itself: reports the stack limit the kernel enforces and
/// no limit for the rest; new limits are accepted and not enforced.
pub fn prlimit64(_pid: u64, resource: u64, _new: u64, old: u64) -> i64 {
    if old == 0 {
        return 0;
    }
    let lim = if resource == RLIMIT_STACK {
        [STACK_MAX, RLIM_INFINITY]
    } else {
        [RLIM_INFINITY, RLIM_INFINITY]
    };
    with_aspace(|a| put(a, old, &lim))
}

/// uname(2): six 65-byte fields.
pub fn uname(buf: u64) -> i64 {
    let mut u = [0u8; 6 * 65];
    let fields: [&[u8]; 6] = [
        b"Linux",
        b"microvmm",
        b"6.1.0-microvmm",
        b"#1 microvmm guest kernel",
        b"x86_64",
        b"(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        u[65 * i..65 * i + f.len()].copy_from_slice(f);
    }
    with_aspace(|a| if a.copy_out(buf, &u) { 0 } else { EFAULT })
}

pub fn getrandom(buf: u64, len: u64) -> i64 {
    let len = len.min(RANDOM_MAX);
    with_aspace(|a| {
        if !a.check(buf, len) {
            return EFAULT;
        }
        let mut chunk = [0u8; 256];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(256) as usize;
            crate::random::fill(&mut chunk[..n]);
            if !a.copy_out(buf + done, &chunk[..n]) {
                return if done > 0 { done as i64 } else { EFAULT };
            }
            done += n as u64;
        }
        len as i64
    })
}

/// sched_getaffinity(2): the CPUs thread `pid` (0: the caller) may run on
/// (sched_setaffinity; at first every CPU, `--cpus`, at most 8, so one
/// long). Linux copies one mask's worth of whole longs (8 bytes here) and
/// returns that size; a buffer too small or not of whole longs is EINVAL.
pub fn sched_getaffinity(pid: u64, len: u64, mask: u64) -> i64 {
    let Some(cpus) = proc::affinity(pid as u32) else {
        return ESRCH;
    };
    if len < 8 || !len.is_multiple_of(8) {
        return EINVAL;
    }
    match with_aspace(|a| put(a, mask, &u64::from(cpus))) {
        0 => 8,
        e => e,
    }
}

/// sched_setaffinity(2): thread `pid` (0: the caller) runs only on the
/// CPUs of the mask from now on, as far as they exist (Linux reads at most
/// its own mask's size, zero-fills a shorter one, and ignores CPUs that
/// do not exist); none of them is EINVAL. A caller outside its new mask
/// moves at once (the call returns 0 on a CPU inside it).
pub fn sched_setaffinity(f: &mut TrapFrame, pid: u64, len: u64, mask: u64) -> Ret {
    if proc::affinity(pid as u32).is_none() {
        return Ret::Value(ESRCH);
    }
    let mut b = [0u8; 8];
    let n = len.min(8) as usize;
    if with_aspace(|a| {
        if a.copy_in(&mut b[..n], mask) {
            0
        } else {
            EFAULT
        }
    }) != 0
    {
        return Ret::Value(EFAULT);
    }
    let cpus = (u64::from_le_bytes(b) & u64::from(proc::all_cpus())) as u32;
    if cpus == 0 {
        return Ret::Value(EINVAL);
    }
    match proc::set_affinity(pid as u32, cpus) {
        None => Ret::Value(ESRCH),
        Some(false) => Ret::Value(0),
        Some(true) => {
            f.rax = 0;
            proc::leave(f);
            Ret::Switched(true)
        }
    }
}
