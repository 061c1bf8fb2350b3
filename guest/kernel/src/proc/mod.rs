//! Processes and the scheduler: the process table and lookups over it
//! (each slot, `Proc`, is in slot.rs). One kernel stack per CPU serves every
//! process: no system call blocks, so a process's whole kernel-side state
//! is its trap frame and FPU area, a switch is a copy of the frame plus a
//! CR3 load, and any CPU can resume any process (smp.rs).
//! Round-robin; preemptive on the timer tick when the host has one,
//! otherwise the kernel switches after every system call and page fault.

mod cpus;
mod ended;
mod execve;
mod exit;
mod fork;
mod futex;
mod queue;
mod report;
mod sched;
mod slot;
mod thread;

pub use execve::execve;
pub use fork::{Clone, fork};
pub use futex::{FUTEX_CHAN, futex_requeue, futex_wake};
pub use thread::{exit_thread, set_group, signal_thread, tgid_of};

pub use cpus::{enter, flush_remote, leave};
use exit::all_done;
pub use exit::{
    BAD_BUFFER, Found, NO_CHILD, Which, exit_current, find_child, kill_other, siginfo, wait_chan,
    wait4_options, waitid_options,
};
pub use queue::{affinity, all_cpus, set_affinity};
pub use sched::{block, maybe_yield, run, sleep, tick, wakeup, yield_from};
pub use slot::{AltStack, Exit, Proc, SS_DISABLE, SigInfo, State};

use abi::msg::{NAME_MAX, PROC_CREATED};

use crate::entry::{TrapFrame, USER_CS, USER_SS};
use crate::exec::{self, elf, stack};
use crate::file::{Object, fdtable::FdTable};
use crate::fs;
use crate::mm::{
    addrspace::AddrSpace,
    fault::{Fault, Why},
    frame,
};
use crate::sync::KCell;
use report::report;

/// Processes at once, zombies included: fork beyond it fails with EAGAIN
/// (a fork bomb ends there).
pub const NPROC: usize = 64;

struct Table {
    procs: [Proc; NPROC],
    /// Per CPU: the slot it runs, NONE while it waits for work.
    cur: [usize; abi::layout::MAX_CPUS as usize],
    /// Per CPU: the group it gathers (cpus.rs), 0 for none.
    gathering: [u32; abi::layout::MAX_CPUS as usize],
    next_pid: u32,
    preemptive: bool,
    switches: u64,
    frames_free_at_start: u64,
    /// Processes that called exit with a non-zero status or signalled
    /// themselves (abort): the program itself says it failed. Kills for
    /// faults are protection working.
    failed: u32,
}

/// The process table and the scheduler's state. Protected by the big
/// kernel lock; `cur[c]` and `gathering[c]` are written only by CPU `c`
/// (and read by others, under the lock). `table()` is taken once per
/// operation; `current()` is the running slot of it, see its contract.
/// Every byte of its initialiser is zero, so it lives in .bss and the
/// image carries none of its ~2 MiB (issue 21): what does not start at
/// zero (`cur`, `next_pid`) `init` sets at boot.
static TABLE: KCell<Table> = KCell::new(Table {
    procs: [Proc::UNUSED; NPROC],
    cur: [0; abi::layout::MAX_CPUS as usize],
    gathering: [0; abi::layout::MAX_CPUS as usize],
    next_pid: 0,
    preemptive: false,
    switches: 0,
    frames_free_at_start: 0,
    failed: 0,
});

/// `Table::cur` of a CPU that runs no process.
const NONE: usize = usize::MAX;

impl Table {
    /// The slot this CPU runs.
    fn cur(&self) -> usize {
        self.cur[crate::smp::cpu()]
    }
}

/// The process table. Each function here takes it once, or passes it on
/// (switch_in); none holds it across a call that takes it again.
fn table() -> &'static mut Table {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { TABLE.get() }
}

/// The running process. Only called from a trap or syscall, when one runs.
///
/// # Safety
/// Only while a process runs (in a trap or syscall), and the result must
/// not be in use across a call back into this module (which may take the
/// process table again).
pub unsafe fn current() -> &'static mut Proc {
    let t = table();
    &mut t.procs[t.cur()]
}

/// Ready the table, once at boot before any process or other CPU runs:
/// no CPU runs a process, pids start at 1, and whether the timer tick
/// preempts (`preemptive`: the host has one).
pub fn init(preemptive: bool) {
    let t = table();
    t.cur = [NONE; abi::layout::MAX_CPUS as usize];
    t.next_pid = 1;
    t.preemptive = preemptive;
}

/// Create a process running the ELF image `img` with `argv`; `name` is
/// what reports call it, `module` its boot module index + 1 (0: built-in).
/// Err says why it cannot run (a bad image is refused, never trusted).
pub fn spawn(
    img: &[u8],
    name: &[u8],
    argv: &[&[u8]],
    env: &[&[u8]],
    module: u32,
) -> Result<u32, &'static str> {
    let t = table();
    if t.frames_free_at_start == 0 {
        t.frames_free_at_start = baseline();
    }
    let slot = t
        .procs
        .iter()
        .position(|p| p.state == State::Unused)
        .ok_or("process table full")?;
    let e = elf::parse(img)?;
    let mut aspace = AddrSpace::new().ok_or("out of memory")?;
    let sp = match exec::load(&mut aspace, &img, &e) {
        Ok(()) => stack::build(&mut aspace, &e, argv, env).ok_or("cannot build the start-up stack"),
        Err(why) => Err(why),
    };
    let sp = match sp {
        Ok(sp) => sp,
        Err(why) => {
            aspace.destroy();
            return Err(why);
        }
    };
    let stdin = if module == 1 {
        Object::Stdin
    } else {
        Object::Empty
    };
    let Some(fds) = FdTable::standard(stdin) else {
        aspace.destroy();
        return Err("the system's open-file table is full");
    };
    let pid = t.next_pid;
    t.next_pid += 1;
    let p = &mut t.procs[slot];
    *p = Proc::EMPTY;
    p.pid = pid;
    p.tgid = pid;
    p.module = module;
    let n = name.len().min(NAME_MAX);
    p.name[..n].copy_from_slice(&name[..n]);
    // Linux start-up state: every register zero (rdx too: glibc takes it
    // for an exit handler), rsp at argc.
    p.frame.rip = e.entry;
    p.frame.cs = USER_CS;
    p.frame.ss = USER_SS;
    p.frame.rflags = 0x202; // IF: the timer may preempt user code
    p.frame.rsp = sp;
    p.aspace = Some(aspace);
    p.fds = fds;
    p.state = State::Runnable;
    report(p, PROC_CREATED, None);
    Ok(pid)
}

/// The frames the end-of-run check expects back: those free now, and
/// those the file system holds (it gives every one back at the end).
fn baseline() -> u64 {
    frame::free_count() + fs::held()
}

/// Whether some process works in directory `ino` (a removed directory's
/// node stays while one does).
pub fn cwd_in_use(ino: u32) -> bool {
    table()
        .procs
        .iter()
        .any(|p| matches!(p.state, State::Runnable | State::Blocked(_)) && p.cwd == ino)
}

/// The kernel was handed `n` more frames after processes were created
/// (the boot modules, once loaded): the end-of-run check counts them.
pub fn frames_returned(n: u64) {
    let t = table();
    if t.frames_free_at_start == 0 {
        t.frames_free_at_start = baseline();
    } else {
        t.frames_free_at_start += n;
    }
}

/// A program the kernel refused to start: the run fails, as when a
/// process exits non-zero.
pub fn refused() {
    table().failed += 1;
}

/// si_code of a SIGSEGV for a fault where nothing is mapped.
const SEGV_MAPERR: i32 = 1;
/// si_code of a SIGSEGV for a fault the mapping's protection refused.
const SEGV_ACCERR: i32 = 2;

/// A user page fault: serve it, run the process's SIGSEGV handler, or
/// kill the process.
pub fn page_fault(f: &mut TrapFrame, addr: u64) {
    // SAFETY: a trap from a running process; p is done before exit_current.
    let p = unsafe { current() };
    let Some(a) = p.aspace.as_mut() else { return };
    match a.fault(addr, f.err) {
        Fault::Served => {
            maybe_yield(f);
        }
        Fault::Kill(why, reason) => {
            // A handler the program set for SIGSEGV runs (Go turns a nil
            // dereference into a panic there); out of memory just ends it.
            let code = match why {
                Why::MapErr => Some(SEGV_MAPERR),
                Why::AccErr => Some(SEGV_ACCERR),
                Why::NoMemory => None,
            };
            let sig = u64::from(abi::signals::SIGSEGV);
            if code.is_some_and(|c| crate::syscall::signal::fault(f, sig, c, addr)) {
                return;
            }
            exit_current(
                f,
                Exit::Fault {
                    vector: 14,
                    err: f.err,
                    addr,
                    rip: f.rip,
                    reason,
                },
            )
        }
    }
}
