//! One slot of the process table: a thread (`Proc`), what state it is
//! in, how it ended, and the signal records it carries (alternate stack,
//! pending siginfo). The table itself and the lookups over it are in
//! mod.rs.

use abi::msg::{self, MAX_UNKNOWN, NAME_MAX};

use crate::entry::{self, TrapFrame};
use crate::file::fdtable::FdTable;
use crate::fpu::FpuArea;
use crate::fs;
use crate::mm::addrspace::AddrSpace;

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
    /// The CPU whose run queue it is in (queue.rs): the one it last ran
    /// on, or where a wake-up put it.
    pub cpu: u32,
    /// The CPUs it may run on, one bit each (sched_setaffinity; within
    /// the CPUs there are). Fork and clone copy it.
    pub affinity: u32,
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
    /// A slot no process has held, every byte of it zero (the compiler
    /// puts a static in .bss only then), so the process table starts in .bss rather than as ~2 MiB of the image's
    /// .data that every run copies into guest RAM (issue 21). Only `state`
    /// of an Unused slot is ever read: a slot a process left holds its
    /// fields as they were, and `spawn`/`fork`/`clone` write `EMPTY` over a
    /// slot before they use it.
    pub(super) const UNUSED: Proc = Proc {
        state: State::Unused,
        pid: 0,
        tgid: 0,
        threads: 0,
        ran: 0,
        thread_exit: None,
        cpu: 0,
        affinity: 0,
        stack: (0, 0),
        clear_tid: 0,
        robust_list: 0,
        futex_addr: 0,
        futex_bits: 0,
        futex_woken: false,
        name: [0; NAME_MAX],
        frame: entry::ZERO_FRAME,
        fpu: FpuArea::ZERO,
        aspace: None,
        pattern_gva: 0,
        pattern: 0,
        at_line_start: false,
        fs_base: 0,
        gs_base: 0,
        module: 0,
        nunknown: 0,
        unknown: [0; MAX_UNKNOWN],
        wake: 0,
        altstack: AltStack {
            sp: 0,
            flags: 0,
            size: 0,
        },
        fds: FdTable::EMPTY,
        cwd: 0,
        umask: 0,
        ppid: 0,
        // Not None: Option<Exit>'s None is not zero bytes (it takes a
        // value Exit's tag does not use). Never read in an Unused slot.
        killed: Some(Exit::Status(0)),
        wstatus: 0,
        forked: false,
        execs: 0,
        call_deadline: 0,
        sigactions: [[0; 4]; 64],
        sigmask: 0,
        pending: 0,
        siginfo: [SigInfo {
            code: 0,
            pid: 0,
            status: 0,
            addr: None,
        }; 64],
        in_handler: false,
        sig_deadline: 0,
        handler_stack: (0, 0),
        restarting: false,
        sigfpu: FpuArea::ZERO,
        suspend_mask: None,
    };

    /// A process as it starts, before spawn/fork/clone fill in who it is:
    /// `UNUSED` but for the fields whose start value is not zero.
    pub(super) const EMPTY: Proc = Proc {
        state: State::Unused,
        threads: 1,
        affinity: u32::MAX,
        fpu: FpuArea::clean(),
        at_line_start: true,
        altstack: AltStack::NONE,
        cwd: fs::ROOT,
        umask: 0o022,
        killed: None,
        siginfo: [SigInfo::USER; 64],
        sigfpu: FpuArea::clean(),
        ..Proc::UNUSED
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
