//! The process message (`Proc`): a process created or about to end, with
//! its address space's regions, the files it mapped and how it ended;
//! the region kinds and protections the reports name.

use super::{Header, MSG_MAX};

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
