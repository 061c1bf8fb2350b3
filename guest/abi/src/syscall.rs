//! System calls of the guest kernel: number in rax, arguments in rdi, rsi,
//! rdx; result in rax (negative = error).
//!
//! User address space, the same in every process (transparency):
//!
//! ```text
//! 0x0000_7fff_ffff_f000  USER_STACK_TOP (stack grows down, demand paged)
//!          ...           STACK_MAX below it: the lowest stack page
//!          ...           one unmapped guard page below that
//!          ...
//!          brk           heap top (sbrk moves it; demand paged)
//!          heap start    first page after the program's data
//! 0x0000_0000_0040_0000  USER_BASE: code, then read-only data, then data
//! ```

pub const SYS_WRITE: u64 = 1;
pub const SYS_EXIT: u64 = 2;
pub const SYS_GETPID: u64 = 3;
pub const SYS_SBRK: u64 = 4;
pub const SYS_YIELD: u64 = 5;
pub const SYS_WHEREIS: u64 = 6;
pub const SYS_STATS: u64 = 7;
/// Write `value` (rsi) at `gva` (rdi) and tell the kernel, which forwards
/// both to the VMM in the exit report for a read-back check.
pub const SYS_PATTERN: u64 = 8;

pub const EFAULT: i64 = -14;
pub const EINVAL: i64 = -22;
pub const ENOMEM: i64 = -12;
pub const ENOSYS: i64 = -38;

pub const USER_BASE: u64 = 0x40_0000;
pub const USER_STACK_TOP: u64 = 0x0000_7fff_ffff_f000;
/// Largest stack: 8 MiB.
pub const STACK_MAX: u64 = 8 << 20;
/// Largest heap: 1 GiB past its start (capped by free frames).
pub const HEAP_MAX: u64 = 1 << 30;

/// What `SYS_STATS` copies out.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Stats {
    pub heap_faults: u64,
    pub stack_faults: u64,
    pub pages_resident: u64,
    pub tsc_khz: u64,
}
const _: () = assert!(core::mem::size_of::<Stats>() == 32);
