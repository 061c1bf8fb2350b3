//! The guest<->VMM protocol of microvmm, defined once for both sides.
//!
//! The guest talks to the VMM through I/O ports. Exits are expensive (tens of
//! microseconds under PVM), so the guest never streams data through a port:
//! it writes one message into guest memory and hands the VMM the message's
//! guest-physical address with a single `out`. The VMM validates the header,
//! reads the body, acts, and writes `result` (and any answer) back in place.
//!
//! Every message is a `#[repr(C)]` struct whose size is asserted at compile
//! time, so both sides agree byte for byte.
#![no_std]

pub use addr::{Pa, Va};
pub use bytes::Pod;

pub mod acpi;
pub mod addr;
pub mod bytes;
pub mod elf;
pub mod layout;
pub mod msg;
pub mod pte;
pub mod signals;
pub mod syscall;
pub mod sysnames;
pub mod trace;
pub mod tree;

/// COM1 data register: single bytes to the console (used when no microvmm
/// hypercall device is present, e.g. under QEMU).
pub const PORT_SERIAL: u16 = 0x3f8;
/// `out dx, eax`: GPA of a message (below 4 GiB, 8-byte aligned).
/// `in eax, dx`: reads [`HYPERCALL_MAGIC`] when microvmm is the VMM; an
/// absent device reads back all-ones.
pub const PORT_HYPERCALL: u16 = 0x510;
/// `out dx, eax`: the guest is done; the value is its exit status (0 = ok).
pub const PORT_SHUTDOWN: u16 = 0x514;

/// `out`: nothing; the VMM returns at once. For measuring the exit round
/// trip (`bench:2`).
pub const PORT_NULL: u16 = 0x518;

/// What `in eax, PORT_HYPERCALL` returns under microvmm ("MVMM").
pub const HYPERCALL_MAGIC: u32 = 0x4d4d_564d;

/// Exit statuses the kernel writes to [`PORT_SHUTDOWN`].
pub mod status {
    /// Every process ended and the kernel shut down cleanly.
    pub const OK: u32 = 0;
    /// The kernel panicked (its message went to the console first).
    pub const PANIC: u32 = 0xbad;
    /// The kernel took an exception in supervisor mode.
    pub const KERNEL_TRAP: u32 = 0xdead;
    /// The command line named a program the kernel does not have.
    pub const BAD_CMDLINE: u32 = 2;
    /// Every process ended, but at least one exited with a non-zero status.
    pub const PROCESS_FAILED: u32 = 3;
}

/// The user programs built into the demo kernel, and how its command line
/// names them: words `NAME` or `NAME:NUMBER`, at most `MAX_PROCS`.
pub mod programs {
    use core::ops::RangeInclusive;

    /// Each program and the numbers it takes after ':' (0, or no number,
    /// means its default: spin 300 ms, touch 64 MiB; touch stops at the
    /// kernel's 1 GiB heap limit, syscall::HEAP_MAX).
    pub const PROGRAMS: &[(&str, RangeInclusive<u64>)] = &[
        ("addrspace", 0..=0),
        ("heap", 0..=0),
        ("stack", 0..=0),
        ("snoop", 0..=3),
        ("spin", 0..=3_600_000),
        ("bench", 0..=2),
        ("writek", 0..=0),
        ("touch", 0..=1024),
        ("vector", 0..=3),
        ("linuxabi", 0..=0),
        ("fork", 0..=0),
    ];
    /// Built-in programs whose whole point is to be killed by a fault (they
    /// demonstrate protection): their death does not fail a run. Any other
    /// process killed by a fault does.
    pub const MEANT_TO_FAULT: &[&str] = &["snoop"];

    /// Most built-in programs one command line starts.
    pub const MAX_PROCS: usize = 16;

    /// Every program's name, in the order above.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PROGRAMS.iter().map(|(n, _)| *n)
    }

    /// Split one command-line word into a known program name and its
    /// number (0 when absent); Err says what is wrong with it.
    pub fn parse_word(word: &str) -> Result<(&'static str, u64), &'static str> {
        let (name, arg) = word.split_once(':').unwrap_or((word, "0"));
        let Some((name, range)) = PROGRAMS.iter().find(|(n, _)| *n == name) else {
            return Err("no such program");
        };
        let arg: u64 = arg
            .parse()
            .map_err(|_| "the part after ':' must be a number")?;
        if !range.contains(&arg) {
            return Err(match *range.end() {
                0 => "this program takes no number",
                1 => "the number must be 0 or 1",
                2 => "the number must be 0 to 2",
                3 => "the number must be 0 to 3",
                _ => "the number is out of range",
            });
        }
        Ok((name, arg))
    }
}
