//! System calls of the guest kernel: the Linux x86-64 ABI (number in rax,
//! arguments in rdi, rsi, rdx, r10, r8, r9; result in rax, -errno on
//! failure), so unmodified static Linux programs and the built-in programs
//! speak the same language. microvmm's own extensions are numbered from
//! 1000 up, far from Linux's table.
//!
//! User address space, the same in every process (transparency):
//!
//! ```text
//! 0x0000_7fff_ffff_f000  USER_STACK_TOP (stack grows down, demand paged)
//!          ...           STACK_MAX below it: the lowest stack page
//!          ...           one unmapped guard page below that
//!          ...           MMAP_TOP: anonymous mmap areas, placed top down
//!          ...
//!          brk           heap top (brk moves it; demand paged)
//!          heap start    first page after the program's data
//! 0x0000_0000_0040_0000  USER_BASE: code, then read-only data, then data
//! ```

// Linux x86-64 system call numbers the kernel serves.
pub const SYS_READ: u64 = 0;
pub const SYS_WRITE: u64 = 1;
pub const SYS_OPEN: u64 = 2;
pub const SYS_CLOSE: u64 = 3;
pub const SYS_FSTAT: u64 = 5;
pub const SYS_POLL: u64 = 7;
pub const SYS_MMAP: u64 = 9;
pub const SYS_MPROTECT: u64 = 10;
pub const SYS_MUNMAP: u64 = 11;
pub const SYS_BRK: u64 = 12;
pub const SYS_RT_SIGACTION: u64 = 13;
pub const SYS_RT_SIGPROCMASK: u64 = 14;
pub const SYS_IOCTL: u64 = 16;
pub const SYS_WRITEV: u64 = 20;
pub const SYS_SCHED_YIELD: u64 = 24;
pub const SYS_MADVISE: u64 = 28;
pub const SYS_NANOSLEEP: u64 = 35;
pub const SYS_GETPID: u64 = 39;
pub const SYS_EXIT: u64 = 60;
pub const SYS_KILL: u64 = 62;
pub const SYS_UNAME: u64 = 63;
pub const SYS_FCNTL: u64 = 72;
pub const SYS_GETCWD: u64 = 79;
pub const SYS_READLINK: u64 = 89;
pub const SYS_GETTIMEOFDAY: u64 = 96;
pub const SYS_GETUID: u64 = 102;
pub const SYS_GETGID: u64 = 104;
pub const SYS_GETEUID: u64 = 107;
pub const SYS_GETEGID: u64 = 108;
pub const SYS_GETPPID: u64 = 110;
pub const SYS_SIGALTSTACK: u64 = 131;
pub const SYS_PRCTL: u64 = 157;
pub const SYS_ARCH_PRCTL: u64 = 158;
pub const SYS_GETTID: u64 = 186;
pub const SYS_TKILL: u64 = 200;
pub const SYS_TIME: u64 = 201;
pub const SYS_SCHED_GETAFFINITY: u64 = 204;
pub const SYS_SET_TID_ADDRESS: u64 = 218;
pub const SYS_CLOCK_GETTIME: u64 = 228;
pub const SYS_CLOCK_NANOSLEEP: u64 = 230;
pub const SYS_EXIT_GROUP: u64 = 231;
pub const SYS_TGKILL: u64 = 234;
pub const SYS_OPENAT: u64 = 257;
pub const SYS_NEWFSTATAT: u64 = 262;
pub const SYS_SET_ROBUST_LIST: u64 = 273;
pub const SYS_PRLIMIT64: u64 = 302;
pub const SYS_GETRANDOM: u64 = 318;
pub const SYS_RSEQ: u64 = 334;

// microvmm's extensions.
/// Ask the VMM where a GVA lives: rdi = gva, rsi = `*mut WhereisAnswer`.
pub const SYS_WHEREIS: u64 = 1000;
/// Copy the caller's [`Stats`] to rdi.
pub const SYS_STATS: u64 = 1001;
/// Write `value` (rsi) at `gva` (rdi) and tell the kernel, which forwards
/// both to the VMM in the exit report for a read-back check.
pub const SYS_PATTERN: u64 = 1002;
/// `out` to `PORT_NULL` rdi times (at most 100000) from the kernel; the TSC
/// cycles the loop took. Measures the exit round trip (`bench:2`).
pub const SYS_EXITLOOP: u64 = 1010;

// errno values (returned negated).
pub const EPERM: i64 = -1;
pub const ENOENT: i64 = -2;
pub const ESRCH: i64 = -3;
pub const EINTR: i64 = -4;
pub const EIO: i64 = -5;
pub const EBADF: i64 = -9;
pub const ENOMEM: i64 = -12;
pub const EACCES: i64 = -13;
pub const EFAULT: i64 = -14;
pub const EEXIST: i64 = -17;
pub const ENODEV: i64 = -19;
pub const EINVAL: i64 = -22;
pub const ENOTTY: i64 = -25;
pub const ERANGE: i64 = -34;
pub const EPIPE: i64 = -32;
pub const ENOSYS: i64 = -38;

// mmap/mprotect arguments (Linux values).
pub const PROT_READ: u64 = 1;
pub const PROT_WRITE: u64 = 2;
pub const PROT_EXEC: u64 = 4;
pub const MAP_SHARED: u64 = 0x01;
pub const MAP_PRIVATE: u64 = 0x02;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
/// madvise(2) advice: back this range with 2 MiB pages (and undo that).
pub const MADV_HUGEPAGE: u64 = 14;
pub const MADV_NOHUGEPAGE: u64 = 15;

pub const USER_BASE: u64 = 0x40_0000;
pub const USER_STACK_TOP: u64 = 0x0000_7fff_ffff_f000;
/// Largest stack: 8 MiB.
pub const STACK_MAX: u64 = 8 << 20;
/// Largest heap: 1 GiB past its start (capped by free frames).
pub const HEAP_MAX: u64 = 1 << 30;
/// Anonymous mmap areas are placed top down from here (1 GiB below the
/// stack's guard page, as Linux leaves a gap), and not below MMAP_BOTTOM.
pub const MMAP_TOP: u64 = USER_STACK_TOP - STACK_MAX - (1 << 30);
pub const MMAP_BOTTOM: u64 = 0x0000_1000_0000_0000;
/// Program images (after any load bias) end below this.
pub const IMAGE_END: u64 = MMAP_BOTTOM;
/// Where an ET_DYN (static-pie) image is loaded: where non-PIE code is.
pub const PIE_BASE: u64 = USER_BASE;

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
