//! Processes and the scheduler. One kernel stack per CPU serves every
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
mod report;
mod sched;
mod thread;

pub use execve::execve;
pub use fork::{Clone, fork};
pub use futex::{FUTEX_CHAN, futex_requeue, futex_wake};
pub use thread::{exit_thread, set_group, signal_thread, tgid_of};

pub use cpus::{enter, flush_remote};
use exit::all_done;
pub use exit::{
    BAD_BUFFER, Found, NO_CHILD, Which, exit_current, find_child, kill_other, siginfo, wait_chan,
    wait4_options, waitid_options,
};
pub use sched::{block, maybe_yield, run, sleep, tick, wakeup, yield_from};

use abi::msg::{self, MAX_UNKNOWN, NAME_MAX, PROC_CREATED};

use crate::entry::{self, TrapFrame, USER_CS, USER_SS};
use crate::exec::{self, elf, stack};
use crate::file::{Object, fdtable::FdTable};
use crate::fpu::FpuArea;
use crate::fs;
use crate::mm::{
    frame,
    uvm::{AddrSpace, Fault, Why},
};
use crate::sync::KCell;
use report::report;

/// Processes at once, zombies included: fork beyond it fails with EAGAIN
/// (a fork bomb ends there).
pub const NPROC: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unused,
    Runnable,
    /// Waiting in a system call for something to happen on this channel
    /// (a pipe, a child's exit): `block` rewound the call, `wakeup` makes
    /// it runnable again, and it runs the call again.
    Blocked(u64),
    /// Exited; its parent has not collected its status yet (wait4).
    Zombie,
}

/// How a process ended.
#[derive(Clone, Copy)]
pub enum Exit {
    Status(i64),
    /// Killed by a signal it sent itself (abort's SIGABRT); reported to the
    /// VMM as the status a shell shows, 128 + the signal.
    Signal(u32),
    Fault {
        vector: u64,
        err: u64,
        addr: u64,
        rip: u64,
        reason: &'static str,
    },
    /// Not an end: execve replaced the image (the pid goes on).
    Exec,
}

/// sigaltstack's flag for "no alternate stack".
pub const SS_DISABLE: u64 = 2;

/// An alternate signal stack as sigaltstack(2) installed it (stack_t's
/// ss_sp, ss_flags, ss_size).
#[derive(Clone, Copy)]
pub struct AltStack {
    pub sp: u64,
    pub flags: u64,
    pub size: u64,
}

impl AltStack {
    /// No alternate stack, as a process starts.
    pub const NONE: AltStack = AltStack {
        sp: 0,
        flags: SS_DISABLE,
        size: 0,
    };
}

/// The siginfo_t fields the kernel fills for a signal: si_code (SI_USER
/// 0 for kill, CLD_* for SIGCHLD), the sender's pid, si_status; or, for
/// a fault (SIGSEGV, SIGFPE, ...), si_addr in place of pid and status.
#[derive(Clone, Copy)]
pub struct SigInfo {
    pub code: i32,
    pub pid: u32,
    pub status: i32,
    pub addr: Option<u64>,
}

impl SigInfo {
    pub const USER: SigInfo = SigInfo {
        code: 0,
        pid: 0,
        status: 0,
        addr: None,
    };
}

pub struct Proc {
    pub state: State,
    /// Its thread id (Linux's tid; the pid of a process of one thread).
    pub pid: u32,
    /// Its thread group's id, what getpid returns: the pid of the thread
    /// that started the group. Threads share one address space and one
    /// descriptor table, held by whichever of them ran last (`thread.rs`).
    pub tgid: u32,
    /// Threads its group has made, itself included (kept by the holder).
    pub threads: u32,
    /// The CPUs this thread ran on, one bit each; exit(2)'s code once it
    /// called it; the region its clone stack pointer was in (ended.rs).
    pub ran: u32,
    pub thread_exit: Option<u32>,
    pub stack: (u64, u64),
    /// CLONE_CHILD_CLEARTID's address: at its exit, 0 is written there
    /// and one futex waiter on it woken (pthread_join waits there).
    pub clear_tid: u64,
    /// set_robust_list's head: remembered, not walked.
    pub robust_list: u64,
    /// The futex it waits on (user address in its group's space) while
    /// Blocked(FUTEX_CHAN), with the bits a wake must share.
    pub futex_addr: u64,
    pub futex_bits: u32,
    /// A futex wake chose it: its restarted FUTEX_WAIT returns 0.
    pub futex_woken: bool,
    pub name: [u8; NAME_MAX],
    pub frame: TrapFrame,
    pub fpu: FpuArea,
    pub aspace: Option<AddrSpace>,
    pub pattern_gva: u64,
    pub pattern: u64,
    /// The next byte this process writes starts a console line (for the
    /// prefix the kernel prints itself when there is no microvmm device).
    pub at_line_start: bool,
    /// FS base as of the last switch out (live in the CPU while it runs).
    pub fs_base: u64,
    /// GS base, the same way: user code can set it too.
    pub gs_base: u64,
    /// Index + 1 of the boot module it was loaded from; 0 for a built-in.
    pub module: u32,
    /// Distinct unknown system call numbers, the first MAX_UNKNOWN kept.
    pub nunknown: u32,
    pub unknown: [u32; MAX_UNKNOWN],
    /// TSC deadline of a sleep: not picked to run before it.
    pub wake: u64,
    /// What sigaltstack(2) installed (handlers with SA_ONSTACK run on it).
    pub altstack: AltStack,
    /// Its file descriptors.
    pub fds: FdTable,
    /// Its working directory (a node of the RAM file system).
    pub cwd: u32,
    /// Its file mode creation mask (umask(2)); fork copies it.
    pub umask: u32,
    /// Its parent's pid; 0 when the kernel started it or adopted it.
    pub ppid: u32,
    /// A signal from another process ended it: it exits with this the
    /// next time it would run.
    pub killed: Option<Exit>,
    /// As wait4 reports it (Linux's encoding), once a Zombie.
    pub wstatus: i32,
    /// Made by fork (not started by the kernel).
    pub forked: bool,
    /// Images it ran before the current one (successful execve calls).
    pub execs: u32,
    /// What rt_sigaction installed per signal (handler, flags, restorer,
    /// mask); `syscall::signal` runs the handlers.
    pub sigactions: [[u64; 4]; 64],
    /// Blocked signals (bit sig - 1); never SIGKILL or SIGSTOP.
    pub sigmask: u64,
    /// Signals sent and not yet delivered (bit sig - 1).
    pub pending: u64,
    /// What each pending signal's siginfo_t says.
    pub siginfo: [SigInfo; 64],
    /// A handler runs: until its rt_sigreturn no other is delivered (one
    /// at a time), and `sigfpu` holds the interrupted FPU state.
    pub in_handler: bool,
    /// The interrupted call's `call_deadline`, while a handler runs.
    pub sig_deadline: u64,
    /// The stack range [lo, hi) the running handler is on: the alternate
    /// stack, or below the end of its frame. A stack pointer outside it
    /// means the handler was left without rt_sigreturn (siglongjmp).
    pub handler_stack: (u64, u64),
    /// `block` rewound it to its `syscall` instruction (rax is the call's
    /// number, not a value of the program's).
    pub restarting: bool,
    /// The FPU state of the code a handler interrupted, restored by
    /// rt_sigreturn (kept here, not on the user stack: fpstate is 0).
    pub sigfpu: FpuArea,
    /// The mask rt_sigsuspend replaced, to restore once the signal that
    /// ends it is delivered.
    pub suspend_mask: Option<u64>,
    /// TSC deadline of the timed wait in progress (poll, select), kept
    /// across the call's restarts; 0 when none.
    pub call_deadline: u64,
}

impl Proc {
    const EMPTY: Proc = Proc {
        state: State::Unused,
        pid: 0,
        tgid: 0,
        threads: 1,
        ran: 0,
        thread_exit: None,
        stack: (0, 0),
        clear_tid: 0,
        robust_list: 0,
        futex_addr: 0,
        futex_bits: 0,
        futex_woken: false,
        name: [0; NAME_MAX],
        frame: entry::ZERO_FRAME,
        fpu: FpuArea::clean(),
        aspace: None,
        pattern_gva: 0,
        pattern: 0,
        at_line_start: true,
        fs_base: 0,
        gs_base: 0,
        module: 0,
        nunknown: 0,
        unknown: [0; MAX_UNKNOWN],
        wake: 0,
        altstack: AltStack::NONE,
        fds: FdTable::EMPTY,
        cwd: fs::ROOT,
        umask: 0o022,
        ppid: 0,
        killed: None,
        wstatus: 0,
        forked: false,
        execs: 0,
        call_deadline: 0,
        sigactions: [[0; 4]; 64],
        sigmask: 0,
        pending: 0,
        siginfo: [SigInfo::USER; 64],
        in_handler: false,
        sig_deadline: 0,
        handler_stack: (0, 0),
        restarting: false,
        sigfpu: FpuArea::clean(),
        suspend_mask: None,
    };

    pub fn name(&self) -> &str {
        core::str::from_utf8(msg::until_nul(&self.name)).unwrap_or("?")
    }

    /// Whether its tid is worth showing: it is not its process's first
    /// thread (whose tid is the pid).
    pub fn tid_shown(&self) -> bool {
        self.pid != self.tgid
    }

    /// Remember an unknown system call number (each distinct one once).
    pub fn note_unknown(&mut self, nr: u64) {
        let nr = nr.min(u32::MAX as u64) as u32;
        let kept = (self.nunknown as usize).min(MAX_UNKNOWN);
        if self.unknown[..kept].contains(&nr) {
            return;
        }
        if kept == MAX_UNKNOWN {
            // Past the list: count each number once still, as far as we
            // can tell (a number past the first 16 may be counted again).
            self.nunknown = self.nunknown.saturating_add(1);
            return;
        }
        self.unknown[kept] = nr;
        self.nunknown += 1;
    }
}

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
static TABLE: KCell<Table> = KCell::new(Table {
    procs: [Proc::EMPTY; NPROC],
    cur: [NONE; abi::layout::MAX_CPUS as usize],
    gathering: [0; abi::layout::MAX_CPUS as usize],
    next_pid: 1,
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

pub fn set_preemptive(on: bool) {
    table().preemptive = on;
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
