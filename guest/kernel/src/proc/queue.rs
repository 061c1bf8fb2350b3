//! The run queues: one per CPU, and which thread runs next on this one.
//!
//! A thread's queue is the CPU in its slot (`Proc::cpu`): the process
//! table is small (NPROC slots), so a queue is the set of slots that name
//! its CPU, walked round-robin, rather than a list of its own. A CPU picks
//! from its own queue first; when that holds nothing else ready, it takes
//! a ready thread from another CPU's queue (a steal: the thread migrates
//! here). At a timer tick that also rotates threads among the CPUs when
//! there are more ready threads than CPUs, so each gets its share.
//!
//! A thread made runnable (woken, signalled, made by fork or clone) goes
//! to the queue of the CPU it last ran on, unless that CPU is busy and
//! another is idle; a CPU that waits for work (idle.rs) is kicked.
//!
//! Affinity (sched_setaffinity): a thread is only ever picked by, and
//! placed on, a CPU in its mask.

use super::{NPROC, Proc, State, Table};
use crate::arch::cpu;
use crate::{idle, smp};

/// Every CPU there is, one bit each.
pub fn all_cpus() -> u32 {
    ((1u64 << smp::cpus()) - 1) as u32
}

/// Whether process `p` may run at TSC `now`: runnable and not asleep
/// until later, or waiting with a deadline that has passed.
fn ready(p: &Proc, now: u64) -> bool {
    match p.state {
        State::Runnable => p.wake <= now,
        State::Blocked(_) => p.wake != 0 && p.wake <= now,
        _ => false,
    }
}

/// Whether process `p` will run some day without anyone waking it.
pub(super) fn will_run(p: &Proc) -> bool {
    p.state == State::Runnable || (matches!(p.state, State::Blocked(_)) && p.wake != 0)
}

/// Whether another CPU runs a thread of `p`'s group. Without an
/// in-kernel LAPIC (no timer, no IPIs) a group runs on one CPU at a time:
/// no other CPU could be made to forget a mapping (smp.rs).
fn group_elsewhere(t: &Table, p: &Proc) -> bool {
    let me = smp::cpu();
    t.cur
        .iter()
        .enumerate()
        .take(smp::cpus())
        .any(|(c, &i)| c != me && i != super::NONE && t.procs[i].tgid == p.tgid)
}

/// Whether another CPU runs slot `i`.
fn running_elsewhere(t: &Table, i: usize) -> bool {
    let me = smp::cpu();
    t.cur
        .iter()
        .enumerate()
        .take(smp::cpus())
        .any(|(c, &j)| c != me && j == i)
}

/// Whether slot `i` may run on CPU `me` at TSC `now`.
fn may_run_here(t: &Table, i: usize, me: usize, now: u64) -> bool {
    let p = &t.procs[i];
    p.affinity & (1 << me) != 0
        && ready(p, now)
        && !running_elsewhere(t, i)
        && !super::cpus::gathered_elsewhere(t, p.tgid)
        && (crate::timer::running() || !group_elsewhere(t, p))
}

/// The next thread this CPU runs after slot `after` (round-robin): one of
/// its own queue, else one stolen from another CPU's queue (now in this
/// one), else `after` itself if it may go on.
pub(super) fn pick(t: &mut Table, after: usize) -> Option<usize> {
    let me = smp::cpu();
    let now = cpu::rdtsc();
    let others = (1..NPROC).map(|k| after.wrapping_add(k) % NPROC);
    let own = others
        .clone()
        .find(|&i| t.procs[i].cpu as usize == me && may_run_here(t, i, me, now));
    let next = own
        .or_else(|| others.clone().find(|&i| may_run_here(t, i, me, now)))
        .or_else(|| (after < NPROC && may_run_here(t, after, me, now)).then_some(after))?;
    t.procs[next].cpu = me as u32;
    Some(next)
}

/// Whether CPU `c` has nothing to do: it runs no thread, or waits in a
/// halt (a sleeper's, `sched::sleep`).
fn idle_cpu(t: &Table, c: usize) -> bool {
    t.cur[c] == super::NONE || idle::waiting(c)
}

/// Slot `i` became runnable: put it in a queue (its last CPU's, unless
/// that one is busy and another in its mask is idle) and kick that CPU if
/// it waits for work.
pub(super) fn place(t: &mut Table, i: usize) {
    let mask = t.procs[i].affinity & all_cpus();
    let last = t.procs[i].cpu as usize;
    let allowed = |c: usize| mask & (1 << c) != 0;
    let target = if allowed(last) && idle_cpu(t, last) {
        last
    } else if let Some(c) = (0..smp::cpus()).find(|&c| allowed(c) && idle_cpu(t, c)) {
        c
    } else if allowed(last) {
        last
    } else {
        mask.trailing_zeros().min(smp::cpus() as u32 - 1) as usize
    };
    t.procs[i].cpu = target as u32;
    idle::kick(target);
}

/// Make slot `i` runnable, with no deadline, and queue it.
pub(super) fn make_runnable(t: &mut Table, i: usize) {
    t.procs[i].state = State::Runnable;
    t.procs[i].wake = 0;
    place(t, i);
}

/// Whether a thread this CPU may run has a deadline within one timer tick
/// (from TSC `now`): then it waits spinning rather than halted, or that
/// deadline would wait for the next tick.
pub(super) fn due_soon(t: &Table, now: u64) -> bool {
    let me = smp::cpu();
    let tick = crate::arch::tsc_khz().saturating_mul(1000) / u64::from(crate::timer::HZ);
    t.procs.iter().any(|p| {
        will_run(p)
            && p.wake != 0
            && p.affinity & (1 << me) != 0
            && (tick == 0 || p.wake.saturating_sub(now) <= tick)
    })
}

/// Whether a deadline at TSC `deadline` is more than one tick away.
pub(super) fn far(deadline: u64) -> bool {
    let tick = crate::arch::tsc_khz().saturating_mul(1000) / u64::from(crate::timer::HZ);
    tick != 0 && deadline.saturating_sub(cpu::rdtsc()) > tick
}

/// The slot of live thread `tid` (0: the caller).
fn slot_of(t: &Table, tid: u32) -> Option<usize> {
    if tid == 0 {
        return Some(t.cur());
    }
    t.procs
        .iter()
        .position(|p| p.pid == tid && matches!(p.state, State::Runnable | State::Blocked(_)))
}

/// The CPUs live thread `tid` (0: the caller) may run on.
pub fn affinity(tid: u32) -> Option<u32> {
    let t = super::table();
    slot_of(t, tid).map(|i| t.procs[i].affinity & all_cpus())
}

/// Live thread `tid` (0: the caller) runs only on the CPUs of `mask` (not
/// empty, within `all_cpus`) from now on. A thread running on a CPU
/// outside it is made to leave (an IPI: its entry puts it aside, see
/// cpus.rs `enter`); a waiting one is queued on a CPU inside it. None if
/// there is no such thread; Some(true) if it is the caller and must leave
/// this CPU (cpus.rs `leave`).
pub fn set_affinity(tid: u32, mask: u32) -> Option<bool> {
    let t = super::table();
    let i = slot_of(t, tid)?;
    t.procs[i].affinity = mask;
    let me = smp::cpu();
    if i == t.cur() {
        return Some(mask & (1 << me) == 0);
    }
    let on = (0..smp::cpus()).find(|&c| c != me && t.cur[c] == i);
    match on {
        Some(c) if mask & (1 << c) == 0 && crate::timer::running() => smp::ipi(c),
        Some(_) => {}
        None if mask & (1 << t.procs[i].cpu) != 0 => {}
        None if t.procs[i].state == State::Runnable => place(t, i),
        None => t.procs[i].cpu = mask.trailing_zeros(),
    }
    Some(false)
}
