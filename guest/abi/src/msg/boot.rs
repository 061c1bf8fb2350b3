//! The kernel's boot message (its platform, how it schedules, when it
//! booted) and the named points in time it marks on the way (`Mark`).

use super::Header;

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
