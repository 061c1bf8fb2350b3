//! The scheduler: round-robin over each CPU's run queue (queue.rs),
//! switching on the timer tick when the host has one, else after every
//! system call and page fault. One kernel stack serves everyone, so a
//! system call that must wait (an empty pipe, a child still running)
//! does not sleep in the kernel: `block` rewinds the process to its
//! `syscall` instruction and parks it on a channel; `wakeup` makes it
//! runnable, and it makes the call again, as Linux restarts a call after
//! a signal.

use super::queue::{due_soon, far, make_runnable, pick, will_run};
use super::{Exit, NPROC, State, Table, exit_current, table};
use crate::arch::fsbase::{self, Seg};
use crate::arch::{self, cpu};
use crate::entry::{self, TrapFrame};
use crate::{kprint, kprintln, trace};

/// Nothing for this CPU to run for now: it runs no process and leaves
/// the last one's page table (another CPU may end that process), and
/// waits without the lock: halted, unless a deadline is due within a tick.
fn idle(first: bool) {
    if first {
        let t = table();
        t.cur[crate::smp::cpu()] = super::NONE;
        crate::smp::set_running(0);
        arch::set_cr3(crate::mm::kspace::root().get());
        entry::set_kernel_fx();
    }
    crate::smp::idle_wait(!due_soon(table(), cpu::rdtsc()));
}

/// A `live_gs` no process can have (not canonical): switch_in writes GS.
pub(super) const FORCE_GS: u64 = u64::MAX;

/// Make process `i` current: its page table, FS and GS bases, FPU area.
/// `live_gs` is the GS base now in the CPU, if known (else FORCE_GS).
fn switch_in(t: &mut Table, i: usize, live_gs: u64) {
    t.cur[crate::smp::cpu()] = i;
    crate::smp::set_running(t.procs[i].tgid);
    super::cpus::ran_here(t.procs[i].tgid);
    t.procs[i].ran |= 1 << crate::smp::cpu();
    super::thread::take_shared(t, i);
    let p = &mut t.procs[i];
    let prev = crate::running::set(p.tgid, p.execs);
    if let Some(a) = &p.aspace {
        arch::set_cr3(a.root.get());
        if crate::smp::take_stale() {
            arch::local_flush_all();
        }
        if let Some(prev) = prev {
            use abi::trace::EV_SWITCH;
            let cr3 = a.root.get();
            crate::trace::record(trace::now(), EV_SWITCH, 0, p.tgid, prev.into(), cr3, 0, 0);
        }
    }
    fsbase::write(p.fs_base);
    // Under PVM each GS access traps: most programs never set it, so
    // skip the write when the base is already the one live.
    if p.gs_base != live_gs {
        fsbase::write_base(Seg::Gs, p.gs_base);
    }
    entry::set_fx(&mut p.fpu);
}

/// Resume process `i` in `f`: switch to it, and if another process killed
/// it meanwhile, end it now (from its own context, as every exit is
/// reported) and resume the next one instead; else deliver a pending
/// signal.
pub(super) fn resume(f: &mut TrapFrame, i: usize, live_gs: u64) {
    let t = table();
    // Woken, or its deadline passed: it runs (a blocked call runs again).
    t.procs[i].state = State::Runnable;
    switch_in(t, i, live_gs);
    *f = t.procs[i].frame;
    if let Some(how) = t.procs[i].killed.take() {
        exit_current(f, how);
        return;
    }
    // A pending signal runs its handler now; a blocked call runs again
    // after it. Not pause or rt_sigsuspend (rewound: rax is the call):
    // they run again and return EINTR, delivering on the way out.
    let nr = f.rax;
    let rewound = core::mem::take(&mut t.procs[i].restarting);
    if rewound && (nr == abi::syscall::SYS_PAUSE || nr == abi::syscall::SYS_RT_SIGSUSPEND) {
        return;
    }
    if rewound && NEVER_RESTARTED.contains(&nr) {
        // Linux ends these waits with EINTR when a handler runs, whatever
        // SA_RESTART says: the handler returns past the call, with EINTR
        // and no deadline left over. With no handler to run (woken for
        // nothing, or the signal ended the process) the call stays
        // rewound and its deadline stands.
        let mut g = *f;
        g.rip = g.rip.wrapping_add(SYSCALL_LEN);
        g.rax = abi::syscall::EINTR as u64;
        let deadline = core::mem::take(&mut t.procs[i].call_deadline);
        if crate::syscall::signal::deliver(&mut g) {
            *f = g;
        } else {
            table().procs[i].call_deadline = deadline;
        }
        return;
    }
    crate::syscall::signal::deliver(f);
}

/// Waits a handler ends with EINTR rather than restarts (Linux's
/// ERESTARTNOHAND and plain EINTR): poll, select and epoll_wait in all
/// their forms.
const NEVER_RESTARTED: [u64; 7] = {
    use abi::syscall::*;
    [
        SYS_POLL,
        SYS_PPOLL,
        SYS_SELECT,
        SYS_PSELECT6,
        SYS_EPOLL_WAIT,
        SYS_EPOLL_PWAIT,
        SYS_EPOLL_PWAIT2,
    ]
};

/// Start the first process; never returns.
pub fn run() -> ! {
    let mut f = entry::ZERO_FRAME;
    run_next(&mut f, NPROC - 1, FORCE_GS);
    entry::return_to(&f)
}

/// Resume the next process that can run after slot `after` in `f`. While
/// every live process sleeps or runs on another CPU, wait. When none can
/// run, the run is over if no process is left; if some wait for good
/// (each on another), that is a deadlock: they are ended.
pub(super) fn run_next(f: &mut TrapFrame, after: usize, live_gs: u64) {
    let mut idled = false;
    loop {
        let t = table();
        if let Some(next) = pick(t, after) {
            resume(f, next, if idled { FORCE_GS } else { live_gs });
            return;
        }
        if !t.procs.iter().any(will_run) {
            break;
        }
        idle(!idled);
        idled = true;
    }
    let t = table();
    if t.procs.iter().any(|p| matches!(p.state, State::Blocked(_))) {
        deadlock(f)
    } else {
        super::all_done()
    }
}

/// Save the running process's frame and bases before it stops running.
pub(super) fn save_current(t: &mut Table, f: &TrapFrame) -> u64 {
    let cur = t.cur();
    t.procs[cur].frame = *f;
    t.procs[cur].fs_base = fsbase::read();
    let gs = fsbase::read_base(Seg::Gs);
    t.procs[cur].gs_base = gs;
    t.switches += 1;
    gs
}

/// Give the CPU to the next runnable process, if there is another. `f` is
/// the current process's live frame; on return it is the one to resume.
pub fn yield_from(f: &mut TrapFrame) -> bool {
    let t = table();
    let cur = t.cur();
    let Some(next) = pick(t, cur) else {
        return false;
    };
    if next == cur {
        return false;
    }
    let gs = save_current(t, f);
    resume(f, next, gs);
    true
}

/// A timer tick on this CPU in process frame `f`. With several CPUs a
/// process may be killed or signalled while it runs on another one: it
/// learns of it here, at the latest one tick later, instead of only when
/// it is next switched in.
pub fn tick(f: &mut TrapFrame) {
    let t = table();
    let cur = t.cur();
    if let Some(how) = t.procs[cur].killed.take() {
        exit_current(f, how);
        return;
    }
    // Not at a pause or sigsuspend that `block` rewound (rax is the
    // call): it must run again to return EINTR (see `resume`); a tick
    // that lands right on it leaves the signal to that call.
    let rewound = f.rax == abi::syscall::SYS_PAUSE || f.rax == abi::syscall::SYS_RT_SIGSUSPEND;
    let signalled = t.procs[cur].pending & !t.procs[cur].sigmask != 0 && !rewound;
    if !yield_from(f) && signalled {
        crate::syscall::signal::deliver(f);
    }
}

/// Sleep until the TSC reaches `deadline`: others run meanwhile; when no
/// one else can, wait here. True if `f` now holds another process's
/// frame (the sleeper resumes, with the rax already in its frame, once
/// its deadline has passed and it is picked).
pub fn sleep(f: &mut TrapFrame, deadline: u64) -> bool {
    let cur = table().cur();
    table().procs[cur].wake = deadline;
    loop {
        if yield_from(f) {
            return true;
        }
        if cpu::rdtsc() >= deadline {
            table().procs[cur].wake = 0;
            return false;
        }
        // Another CPU gathers its group: it sleeps aside, as a yield would.
        let t = table();
        if super::cpus::gathered_elsewhere(t, t.procs[cur].tgid) {
            let gs = save_current(t, f);
            run_next(f, cur, gs);
            return true;
        }
        // Its group stays on this CPU (`cur` is still it); others may run.
        // Halted while the deadline is more than a tick away (the tick, or
        // a kick when work comes here, ends the halt).
        super::cpus::relax(far(deadline));
    }
}

/// After a syscall or a served fault: switch if there is no timer to do it.
pub fn maybe_yield(f: &mut TrapFrame) -> bool {
    !table().preemptive && yield_from(f)
}

/// Length of the `syscall` instruction, which a blocked call runs again.
const SYSCALL_LEN: u64 = 2;

/// The running process waits on `chan` in system call `nr` (until TSC
/// `deadline` when not 0): rewind it to make the call again once woken,
/// and run someone else. Always switches (true): when nobody else can
/// run, every live process waits on another for good, and the kernel ends
/// them all rather than hang.
pub fn block(f: &mut TrapFrame, nr: u64, chan: u64, deadline: u64) -> bool {
    let t = table();
    let cur = t.cur();
    f.rax = nr;
    f.rip = f.rip.wrapping_sub(SYSCALL_LEN);
    t.procs[cur].state = State::Blocked(chan);
    t.procs[cur].restarting = true;
    t.procs[cur].wake = deadline;
    // With several CPUs a signal may have come while it ran, after it
    // last looked: it waits no more, as if the signal came now.
    let p = &t.procs[cur];
    if crate::smp::cpus() > 1 && p.pending & !p.sigmask != 0 {
        interrupt(t, cur);
    }
    let gs = save_current(t, f);
    run_next(f, cur, gs);
    true
}

/// Make every process waiting on `chan` runnable.
pub fn wakeup(chan: u64) {
    let t = table();
    for i in 0..NPROC {
        if t.procs[i].state == State::Blocked(chan) {
            make_runnable(t, i);
        }
    }
}

/// Make process slot `i` runnable whatever it waits on (a signal came).
pub(super) fn interrupt(t: &mut Table, i: usize) {
    if matches!(t.procs[i].state, State::Blocked(_)) {
        make_runnable(t, i);
    }
}

/// Every live process waits for another: none can ever run. Say so, and
/// end them all as SIGKILL would (each from its own context).
fn deadlock(f: &mut TrapFrame) {
    let t = table();
    kprintln!(
        "[kernel] deadlock: every live process waits on another (a pipe, a child or a futex); ending them"
    );
    for p in t.procs.iter() {
        if let State::Blocked(chan) = p.state {
            kprint!("[kernel]   pid {} {}", p.tgid, p.name());
            if p.tid_shown() {
                kprint!(" thread {}", p.pid);
            }
            match chan >> 32 {
                1 => kprintln!(": waits for a child"),
                2 => kprintln!(": waits on a pipe"),
                3 => kprintln!(": waits in poll"),
                _ if chan == super::FUTEX_CHAN => {
                    kprintln!(": waits on the futex at {:#x}", p.futex_addr)
                }
                _ => kprintln!(": waits"),
            }
        }
    }
    for i in 0..NPROC {
        if matches!(t.procs[i].state, State::Blocked(_)) {
            t.procs[i].state = State::Runnable;
            t.procs[i].killed = Some(Exit::Signal(abi::signals::SIGKILL));
        }
    }
    run_next(f, t.cur(), FORCE_GS);
}
