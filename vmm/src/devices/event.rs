//! What the guest tells the VMM, as types: the decoder (`hypercall.rs`)
//! turns each checked message into one `Event`, and nothing after it sees
//! an `abi::msg` constant or a raw message struct.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::addr::{Gpa, Gva};
use crate::paging::Cr3;

mod region;
pub use region::{Prot, Region, RegionKind};

/// One message from the guest, decoded and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The kernel is up.
    Boot(BootEvent),
    /// Bytes for the console, in the order written, from one writer or
    /// several; the answer (which host streams nobody reads) goes back
    /// into the message at `reply`.
    Console {
        /// The records.
        chunks: Vec<ConsoleChunk>,
        /// Where the message lies.
        reply: Gpa,
    },
    /// A process was created (`exit` is None) or is about to be torn down
    /// from its own context, its CR3 live.
    Proc(ProcEvent),
    /// How the threads of a process that made more than one ended: sent
    /// once, just before its exit `Proc`.
    Threads(crate::devices::threads::ThreadsEvent),
    /// A process asks where one of its addresses lives; the answer goes
    /// back into the message at `reply`.
    Whereis(WhereisRequest),
    /// Process `pid` reads its fd 0: at most `want` bytes of microvmm's
    /// stdin go back into the message at `reply`.
    StdinRead {
        /// The reader.
        pid: u32,
        /// Bytes it asked for (at most abi's STDIN_MAX).
        want: usize,
        /// The message, where the bytes and their count go.
        reply: Gpa,
    },
    /// A user process took #BP or #DB: the debugger (`--gdb`) may take
    /// it and change the registers, written back into the message at `at`.
    DebugTrap {
        /// The message as the guest sent it.
        msg: abi::msg::DebugTrap,
        /// Where it lies in guest memory.
        at: Gpa,
    },
    /// A named point in time (boot phases).
    Mark {
        /// Which point, a number the guest chose.
        id: u32,
        /// The guest's TSC at that point.
        tsc: u64,
    },
}

/// One writer's bytes for the console: the kernel's own text (`pid` 0),
/// or exactly what process `pid` wrote (the VMM adds its `[pid name] `
/// prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleChunk {
    /// The writer; 0 for the kernel.
    pub pid: u32,
    /// Which stream of the process: stdout or stderr (the kernel's text
    /// says Stdout).
    pub stream: Stream,
    /// The bytes, unescaped.
    pub bytes: Vec<u8>,
}

/// A process's output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Descriptor 1.
    Stdout,
    /// Descriptor 2.
    Stderr,
}

/// How the guest kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestMode {
    /// Plain x86 (VMX/SVM hosts, QEMU).
    X86,
    /// Registered with PVM, supervisor code runs natively in ring 3.
    PvmNative,
    /// A value the protocol does not define (shown, not refused).
    Unknown(u32),
}

impl fmt::Display for GuestMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestMode::X86 => f.write_str("x86"),
            GuestMode::PvmNative => f.write_str("pvm-native"),
            GuestMode::Unknown(m) => write!(f, "unknown ({m})"),
        }
    }
}

/// How the guest kernel schedules its processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheduling {
    /// Preemptive, on the LAPIC timer.
    Timer,
    /// A process runs until it makes a system call or faults.
    Cooperative,
}

impl fmt::Display for Scheduling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheduling::Timer => "timer",
            Scheduling::Cooperative => "cooperative",
        })
    }
}

/// The kernel's boot message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootEvent {
    /// Whether it runs as plain x86 or PVM-native.
    pub mode: GuestMode,
    /// PVM flags the kernel registered with (0 on x86).
    pub pv_flags: u32,
    /// The guest's TSC at `_start`.
    pub tsc_start: u64,
    /// The guest's TSC when it printed its banner.
    pub tsc_banner: u64,
    /// The TSC's rate in kHz; 0 if the guest does not know it.
    pub tsc_khz: u64,
    /// Levels of the guest's page tables: 4, or 5 with LA57.
    pub paging_levels: u32,
    /// How it schedules its processes.
    pub sched: Scheduling,
    /// Timer interrupts per second.
    pub timer_hz: u32,
    /// The kernel's own page table.
    pub kernel_cr3: Cr3,
    /// The XSAVE mask the kernel saves per process; 0 for FXSAVE.
    pub fpu_xcr0: u64,
    /// Bytes it saves per process.
    pub fpu_size: u32,
    /// Where the console outbox lies: read when the guest is stopped.
    pub outbox: Option<Gpa>,
}

impl BootEvent {
    /// Kernel boot time in µs as the guest measured it, if it knows its TSC rate.
    pub fn boot_us(&self) -> Option<f64> {
        (self.tsc_khz != 0).then(|| {
            self.tsc_banner.wrapping_sub(self.tsc_start) as f64 * 1000.0 / self.tsc_khz as f64
        })
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit(status)`.
    Status(i64),
    /// The kernel killed it for a fault.
    Fault(Fault),
    /// A signal killed it (SIGABRT from abort()): its number, 1..=64.
    Signal(u32),
    /// It called execve: this image ends, and the same pid goes on in a
    /// new one, whose creation message follows.
    Exec,
}

/// The fault that killed a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The exception vector (14 is #PF).
    pub vector: u64,
    /// The exception's error code (0 for exceptions without one).
    pub error_code: u64,
    /// CR2 for a page fault.
    pub address: Gva,
    /// The instruction pointer at the fault.
    pub rip: Gva,
}

/// The kernel's counters for one process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcStats {
    /// Demand-paging faults served in the heap.
    pub heap_faults: u64,
    /// Demand-paging faults served in the stack.
    pub stack_faults: u64,
    /// Demand-paging faults served in regions of each kind since the
    /// process started (regions unmapped since included).
    pub faults_by_kind: BTreeMap<RegionKind, u64>,
    /// User pages resident when the message was sent.
    pub pages_resident: u64,
    /// TLB shootdowns (IPIs sent) its threads caused, the pages they asked
    /// to be flushed one by one, and the ns they waited (exit only).
    pub tlb_shootdowns: u32,
    /// See `tlb_shootdowns`.
    pub tlb_shootdown_pages: u32,
    /// See `tlb_shootdowns`.
    pub tlb_shootdown_ns: u64,
    /// The vCPUs its threads ran on, one bit each (exit only).
    pub vcpus_ran: u32,
}

/// A value the process stored, for the VMM to read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// Where it stored it.
    pub gva: Gva,
    /// What it stored.
    pub value: u64,
}

/// A process message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcEvent {
    /// The guest kernel's process id.
    pub pid: u32,
    /// Its name (lossy UTF-8: hostile bytes become U+FFFD).
    pub name: String,
    /// Its parent's pid; 0 when the kernel started it, or its parent
    /// exited and it was re-parented to the kernel.
    pub ppid: u32,
    /// Images this pid ran before this one (execve calls that succeeded),
    /// as the guest counts them.
    pub execs: u32,
    /// The kernel PGD the process runs on.
    pub cr3: Cr3,
    /// The user PGD under PVM pv_kpti.
    pub user_pgd: Option<Gpa>,
    /// Its address space's regions, as the kernel listed them.
    pub regions: Vec<Region>,
    /// The kernel's counters for it.
    pub stats: ProcStats,
    /// A value it stored for the VMM to read back, if any.
    pub pattern: Option<Pattern>,
    /// The FS base (TLS pointer) when the message was sent.
    pub fs_base: u64,
    /// Which boot module (`--run`, 0-based) it was loaded from; None for a
    /// built-in program.
    pub module: Option<u32>,
    /// System call numbers it made that the kernel does not know.
    pub unknown_syscalls: UnknownSyscalls,
    /// None when it was just created; how it ended when it is exiting.
    pub exit: Option<Exit>,
}

/// Unknown system calls of a process (each returned -ENOSYS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnknownSyscalls {
    /// The first few distinct numbers.
    pub listed: Vec<u32>,
    /// How many distinct numbers there were.
    pub distinct: u32,
}

impl ProcEvent {
    /// The region that holds `gva`, if any.
    pub fn region_of(&self, gva: Gva) -> Option<usize> {
        self.regions.iter().position(|r| r.contains(gva))
    }
}

/// A `whereis` question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhereisRequest {
    /// The asker.
    pub pid: u32,
    /// The asker's page table.
    pub cr3: Cr3,
    /// The address it asks about.
    pub gva: Gva,
    /// Where the answer goes in guest memory (inside the message).
    pub reply: Gpa,
}
