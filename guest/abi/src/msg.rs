//! Messages the kernel sends through [`crate::PORT_HYPERCALL`].
//!
//! Each starts with a [`Header`]. `size` must equal the size of the struct
//! its `kind` names; the VMM rejects anything else (the guest is hostile).
//! The VMM writes `result` before the guest resumes: 0 on success, a
//! negative `RESULT_*` code otherwise.

/// Largest message the VMM accepts, in bytes.
pub const MSG_MAX: u32 = 4096;

pub const KIND_BOOT: u32 = 1;
pub const KIND_CONSOLE: u32 = 2;
pub const KIND_PROC: u32 = 3;
pub const KIND_WHEREIS: u32 = 4;
pub const KIND_MARK: u32 = 5;
pub const KIND_STDIN: u32 = 6;
pub const KIND_DEBUG_TRAP: u32 = 7;
pub const KIND_THREADS: u32 = 8;

pub const RESULT_OK: i32 = 0;
/// Unknown kind, wrong size, or a field out of range.
pub const RESULT_INVALID: i32 = -1;
/// The VMM could not do what was asked (e.g. the address is not mapped).
pub const RESULT_FAILED: i32 = -2;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    /// Size of the whole message, header included.
    pub size: u32,
    /// Written by the VMM.
    pub result: i32,
    /// Free for the guest (a sequence number); echoed untouched.
    pub seq: u32,
}
const _: () = assert!(core::mem::size_of::<Header>() == 16);

impl Header {
    /// The header of a message of `kind`, sized for it.
    pub const fn new(kind: u32) -> Header {
        Header {
            kind,
            size: size_of_kind(kind),
            result: 0,
            seq: 0,
        }
    }
}

/// `Boot::mode`
pub const MODE_X86: u32 = 1;
pub const MODE_PVM_NATIVE: u32 = 2;

/// `Boot::sched`
pub const SCHED_COOPERATIVE: u32 = 1;
pub const SCHED_TIMER: u32 = 2;

/// The kernel is up: its platform, how it schedules, and when it booted.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Boot {
    pub hdr: Header,
    /// `MODE_X86` or `MODE_PVM_NATIVE`.
    pub mode: u32,
    /// PVM flags written to MSR 0x4b564d10 (0 on x86).
    pub pv_flags: u32,
    /// TSC at the first instruction of `_start`.
    pub tsc_start: u64,
    /// TSC when the banner was printed.
    pub tsc_banner: u64,
    pub tsc_khz: u64,
    /// 4 or 5.
    pub paging_levels: u32,
    /// `SCHED_COOPERATIVE` or `SCHED_TIMER`.
    pub sched: u32,
    pub timer_hz: u32,
    /// Bytes of each process's saved FPU/vector state: the XSAVE area for
    /// `fpu_xcr0`, or 512 for FXSAVE.
    pub fpu_size: u32,
    /// CR3 of the kernel's own page table.
    pub kernel_cr3: u64,
    /// The XSAVE mask the kernel saves and restores per process (the XCR0
    /// the hardware runs user code with); 0 when it uses FXSAVE.
    pub fpu_xcr0: u64,
    /// GPA of the console outbox, a [`Console`] message whose header is
    /// always filled in: what it holds when the guest is stopped (a
    /// timeout, a triple fault, Ctrl-C) the VMM reads and shows, checked as
    /// any message. 0: none.
    pub outbox: u64,
}
const _: () = assert!(core::mem::size_of::<Boot>() == 88);

/// Most bytes of stdin one message carries.
pub const STDIN_MAX: usize = 4000;

/// A process reads its fd 0: the VMM fills `bytes` with what microvmm's own
/// stdin has ready (at most `len`, one `read` on the host, so a pipe is
/// streamed, never read whole first) and writes how many into `len`; 0 is
/// end of file. Only the first `--run` program, and the processes it forks
/// and the images they exec (which inherit its fd 0), are given
/// microvmm's stdin; the VMM answers 0 to any other. RESULT_FAILED: a signal interrupted the
/// read (the kernel returns -EINTR).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stdin {
    pub hdr: Header,
    pub pid: u32,
    /// In: bytes wanted (at most STDIN_MAX). Out: bytes given.
    pub len: u32,
    pub bytes: [u8; STDIN_MAX],
}
const _: () = assert!(core::mem::size_of::<Stdin>() == 4024);

/// Room for console records in one message.
pub const CONSOLE_MAX: usize = 4000;

/// Console bytes from any number of writers, in the order they were
/// written: the kernel buffers them in its memory and sends them in one
/// exit when the buffer is full, before any other message, when a process
/// blocks or ends, at each timer tick, and at shutdown.
///
/// `bytes[..len]` holds records back to back, no padding: each a
/// [`ConsoleRecord`] header ([`ConsoleRecord::SIZE`] bytes) and its `len`
/// bytes. A record has one writer: the kernel (pid 0, fd 0) or exactly the
/// bytes process `pid` passed to write()/writev() on descriptor 1 (stdout)
/// or 2 (stderr), with no prefix: the VMM adds `[pid name] ` at each line
/// start. The VMM checks every length against `len` and `len` against
/// CONSOLE_MAX.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Console {
    pub hdr: Header,
    /// Bytes of `bytes` in use.
    pub len: u32,
    /// Out: bit `fd` (1 << 1, 1 << 2) set when nobody reads that stream any
    /// more (a broken pipe on the host) and a record of a `--run` program
    /// was for it; the result is then RESULT_FAILED. The kernel then
    /// writes to that stream synchronously, one write a message, and kills
    /// the writer with SIGPIPE, as Linux.
    pub broken: u32,
    pub _pad: [u32; 2],
    pub bytes: [u8; CONSOLE_MAX],
}

/// The header of one record in [`Console::bytes`], little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleRecord {
    /// 0: the kernel's own text; else the writing process.
    pub pid: u32,
    /// 0 for the kernel's text, else 1 or 2.
    pub fd: u16,
    /// Bytes that follow the header.
    pub len: u16,
}

impl ConsoleRecord {
    /// Bytes of the header.
    pub const SIZE: usize = 8;

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0; Self::SIZE];
        b[..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..6].copy_from_slice(&self.fd.to_le_bytes());
        b[6..].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    /// The header at the start of `b`; None if `b` is shorter than one.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let h = b.get(..Self::SIZE)?;
        Some(ConsoleRecord {
            pid: u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            fd: u16::from_le_bytes([h[4], h[5]]),
            len: u16::from_le_bytes([h[6], h[7]]),
        })
    }
}
const _: () = assert!(CONSOLE_MAX <= u16::MAX as usize);

const _: () = assert!(core::mem::size_of::<Console>() == 4032);

/// `Region::kind`
pub const REGION_CODE: u32 = 1;
pub const REGION_DATA: u32 = 2;
pub const REGION_HEAP: u32 = 3;
pub const REGION_STACK: u32 = 4;
pub const REGION_GUARD: u32 = 5;
/// Read-only data of the program image.
pub const REGION_RODATA: u32 = 6;
/// Zero-filled data past the file's bytes (p_memsz beyond p_filesz).
pub const REGION_BSS: u32 = 7;
/// Anonymous memory from mmap(2), demand paged.
pub const REGION_MMAP: u32 = 8;
/// The page a writable segment's last file bytes (.data) share with the
/// start of its zero fill (.bss): loaded from the file, never a fault.
pub const REGION_DATA_BSS: u32 = 9;
/// A file mapped with mmap (MAP_PRIVATE or MAP_SHARED): its pages are the
/// file's own frames in the guest's RAM file system.
pub const REGION_FILE: u32 = 10;
/// The highest region kind.
pub const REGION_LAST: u32 = REGION_FILE;
/// Entries of `Proc::faults_by_kind` (indexed by kind; 0 unused).
pub const KIND_SLOTS: usize = 16;
const _: () = assert!((REGION_LAST as usize) < KIND_SLOTS);

/// `Region::prot`
pub const PROT_R: u32 = 1;
pub const PROT_W: u32 = 2;
pub const PROT_X: u32 = 4;

/// One region of a process's address space: [start, end), page aligned.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Region {
    pub kind: u32,
    pub prot: u32,
    pub start: u64,
    pub end: u64,
    /// Demand-paging faults the kernel served in this region. When a
    /// region is split (munmap, mprotect, MAP_FIXED), the upper part takes
    /// one fault per page it has mapped (a 2 MiB page counts one), at most
    /// the whole count, and the lower part keeps the rest.
    pub faults: u64,
    /// Which call made it, numbered per process from 1: the pieces of one
    /// mmap that mprotect split share it, and only they join again.
    pub call: u32,
    /// Copy-on-write faults served in this region: writes to a page this
    /// process shared with another after fork, each of which copied the
    /// frame (or took it back, when no other mapper was left).
    pub cow_faults: u32,
}
const _: () = assert!(core::mem::size_of::<Region>() == 40);

/// Regions per process: one per mmap call, and a Linux program's mprotect
/// calls split regions (glibc's RELRO, musl's guard pages). When the table
/// is full, a new heap or mmap region joins a neighbour of the same kind
/// and protection instead, as every mmap did before issue 17.
pub const MAX_REGIONS: usize = 80;
/// Distinct unknown system call numbers a `Proc` message lists.
pub const MAX_UNKNOWN: usize = 16;
pub const NAME_MAX: usize = 16;
/// Mapped files a `Proc` message names: the first ones mapped among those
/// still mapped (a fifth file mapped while four are goes unnamed).
pub const MAX_FILES: usize = 4;
/// Bytes of a mapped file's path in a `Proc` message (`FileName::path`).
pub const FILE_PATH_MAX: usize = 120;

/// The file one mmap call mapped: every region of kind `REGION_FILE`
/// whose `Region::call` is `call` (the pieces mprotect or munmap left of
/// that mapping) shows this file's pages.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileName {
    pub call: u32,
    pub _pad: u32,
    /// The file's absolute path when it was mapped, NUL-padded (no NUL
    /// when it fills the array); a longer path keeps its last bytes after
    /// "...". One of its names when it has several (hard links).
    pub path: [u8; FILE_PATH_MAX],
}
const _: () = assert!(core::mem::size_of::<FileName>() == 128);

impl Default for FileName {
    fn default() -> Self {
        FileName {
            call: 0,
            _pad: 0,
            path: [0; FILE_PATH_MAX],
        }
    }
}

/// `Proc::event`
pub const PROC_CREATED: u32 = 1;
/// Sent from the process's own context (its CR3 is live) just before the
/// kernel tears its address space down.
pub const PROC_EXITING: u32 = 2;

/// `Proc::exit_kind`
pub const EXIT_NONE: u32 = 0;
/// The process called `exit(status)`.
pub const EXIT_NORMAL: u32 = 1;
/// The kernel killed it for a fault; `fault_*` say which.
pub const EXIT_FAULT: u32 = 2;
/// A signal killed it (it raised SIGABRT, say); `exit_status` is the
/// signal's number.
pub const EXIT_SIGNAL: u32 = 3;
/// The process called execve: this image (address space, name) ends, and
/// the same pid goes on in a new one, whose PROC_CREATED follows.
pub const EXIT_EXEC: u32 = 4;

/// A process was created or is about to be torn down.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Proc {
    pub hdr: Header,
    /// `PROC_CREATED` or `PROC_EXITING`.
    pub event: u32,
    pub pid: u32,
    /// NUL-padded program name (plus `:arg` when it has one).
    pub name: [u8; NAME_MAX],
    /// The kernel PGD the process runs on (what CR3 holds in the kernel).
    pub cr3: u64,
    /// The user PGD (`cr3 | 0x1000`) under PVM pv_kpti, else 0.
    pub user_pgd: u64,
    pub exit_kind: u32,
    pub nregions: u32,
    pub exit_status: i64,
    pub fault_vector: u64,
    pub fault_error: u64,
    pub fault_addr: u64,
    pub fault_rip: u64,
    /// Demand-paging faults served in the heap and in the stack (each
    /// region also counts its own, `Region::faults`): `faults_by_kind`'s
    /// REGION_HEAP and REGION_STACK entries.
    pub heap_faults: u64,
    pub stack_faults: u64,
    /// User pages resident now.
    pub pages_resident: u64,
    /// A GVA where the process wrote `pattern` (0 if none): the VMM reads it
    /// back through the GPA and HVA it computes.
    pub pattern_gva: u64,
    pub pattern: u64,
    /// The FS base (TLS pointer) when the message was sent.
    pub fs_base: u64,
    /// Index + 1 of the boot module the process was loaded from; 0 for a
    /// built-in program.
    pub module: u32,
    /// Distinct unknown system call numbers the process made (each got
    /// -ENOSYS); the first `MAX_UNKNOWN` are in `unknown_syscalls`.
    pub nunknown: u32,
    pub unknown_syscalls: [u32; MAX_UNKNOWN],
    /// The parent's pid (0: started by the kernel, or its parent has
    /// exited and it was re-parented to the kernel).
    pub ppid: u32,
    /// Images this pid ran before this one (execve calls that succeeded).
    pub execs: u32,
    /// Demand-paging faults served in regions of each kind (index: the
    /// kind) since the process started, including regions unmapped since.
    pub faults_by_kind: [u64; KIND_SLOTS],
    pub regions: [Region; MAX_REGIONS],
    /// Entries of `files` in use (at most MAX_FILES).
    pub nfiles: u32,
    /// TLB shootdowns this image's threads caused (`PROC_EXITING` only):
    /// IPIs sent to other CPUs running a thread of it, after a mapping was
    /// removed or downgraded.
    pub tlb_shootdowns: u32,
    /// Which file each file mapping shows, by the call that made it.
    pub files: [FileName; MAX_FILES],
    /// Pages those IPIs asked to be flushed one by one (INVLPG; a larger
    /// or whole-space change is a full flush and adds nothing here).
    pub tlb_shootdown_pages: u32,
    /// The vCPUs its threads ran on, one bit each (`PROC_EXITING` only).
    pub vcpus_ran: u32,
    /// Nanoseconds the threads waited, from the first IPI until every
    /// target had flushed, summed (0 when the TSC rate is unknown).
    pub tlb_shootdown_ns: u64,
}
const _: () = assert!(core::mem::size_of::<Proc>() == 4096);
const _: () = assert!(core::mem::size_of::<Proc>() <= MSG_MAX as usize);

// Arrays longer than 32 have no derived Default.
impl Default for Proc {
    fn default() -> Self {
        Proc {
            hdr: Header::default(),
            event: 0,
            pid: 0,
            name: [0; NAME_MAX],
            cr3: 0,
            user_pgd: 0,
            exit_kind: 0,
            nregions: 0,
            exit_status: 0,
            fault_vector: 0,
            fault_error: 0,
            fault_addr: 0,
            fault_rip: 0,
            heap_faults: 0,
            stack_faults: 0,
            pages_resident: 0,
            pattern_gva: 0,
            pattern: 0,
            fs_base: 0,
            module: 0,
            nunknown: 0,
            unknown_syscalls: [0; MAX_UNKNOWN],
            ppid: 0,
            execs: 0,
            faults_by_kind: [0; KIND_SLOTS],
            regions: [Region::default(); MAX_REGIONS],
            nfiles: 0,
            tlb_shootdowns: 0,
            files: [FileName::default(); MAX_FILES],
            tlb_shootdown_pages: 0,
            vcpus_ran: 0,
            tlb_shootdown_ns: 0,
        }
    }
}

/// Threads a `Threads` message lists at most (the rest are counted).
pub const MAX_THREADS: usize = 32;

/// `ThreadEnd::how`: the thread called exit(2); `status` is its code.
pub const THREAD_EXIT: u32 = 1;
/// `ThreadEnd::how`: its group ended while it lived (exit_group, a fatal
/// signal or fault, or execve, by it or by another thread).
pub const THREAD_WITH_GROUP: u32 = 2;

/// How one thread of a group ended.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ThreadEnd {
    pub tid: u32,
    /// `THREAD_EXIT` or `THREAD_WITH_GROUP`.
    pub how: u32,
    /// exit(2)'s code (0-255) for `THREAD_EXIT`, else 0.
    pub status: u32,
    /// The vCPUs it ran on, one bit each.
    pub vcpus: u32,
    /// [stack_start, stack_end): the region holding the byte below the
    /// stack pointer clone(2) gave it (the stack region for the thread
    /// that started the group); 0, 0 when unknown.
    pub stack_start: u64,
    pub stack_end: u64,
}
const _: () = assert!(core::mem::size_of::<ThreadEnd>() == 32);

/// The threads of a group that had more than one, sent once just before
/// its `PROC_EXITING` message (so no exit is spent per thread): the first
/// `MAX_THREADS` to end, in the order they ended, and how many more.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Threads {
    pub hdr: Header,
    /// The group's id (its `Proc::pid`).
    pub pid: u32,
    /// Entries of `threads` in use (at most MAX_THREADS).
    pub nthreads: u32,
    /// Threads that ended past the first MAX_THREADS, not listed.
    pub dropped: u32,
    pub _pad: u32,
    pub threads: [ThreadEnd; MAX_THREADS],
}
const _: () = assert!(core::mem::size_of::<Threads>() == 1056);

/// `WhereisAnswer::status`
pub const WHEREIS_OK: u32 = 0;
/// The address is not mapped in the asker's page tables.
pub const WHEREIS_NOT_MAPPED: u32 = 1;
/// No microvmm VMM to ask (the kernel fills this in itself).
pub const WHEREIS_NO_VMM: u32 = 2;
/// The address is outside the asker's address space.
pub const WHEREIS_REFUSED: u32 = 3;

/// `WhereisAnswer::hpa_status`
pub const HPA_OK: u32 = 0;
/// /proc/self/pagemap shows no frame without CAP_SYS_ADMIN.
pub const HPA_NEEDS_CAP: u32 = 1;
/// The host page is not present (never touched, or swapped).
pub const HPA_NOT_PRESENT: u32 = 2;
/// pagemap could not be read at all.
pub const HPA_UNAVAILABLE: u32 = 3;

pub const WALK_MAX: usize = 5;

/// One level of the guest walk: the entry's own address and value.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct WalkStep {
    pub entry_gpa: u64,
    pub entry: u64,
    /// Host-physical address of the entry (0 when `hpa_status` != HPA_OK).
    pub entry_hpa: u64,
}
const _: () = assert!(core::mem::size_of::<WalkStep>() == 24);

/// Where a guest-virtual address lives, as the VMM sees it. This struct is
/// also what the `whereis` system call copies out to the user.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct WhereisAnswer {
    pub status: u32,
    pub hpa_status: u32,
    pub gva: u64,
    pub gpa: u64,
    pub hva: u64,
    pub hpa: u64,
    pub guest_page_size: u64,
    pub host_page_size: u64,
    /// What KVM_TRANSLATE says for the same GVA (u64::MAX if it failed).
    pub kvm_gpa: u64,
    /// Number of valid entries in `walk`, top level first.
    pub levels: u32,
    pub _pad: u32,
    pub walk: [WalkStep; WALK_MAX],
}
const _: () = assert!(core::mem::size_of::<WhereisAnswer>() == 192);

/// A process asks where one of its addresses lives.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Whereis {
    pub hdr: Header,
    pub pid: u32,
    pub _pad: u32,
    /// The page table to walk (the asker's kernel PGD).
    pub cr3: u64,
    pub gva: u64,
    /// Written by the VMM.
    pub answer: WhereisAnswer,
}
const _: () = assert!(core::mem::size_of::<Whereis>() == 232);

/// A named point in time (boot phases), for the VMM's timing report.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Mark {
    pub hdr: Header,
    pub id: u32,
    pub _pad: u32,
    pub tsc: u64,
}
const _: () = assert!(core::mem::size_of::<Mark>() == 32);

/// `DebugTrap::vector`: a user `int3` (#BP; `rip` is past the int3).
pub const TRAP_BREAKPOINT: u32 = 3;
/// `DebugTrap::vector`: #DB, a user instruction ran with the trap flag set.
pub const TRAP_STEP: u32 = 1;
/// The trap flag in RFLAGS: the VMM sets it in `DebugTrap::rflags` to
/// single-step the process (one instruction, then a `TRAP_STEP`).
pub const RFLAGS_TF: u64 = 1 << 8;
/// RFLAGS bits the VMM may change in a `DebugTrap` answer (CF PF AF ZF SF
/// TF DF OF); the kernel keeps the rest as they were.
pub const RFLAGS_USER: u64 = 0xdd5;

/// A user process took #BP or #DB. Sent only while a debugger (microvmm
/// `--gdb`) may want it: the VMM answers RESULT_OK when its debugger took
/// the trap, after writing the registers the process goes on with into
/// `regs`, `rip` and `rflags` (RFLAGS only within `RFLAGS_USER`); any
/// other result means the trap is the process's own (the kernel kills it
/// as before). The VMM holds the vCPU in this exit while gdb looks.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct DebugTrap {
    pub hdr: Header,
    pub pid: u32,
    /// `TRAP_BREAKPOINT` or `TRAP_STEP`.
    pub vector: u32,
    /// rax rbx rcx rdx rsi rdi rbp rsp r8-r15: gdb's x86-64 order.
    pub regs: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    /// FS base (TLS pointer), read only.
    pub fs_base: u64,
}
const _: () = assert!(core::mem::size_of::<DebugTrap>() == 176);

/// Size the header of a message of `kind` must carry (0 for unknown kinds).
pub const fn size_of_kind(kind: u32) -> u32 {
    (match kind {
        KIND_BOOT => core::mem::size_of::<Boot>(),
        KIND_CONSOLE => core::mem::size_of::<Console>(),
        KIND_PROC => core::mem::size_of::<Proc>(),
        KIND_WHEREIS => core::mem::size_of::<Whereis>(),
        KIND_MARK => core::mem::size_of::<Mark>(),
        KIND_STDIN => core::mem::size_of::<Stdin>(),
        KIND_DEBUG_TRAP => core::mem::size_of::<DebugTrap>(),
        KIND_THREADS => core::mem::size_of::<Threads>(),
        _ => 0,
    }) as u32
}

/// A region kind's name, as reports print it.
pub fn region_name(kind: u32) -> &'static str {
    match kind {
        REGION_CODE => "code",
        REGION_DATA => "data",
        REGION_HEAP => "heap",
        REGION_STACK => "stack",
        REGION_GUARD => "guard",
        REGION_RODATA => "rodata",
        REGION_BSS => "bss",
        REGION_MMAP => "mmap",
        REGION_DATA_BSS => "data+bss",
        REGION_FILE => "file",
        _ => "?",
    }
}

/// The bytes of a NUL-padded name (a process name, the command line).
pub fn until_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}
