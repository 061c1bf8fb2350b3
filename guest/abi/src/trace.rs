//! The trace ring (`--trace`): a bounded ring of fixed-size records in
//! guest RAM that the kernel fills with plain stores and the VMM drains
//! while the vCPU is stopped in an exit that happens anyway (a message,
//! the end of the run): tracing adds no VM exit. The VMM reserves the ring
//! below `BootInfo::free_start` and names it in `BootInfo::trace_gpa` /
//! `trace_len`; 0 means no tracing.
//!
//! ```text
//! trace_gpa        RingHeader (64 bytes)
//! trace_gpa + 64   Record[capacity], 48 bytes each; record n is at slot n % capacity
//! ```
//! The kernel writes record `head`, then `head + 1` into `head`; when
//! `head - tail == capacity` it drops the record and counts it in
//! `dropped`. The VMM reads records `tail..head` and writes `head` into
//! `tail`. Timestamps are the guest's TSC (`BootInfo::tsc_khz` converts).

/// "MVMMTRCE".
pub const RING_MAGIC: u64 = u64::from_le_bytes(*b"MVMMTRCE");
/// Records the VMM asks for: 768 KiB of guest RAM. The demo's busiest
/// stretch between two messages (the heap's 769 faults) uses a tenth.
pub const RING_CAPACITY: u32 = 16384;
/// Bytes of the ring in guest RAM, page aligned.
pub const RING_BYTES: u64 =
    (core::mem::size_of::<RingHeader>() as u64 + RING_CAPACITY as u64 * RECORD_BYTES + 4095)
        & !4095;
/// Bytes of one record.
pub const RECORD_BYTES: u64 = core::mem::size_of::<Record>() as u64;

/// The ring's header: the kernel owns `head` and `dropped`, the VMM `tail`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RingHeader {
    /// [`RING_MAGIC`], written by the VMM.
    pub magic: u64,
    /// Records in the ring, written by the VMM.
    pub capacity: u32,
    /// `TRACE_*` flags, written by the VMM.
    pub flags: u32,
    /// Records written so far (kernel).
    pub head: u64,
    /// Records drained so far (VMM).
    pub tail: u64,
    /// Records the kernel dropped because the ring was full.
    pub dropped: u64,
    pub _pad: [u64; 3],
}
const _: () = assert!(core::mem::size_of::<RingHeader>() == 64);

/// `RingHeader::flags`: record every system call too (`--trace-syscalls`).
pub const TRACE_SYSCALLS: u32 = 1;

/// One event.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Record {
    /// Guest TSC when it happened (a page fault or system call: when its
    /// handler began).
    pub tsc: u64,
    /// `EV_*`.
    pub kind: u16,
    /// Per kind: a fault's `FAULT_*`, a process event's `PROC_*`, a
    /// flush's `FLUSH_*`.
    pub sub: u16,
    /// The process it happened in (0: the kernel).
    pub pid: u32,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
}
const _: () = assert!(core::mem::size_of::<Record>() == 48);

/// A user page fault: a = GVA, b = the frame (GPA) mapped there after
/// (0 if none), c = TSC cycles the handler took, d = the region kind
/// (msg::REGION_*, 0 outside every region); sub = FAULT_*.
pub const EV_FAULT: u16 = 1;
/// The vCPU switched processes: pid = the new one, a = the previous pid,
/// b = the CR3 loaded.
pub const EV_SWITCH: u16 = 2;
/// A CR3 load outside a switch (execve's new tables): a = the CR3.
pub const EV_CR3: u16 = 3;
/// A TLB flush of the current address space: a = CR3, b = the page's
/// address (FLUSH_PAGE) ; sub = FLUSH_*.
pub const EV_FLUSH: u16 = 4;
/// A process event: sub = PROC_*, a = the parent (start) or the exit
/// status / signal (exit).
pub const EV_PROC: u16 = 5;
/// A system call (with TRACE_SYSCALLS): a = its number, b = its return
/// value, c = TSC cycles it took.
pub const EV_SYSCALL: u16 = 6;

/// A not-present page demand-paged in.
pub const FAULT_DEMAND: u16 = 1;
/// A write to a copy-on-write page: copied or taken back.
pub const FAULT_COW: u16 = 2;
/// A present page the access may not make: the process is killed.
pub const FAULT_PROTECTION: u16 = 3;
/// A not-present page the process may not have: the process is killed.
pub const FAULT_INVALID: u16 = 4;

/// The whole address space's TLB (a CR3 reload).
pub const FLUSH_ALL: u16 = 1;
/// One page (b = its address).
pub const FLUSH_PAGE: u16 = 2;

/// Process created.
pub const PROC_START: u16 = 1;
/// Its image replaced by execve.
pub const PROC_EXEC: u16 = 2;
/// It ended.
pub const PROC_EXIT: u16 = 3;
