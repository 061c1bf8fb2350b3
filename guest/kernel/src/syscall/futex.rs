//! futex(2) for the threads of one process: WAIT, WAKE, their BITSET
//! forms, REQUEUE, CMP_REQUEUE and WAKE_OP, private or not (a futex is
//! keyed by the caller's thread group and the user address: no memory is
//! shared between processes), CLOCK_REALTIME accepted for the absolute
//! timeouts. The wait queues are in `proc::futex`.
//!
//! A waiter blocks by restart: once woken it runs FUTEX_WAIT again, which
//! returns 0 because a wake marked it (`Proc::futex_woken`), whatever the
//! word holds now; a timeout's deadline is kept across the restarts in
//! `Proc::call_deadline`, as poll keeps its own.

use abi::syscall::{EAGAIN, EFAULT, EINVAL, ENOSYS, ETIMEDOUT};

use super::{Ret, current, time, with_aspace};
use crate::arch::cpu;
use crate::proc::{self, FUTEX_CHAN};

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;
/// Clock ids as clock_gettime takes them.
const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;

/// The 32-bit word at user `addr` (EFAULT if the caller may not read it;
/// EINVAL if it is not aligned, as Linux says).
fn word(addr: u64) -> Result<u32, i64> {
    if !addr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    let mut b = [0u8; 4];
    match with_aspace(|a| if a.copy_in(&mut b, addr) { 0 } else { EFAULT }) {
        0 => Ok(u32::from_le_bytes(b)),
        e => Err(e),
    }
}

/// futex(uaddr, op, val, timeout or val2, uaddr2, val3).
pub fn futex(uaddr: u64, op: u64, val: u64, timeout: u64, uaddr2: u64, val3: u64) -> Ret {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let val = val as u32;
    let bits = val3 as u32;
    let tgid = current().tgid;
    match cmd {
        FUTEX_WAIT => wait(uaddr, val, timeout, false, realtime, u32::MAX),
        FUTEX_WAIT_BITSET if bits == 0 => Ret::Value(EINVAL),
        FUTEX_WAIT_BITSET => wait(uaddr, val, timeout, true, realtime, bits),
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bits = if cmd == FUTEX_WAKE { u32::MAX } else { bits };
            if bits == 0 {
                return Ret::Value(EINVAL);
            }
            if let Err(e) = aligned(uaddr) {
                return Ret::Value(e);
            }
            Ret::Value(proc::futex_wake(tgid, uaddr, val.into(), bits) as i64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if let Err(e) = aligned(uaddr).and(aligned(uaddr2)) {
                return Ret::Value(e);
            }
            if cmd == FUTEX_CMP_REQUEUE {
                match word(uaddr) {
                    Ok(v) if v != val3 as u32 => return Ret::Value(EAGAIN),
                    Ok(_) => {}
                    Err(e) => return Ret::Value(e),
                }
            }
            // val2 travels in the timeout argument.
            let nmove = u64::from(timeout as u32);
            Ret::Value(proc::futex_requeue(tgid, uaddr, uaddr2, val.into(), nmove) as i64)
        }
        FUTEX_WAKE_OP => Ret::Value(wake_op(tgid, uaddr, uaddr2, val, timeout as u32, bits)),
        _ => Ret::Value(ENOSYS),
    }
}

/// EINVAL unless `addr` is 4-byte aligned.
fn aligned(addr: u64) -> Result<(), i64> {
    if addr.is_multiple_of(4) {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// FUTEX_WAIT(_BITSET): sleep on `uaddr` while it holds `val`, until a
/// wake that shares a bit with `bits`, or the timeout (relative unless
/// `absolute`; none when `ts` is 0).
fn wait(uaddr: u64, val: u32, ts: u64, absolute: bool, realtime: bool, bits: u32) -> Ret {
    let p = current();
    if p.futex_woken {
        p.futex_woken = false;
        p.call_deadline = 0;
        return Ret::Value(0);
    }
    let now = cpu::rdtsc();
    if p.call_deadline != 0 && now >= p.call_deadline {
        p.call_deadline = 0;
        return Ret::Value(ETIMEDOUT);
    }
    match word(uaddr) {
        Ok(v) if v == val => {}
        Ok(_) => {
            current().call_deadline = 0;
            return Ret::Value(EAGAIN);
        }
        Err(e) => {
            current().call_deadline = 0;
            return Ret::Value(e);
        }
    }
    if ts != 0 && current().call_deadline == 0 {
        let ns = match super::time::read_timespec(ts) {
            Ok(ns) => ns,
            Err(e) => return Ret::Value(e),
        };
        let deadline = if absolute {
            let clock = if realtime {
                CLOCK_REALTIME
            } else {
                CLOCK_MONOTONIC
            };
            time::tsc_at(clock, ns)
        } else {
            now.saturating_add(time::tsc_from_ns(ns))
        };
        if deadline <= now {
            return Ret::Value(ETIMEDOUT);
        }
        current().call_deadline = deadline;
    }
    let p = current();
    p.futex_addr = uaddr;
    p.futex_bits = bits;
    match p.call_deadline {
        0 => Ret::Block(FUTEX_CHAN),
        d => Ret::BlockUntil(FUTEX_CHAN, d),
    }
}

/// FUTEX_WAKE_OP: apply the operation encoded in `op` to the word at
/// `uaddr2` (it returns the old value), wake `n` waiters on `uaddr`, and
/// `n2` on `uaddr2` too if the old value passes the encoded comparison.
fn wake_op(tgid: u32, uaddr: u64, uaddr2: u64, n: u32, n2: u32, op: u32) -> i64 {
    if let Err(e) = aligned(uaddr) {
        return e;
    }
    let old = match word(uaddr2) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let shift = op & (8 << 28) != 0;
    let (kind, cmp) = ((op >> 28) & 7, (op >> 24) & 15);
    let mut arg = (op >> 12) & 0xfff;
    let cmparg = op & 0xfff;
    if shift {
        if arg > 31 {
            return EINVAL;
        }
        arg = 1 << arg;
    }
    let new = match kind {
        0 => arg,
        1 => old.wrapping_add(arg),
        2 => old | arg,
        3 => old & !arg,
        4 => old ^ arg,
        _ => return ENOSYS,
    };
    if with_aspace(|a| {
        if a.copy_out(uaddr2, &new.to_le_bytes()) {
            0
        } else {
            EFAULT
        }
    }) != 0
    {
        return EFAULT;
    }
    let pass = match cmp {
        0 => old == cmparg,
        1 => old != cmparg,
        2 => (old as i32) < cmparg as i32,
        3 => (old as i32) <= cmparg as i32,
        4 => (old as i32) > cmparg as i32,
        5 => (old as i32) >= cmparg as i32,
        _ => return ENOSYS,
    };
    let mut woken = proc::futex_wake(tgid, uaddr, n.into(), u32::MAX);
    if pass {
        woken += proc::futex_wake(tgid, uaddr2, n2.into(), u32::MAX);
    }
    woken as i64
}
