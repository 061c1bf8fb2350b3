//! Clocks from the TSC, sleeping, yielding. Time starts at boot (there is
//! no wall clock); without a TSC frequency from the VMM (QEMU) the kernel
//! assumes 1 GHz, as the built-in programs do.

use abi::syscall::{EFAULT, EINVAL};

use super::{Ret, put, with_aspace};
use crate::arch::cpu;
use crate::entry::TrapFrame;
use crate::proc;

const TIMER_ABSTIME: u64 = 1;
const NSEC: u64 = 1_000_000_000;
/// Clocks the kernel answers for: REALTIME, MONOTONIC, PROCESS_ and
/// THREAD_CPUTIME, MONOTONIC_RAW, REALTIME_ and MONOTONIC_COARSE,
/// BOOTTIME. All read the same TSC.
const CLOCK_MAX: u64 = 7;

fn khz() -> u64 {
    match crate::tsc_khz() {
        0 => 1_000_000,
        k => k,
    }
}

fn ns_from_tsc(tsc: u64) -> u64 {
    (tsc as u128 * 1_000_000 / khz() as u128).min(u64::MAX as u128) as u64
}

pub(super) fn tsc_from_ns(ns: u64) -> u64 {
    (ns as u128 * khz() as u128 / 1_000_000).min(u64::MAX as u128) as u64
}

pub fn clock_gettime(clock: u64, tp: u64) -> i64 {
    if clock > CLOCK_MAX {
        return EINVAL;
    }
    let ns = ns_from_tsc(cpu::rdtsc());
    with_aspace(|a| put(a, tp, &[ns / NSEC, ns % NSEC]))
}

/// nanosleep and clock_nanosleep: yield to others until the TSC deadline.
pub fn nanosleep(f: &mut TrapFrame, clock: u64, flags: u64, req: u64) -> Ret {
    if clock > CLOCK_MAX {
        return Ret::Value(EINVAL);
    }
    let mut ts = [0u8; 16];
    if with_aspace(|a| if a.copy_in(&mut ts, req) { 0 } else { EFAULT }) != 0 {
        return Ret::Value(EFAULT);
    }
    let mut w = [0u64; 2];
    for (i, c) in ts.chunks(8).enumerate() {
        w[i] = c.iter().rev().fold(0, |acc, &b| (acc << 8) | b as u64);
    }
    let (sec, nsec) = (w[0] as i64, w[1]);
    if sec < 0 || nsec >= NSEC {
        return Ret::Value(EINVAL);
    }
    let ns = (sec as u64).saturating_mul(NSEC).saturating_add(nsec);
    let deadline = if flags & TIMER_ABSTIME != 0 {
        tsc_from_ns(ns)
    } else {
        cpu::rdtsc().saturating_add(tsc_from_ns(ns))
    };
    f.rax = 0;
    Ret::Switched(proc::sleep(f, deadline))
}

/// sched_yield(2): let another runnable process run; 0 either way.
pub fn sched_yield(f: &mut TrapFrame) -> Ret {
    f.rax = 0;
    Ret::Switched(proc::yield_from(f))
}
