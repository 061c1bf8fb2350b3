//! Threads: clone(2) with CLONE_THREAD. A thread group shares one address
//! space and one descriptor table without a heap or a second table: they
//! live in the `Proc` slot of whichever thread of the group ran last (the
//! holder), and `switch_in` moves them to the thread about to run when it
//! is not the holder (a move of two small structs; the page tables stay
//! where they are). So every system call finds them in `current()`, as
//! for a process of one thread. What threads share that a syscall changes
//! (signal dispositions, working directory, umask) is written to every
//! thread of the group (`set_group`).
//!
//! A thread ends with exit(2) alone; exit_group, a fatal signal or a fault
//! ends the group: the other threads go at once, and the thread that ends
//! it reports the group to the VMM (once, as the process, with the group's
//! id) and tears it down, as the last thread out of exit(2) does.

use abi::syscall::{EAGAIN, EINVAL};

use super::sched::{FORCE_GS, run_next};
use super::{Exit, NPROC, Proc, State, Table, exit_current, futex, table};
use crate::arch;
use crate::entry::{self, TrapFrame};
use crate::file::fdtable::FdTable;
use crate::mm::kspace;

use super::fork::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID};
use super::fork::{CLONE_SIGHAND, CLONE_VM, Clone};

fn is_live(p: &Proc) -> bool {
    matches!(p.state, State::Runnable | State::Blocked(_))
}

/// A live thread of group `tgid` other than slot `not`.
fn other_member(t: &Table, tgid: u32, not: usize) -> Option<usize> {
    (0..NPROC).find(|&j| j != not && t.procs[j].tgid == tgid && is_live(&t.procs[j]))
}

/// Move the group's shared state (address space, descriptors, thread
/// count, unknown system calls seen) from slot `from` to slot `to`.
fn hand_over(t: &mut Table, from: usize, to: usize) {
    let aspace = t.procs[from].aspace.take();
    let fds = core::mem::replace(&mut t.procs[from].fds, FdTable::EMPTY);
    let threads = t.procs[from].threads;
    let (n, unknown) = (t.procs[from].nunknown, t.procs[from].unknown);
    let q = &mut t.procs[to];
    q.aspace = aspace;
    q.fds = fds;
    q.threads = threads;
    for &nr in &unknown[..(n as usize).min(unknown.len())] {
        q.note_unknown(nr.into());
    }
}

/// Before slot `i` runs: give it its group's address space and
/// descriptors if another thread holds them.
pub(super) fn take_shared(t: &mut Table, i: usize) {
    if t.procs[i].aspace.is_some() {
        return;
    }
    let tgid = t.procs[i].tgid;
    if let Some(j) =
        (0..NPROC).find(|&j| j != i && t.procs[j].tgid == tgid && t.procs[j].aspace.is_some())
    {
        hand_over(t, j, i);
    }
}

/// clone(2) with CLONE_THREAD: a thread of the caller's group on stack
/// `c.stack`, starting where the caller returns (rax 0). Its tid, or
/// -errno (EAGAIN when the process table is full: a thread bomb ends
/// there).
pub fn spawn(f: &TrapFrame, c: &Clone) -> i64 {
    if c.flags & CLONE_SIGHAND == 0 || c.flags & CLONE_VM == 0 {
        return EINVAL;
    }
    let t = table();
    let cur = t.cur();
    let Some(slot) = t.procs.iter().position(|p| p.state == State::Unused) else {
        return EAGAIN;
    };
    let tid = t.next_pid;
    t.next_pid += 1;
    let (parent, child) = super::fork::clone_into(&mut t.procs, cur, slot, f, c);
    child.pid = tid;
    child.tgid = parent.tgid;
    child.ppid = parent.ppid;
    child.forked = parent.forked;
    child.execs = parent.execs;
    // As on Linux: the creator's signal mask; no alternate stack (a thread
    // made with CLONE_VM must install its own: sharing one would let two
    // threads' handlers overwrite each other's frames).
    child.sigmask = parent.sigmask;
    if c.flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_tid = c.ctid;
    }
    parent.threads = parent.threads.saturating_add(1);
    if let Some(a) = parent.aspace.as_mut() {
        // A bad pointer is the caller's own loss: the thread exists.
        if c.flags & CLONE_CHILD_SETTID != 0 {
            let _ = a.copy_out(c.ctid, &tid.to_le_bytes());
        }
        if c.flags & CLONE_PARENT_SETTID != 0 {
            let _ = a.copy_out(c.ptid, &tid.to_le_bytes());
        }
    }
    // Its stack region, for the report: where its first push lands.
    child.stack = parent
        .aspace
        .as_ref()
        .and_then(|a| a.region_of(c.stack.checked_sub(1)?))
        .map_or((0, 0), |r| (r.start, r.end));
    child.state = State::Runnable;
    super::queue::place(t, slot);
    tid as i64
}

/// The group of live thread `tid`, if there is one.
pub fn tgid_of(tid: u32) -> Option<u32> {
    table()
        .procs
        .iter()
        .find(|p| p.pid == tid && is_live(p))
        .map(|p| p.tgid)
}

/// tgkill of `sig` to live thread `tid` of the caller's group, where it
/// does not end the group (`fatal` says whether it would, given that
/// thread's mask): pending on that thread alone, which takes it when it
/// next returns to user code (woken if it waits). None if there is no such
/// thread; Some(false) if the signal is fatal there and was not posted.
pub fn signal_thread(
    tid: u32,
    sig: u64,
    info: super::SigInfo,
    fatal: impl Fn(&Proc) -> bool,
) -> Option<bool> {
    let t = table();
    let tgid = t.procs[t.cur()].tgid;
    let i = (0..NPROC)
        .find(|&j| t.procs[j].pid == tid && t.procs[j].tgid == tgid && is_live(&t.procs[j]))?;
    if fatal(&t.procs[i]) {
        return Some(false);
    }
    crate::syscall::signal::post(&mut t.procs[i], sig, info);
    super::sched::interrupt(t, i);
    Some(true)
}

/// Apply `f` to every live thread of the caller's group (the caller too):
/// what threads share that is kept per slot.
pub fn set_group(mut f: impl FnMut(&mut Proc)) {
    let t = table();
    let tgid = t.procs[t.cur()].tgid;
    for p in t.procs.iter_mut() {
        if p.tgid == tgid && is_live(p) {
            f(p);
        }
    }
}

/// exit(2): end the running thread alone. The last thread of its group
/// ends the process with `code`.
pub fn exit_thread(f: &mut TrapFrame, code: u64) {
    let t = table();
    let cur = t.cur();
    t.procs[cur].thread_exit = Some((code & 0xff) as u32);
    if other_member(t, t.procs[cur].tgid, cur).is_none() {
        exit_current(f, Exit::Status((code & 0xff) as i64));
        return;
    }
    note_end(t, cur);
    // CLONE_CHILD_CLEARTID: pthread_join waits for this word to be 0.
    let (tgid, ctid) = (t.procs[cur].tgid, t.procs[cur].clear_tid);
    if ctid != 0
        && let Some(a) = t.procs[cur].aspace.as_mut()
        && a.copy_out(ctid, &0u32.to_le_bytes())
    {
        futex::futex_wake(tgid, ctid, 1, u32::MAX);
    }
    leave(f, table().cur());
}

/// The running thread's whole group ends: every other thread of it
/// goes now (none is running, and what they share is the running one's
/// to tear down), so the running one is the last and reports the group.
pub(super) fn end_group() {
    let t = table();
    let cur = t.cur();
    let tgid = t.procs[cur].tgid;
    for j in 0..NPROC {
        if j != cur && t.procs[j].tgid == tgid && is_live(&t.procs[j]) {
            note_end(t, j);
            t.procs[j].state = State::Unused;
            t.procs[j].killed = None;
            t.procs[j].wake = 0;
        }
    }
    note_end(t, cur);
}

/// Keep how thread `j` ended for its group's report (ended.rs), when
/// its group has had more than one thread. The running thread holds the
/// group's shared state.
fn note_end(t: &Table, j: usize) {
    let holder = &t.procs[t.cur()];
    if holder.threads > 1 {
        let p = &t.procs[j];
        super::ended::record(p, p.thread_exit, holder.aspace.as_ref());
    }
}

/// The running thread (slot `cur`) goes while others of its group live:
/// they get the shared state, its slot is free, and the next runs in `f`.
fn leave(f: &mut TrapFrame, cur: usize) {
    let t = table();
    arch::set_cr3(kspace::root().get());
    entry::set_kernel_fx();
    if let Some(j) = other_member(t, t.procs[cur].tgid, cur) {
        hand_over(t, cur, j);
    }
    t.procs[cur].state = State::Unused;
    t.procs[cur].killed = None;
    run_next(f, cur, FORCE_GS);
}
