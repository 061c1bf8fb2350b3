//! The process side of several CPUs (smp.rs has the machine side): what
//! every kernel entry checks first, gathering a thread group onto one CPU
//! before it ends or replaces its image, and the TLB-shootdown counters
//! each process reports.
//!
//! Threads of one group run on several CPUs at once. Their address space
//! and descriptors live in the slot of whichever thread is in the kernel
//! (thread.rs hands them over), so every entry takes them first. Ending
//! or replacing the whole group (exit_group, a fatal signal or fault,
//! execve) needs the group off every other CPU: `gather` asks those CPUs
//! (an IPI) to put its threads aside and waits until they have.

use abi::layout::MAX_CPUS;

use super::sched::{FORCE_GS, run_next, save_current};
use super::{NONE, NPROC, Table, table};
use crate::entry::TrapFrame;
use crate::smp;
use crate::sync::KCell;

/// Length of the `syscall` instruction (a call put aside runs again).
const SYSCALL_LEN: u64 = 2;

/// Whether a CPU other than this one is gathering group `tgid`.
pub(super) fn gathered_elsewhere(t: &Table, tgid: u32) -> bool {
    let me = smp::cpu();
    t.gathering
        .iter()
        .enumerate()
        .any(|(c, &g)| c != me && g == tgid)
}

/// First thing on every entry from user mode, under the lock (after
/// `smp::gate`): take the group's shared state into the running thread's
/// slot; put the thread aside if another CPU gathers its group (a system
/// call is rewound to run again). True when `f` now holds another frame
/// (or this CPU's next), not to be dispatched.
pub fn enter(f: &mut TrapFrame, syscall: bool) -> bool {
    let t = table();
    let cur = t.cur();
    if cur == NONE {
        run_next(f, NPROC - 1, FORCE_GS);
        return true;
    }
    super::thread::take_shared(t, cur);
    // Its affinity no longer holds this CPU (set from another CPU).
    let outside = t.procs[cur].affinity & (1 << smp::cpu()) == 0;
    if !outside && !gathered_elsewhere(t, t.procs[cur].tgid) {
        return false;
    }
    if syscall {
        f.rip = f.rip.wrapping_sub(SYSCALL_LEN);
    }
    let gs = save_current(t, f);
    if outside {
        super::queue::place(t, cur);
    }
    run_next(f, cur, gs);
    true
}

/// The running thread may no longer run on this CPU (its own
/// sched_setaffinity): queue it on a CPU it may run on and resume the
/// next one here; `f` (the call's result already in it) is then that one.
pub fn leave(f: &mut TrapFrame) {
    let t = table();
    let cur = t.cur();
    let gs = save_current(t, f);
    super::queue::place(t, cur);
    run_next(f, cur, gs);
}

/// `smp::relax` for a CPU that runs a thread: meanwhile another thread of
/// its group may have entered the kernel and taken the group's shared
/// state (`enter`), so it takes it back.
/// With `halt`, this CPU halts until an interrupt instead (idle.rs).
pub(super) fn relax(halt: bool) {
    if halt {
        smp::idle_wait(true);
    } else {
        smp::relax();
    }
    let t = table();
    let cur = t.cur();
    if cur != NONE {
        super::thread::take_shared(t, cur);
    }
}

/// Before the running thread ends or replaces its whole group: until no
/// other CPU runs a thread of it, ask them (once each, by IPI) and wait.
pub(super) fn gather() {
    let mut asked = 0u32;
    loop {
        let t = table();
        let me = smp::cpu();
        let tgid = t.procs[t.cur()].tgid;
        let mut others = 0u32;
        for c in 0..smp::cpus() {
            let i = t.cur[c];
            if c != me && i != NONE && t.procs[i].tgid == tgid {
                others |= 1 << c;
            }
        }
        if others == 0 {
            t.gathering[me] = 0;
            return;
        }
        t.gathering[me] = tgid;
        for c in 0..smp::cpus() {
            if others & !asked & (1 << c) != 0 {
                smp::ipi(c);
            }
        }
        asked |= others;
        relax(false);
    }
}

/// A group's shootdown counters (by its id), until its report takes them.
#[derive(Clone, Copy, Default)]
pub struct Shots {
    pub tgid: u32,
    pub shootdowns: u32,
    pub pages: u32,
    pub cycles: u64,
    /// The CPUs its threads ran on, one bit each.
    pub ran: u32,
}

/// Per-process TLB shootdown counts. Protected by the big kernel lock;
/// taken once per update by `shots_of` or `take_shots`.
static SHOTS: KCell<[Shots; NPROC]> = KCell::new(
    [Shots {
        tgid: 0,
        shootdowns: 0,
        pages: 0,
        cycles: 0,
        ran: 0,
    }; NPROC],
);

/// Group `tgid`'s counters, made if it has none (None: the table is full,
/// and the count is dropped: bounded, a group of NPROC threads has at
/// most NPROC ids).
fn shots_of(tgid: u32) -> Option<&'static mut Shots> {
    // SAFETY: under the lock; each caller takes it once (sync.rs).
    let shots = unsafe { SHOTS.get() };
    let i = match shots.iter().position(|s| s.tgid == tgid) {
        Some(i) => i,
        None => shots.iter().position(|s| s.tgid == 0)?,
    };
    shots[i].tgid = tgid;
    Some(&mut shots[i])
}

/// Group `tgid` runs on this CPU now.
pub(super) fn ran_here(tgid: u32) {
    if let Some(s) = shots_of(tgid) {
        s.ran |= 1 << smp::cpu();
    }
}

/// `smp::flush_remote`, counted for the group whose change it was.
pub fn flush_remote() {
    let Some((tgid, shot)) = smp::flush_remote() else {
        return;
    };
    if let Some(s) = shots_of(tgid) {
        s.shootdowns = s.shootdowns.saturating_add(shot.ipis);
        s.pages = s.pages.saturating_add(shot.pages);
        s.cycles = s.cycles.saturating_add(shot.cycles);
    }
}

/// Group `tgid`'s counters since the last take (its report).
pub fn take_shots(tgid: u32) -> Shots {
    // SAFETY: under the lock; taken once here.
    let shots = unsafe { SHOTS.get() };
    match shots.iter_mut().find(|s| s.tgid == tgid) {
        Some(s) => core::mem::take(s),
        None => Shots::default(),
    }
}

const _: () = assert!(MAX_CPUS <= 32);
