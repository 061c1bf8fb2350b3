//! Clocks from the TSC, sleeping, yielding. CLOCK_REALTIME (and
//! gettimeofday, time) is the host's wall clock at boot, which the VMM puts
//! in BootInfo with the guest TSC of that moment, plus the TSC since; the
//! other clocks count from boot. Without a TSC frequency from the VMM
//! (QEMU) the kernel assumes 1 GHz, as the built-in programs do, and
//! without a wall clock REALTIME counts from the epoch.

use abi::Pod;
use abi::syscall::{EFAULT, EINVAL};

use super::{Ret, put, with_aspace};
use crate::arch::cpu;
use crate::entry::TrapFrame;
use crate::proc;

use core::sync::atomic::{AtomicU64, Ordering};

const TIMER_ABSTIME: u64 = 1;
const CLOCK_REALTIME: u64 = 0;
const CLOCK_REALTIME_COARSE: u64 = 5;

/// The guest TSC at `_start`: the other clocks count from there.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// The wall clock (ns since the epoch) at guest TSC `REALTIME_TSC`.
static REALTIME_NS: AtomicU64 = AtomicU64::new(0);
static REALTIME_TSC: AtomicU64 = AtomicU64::new(0);

/// Set the clocks' origins once, at boot: the TSC at `_start`, and the
/// host's wall clock with the guest TSC of the same moment.
pub fn init(boot_tsc: u64, realtime_ns: u64, realtime_tsc: u64) {
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
    REALTIME_NS.store(realtime_ns, Ordering::Relaxed);
    REALTIME_TSC.store(realtime_tsc, Ordering::Relaxed);
}

fn is_realtime(clock: u64) -> bool {
    clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE
}

/// `clock`'s origin: (its reading in ns, the guest TSC at that reading).
fn origin(clock: u64) -> (u64, u64) {
    if is_realtime(clock) {
        (
            REALTIME_NS.load(Ordering::Relaxed),
            REALTIME_TSC.load(Ordering::Relaxed),
        )
    } else {
        (0, BOOT_TSC.load(Ordering::Relaxed))
    }
}

/// Nanoseconds on `clock` now: the wall clock for the REALTIME clocks,
/// time since boot for the others.
fn now_ns(clock: u64) -> u64 {
    let (ns0, tsc0) = origin(clock);
    ns0.saturating_add(ns_from_tsc(cpu::rdtsc().saturating_sub(tsc0)))
}

/// The wall clock now, in ns since the epoch (file times).
pub fn realtime_ns() -> u64 {
    now_ns(CLOCK_REALTIME)
}

/// The TSC at which `clock` reads `ns` (a TIMER_ABSTIME deadline).
pub(super) fn tsc_at(clock: u64, ns: u64) -> u64 {
    let (ns0, tsc0) = origin(clock);
    tsc0.saturating_add(tsc_from_ns(ns.saturating_sub(ns0)))
}
const NSEC: u64 = 1_000_000_000;
/// Clocks the kernel answers for: REALTIME, MONOTONIC, PROCESS_ and
/// THREAD_CPUTIME, MONOTONIC_RAW, REALTIME_ and MONOTONIC_COARSE,
/// BOOTTIME. All read the same TSC.
const CLOCK_MAX: u64 = 7;

fn khz() -> u64 {
    match crate::arch::tsc_khz() {
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
    let ns = now_ns(clock);
    with_aspace(|a| put(a, tp, &[ns / NSEC, ns % NSEC]))
}

/// gettimeofday(2): the wall clock in seconds and microseconds; a NULL
/// `tv` is fine, and the timezone (obsolete) is left alone.
pub fn gettimeofday(tv: u64) -> i64 {
    if tv == 0 {
        return 0;
    }
    let ns = now_ns(CLOCK_REALTIME);
    with_aspace(|a| put(a, tv, &[ns / NSEC, ns % NSEC / 1000]))
}

/// time(2): seconds since the epoch, also stored at `t` unless NULL.
pub fn time(t: u64) -> i64 {
    let secs = now_ns(CLOCK_REALTIME) / NSEC;
    if t != 0 && with_aspace(|a| put(a, t, &secs)) != 0 {
        return EFAULT;
    }
    secs as i64
}

/// The struct timespec at user `va`, in ns: EFAULT if it cannot be read,
/// EINVAL if seconds are negative or nanoseconds out of range (as Linux).
pub(super) fn read_timespec(va: u64) -> Result<u64, i64> {
    let mut b = [0u8; 16];
    if with_aspace(|a| if a.copy_in(&mut b, va) { 0 } else { EFAULT }) != 0 {
        return Err(EFAULT);
    }
    let [sec, nsec] = <[i64; 2]>::from_bytes(&b).ok_or(EFAULT)?;
    if sec < 0 || !(0..NSEC as i64).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(NSEC)
        .saturating_add(nsec as u64))
}

/// nanosleep and clock_nanosleep: yield to others until the TSC deadline.
pub fn nanosleep(f: &mut TrapFrame, clock: u64, flags: u64, req: u64) -> Ret {
    if clock > CLOCK_MAX {
        return Ret::Value(EINVAL);
    }
    let ns = match read_timespec(req) {
        Ok(ns) => ns,
        Err(e) => return Ret::Value(e),
    };
    let deadline = if flags & TIMER_ABSTIME != 0 {
        tsc_at(clock, ns)
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
