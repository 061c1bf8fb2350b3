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

// Linux x86-64 system call numbers the kernel serves (or refuses on
// purpose).
pub const SYS_READ: u64 = 0;
pub const SYS_WRITE: u64 = 1;
pub const SYS_OPEN: u64 = 2;
pub const SYS_CLOSE: u64 = 3;
pub const SYS_STAT: u64 = 4;
pub const SYS_FSTAT: u64 = 5;
pub const SYS_LSTAT: u64 = 6;
pub const SYS_POLL: u64 = 7;
pub const SYS_LSEEK: u64 = 8;
pub const SYS_MMAP: u64 = 9;
pub const SYS_MPROTECT: u64 = 10;
pub const SYS_MUNMAP: u64 = 11;
pub const SYS_BRK: u64 = 12;
pub const SYS_RT_SIGACTION: u64 = 13;
pub const SYS_RT_SIGPROCMASK: u64 = 14;
pub const SYS_RT_SIGRETURN: u64 = 15;
pub const SYS_IOCTL: u64 = 16;
pub const SYS_PREAD64: u64 = 17;
pub const SYS_PWRITE64: u64 = 18;
pub const SYS_READV: u64 = 19;
pub const SYS_WRITEV: u64 = 20;
pub const SYS_ACCESS: u64 = 21;
pub const SYS_PIPE: u64 = 22;
pub const SYS_SELECT: u64 = 23;
pub const SYS_SCHED_YIELD: u64 = 24;
pub const SYS_MSYNC: u64 = 26;
pub const SYS_MADVISE: u64 = 28;
pub const SYS_DUP: u64 = 32;
pub const SYS_DUP2: u64 = 33;
pub const SYS_PAUSE: u64 = 34;
pub const SYS_NANOSLEEP: u64 = 35;
pub const SYS_GETPID: u64 = 39;
pub const SYS_CLONE: u64 = 56;
pub const SYS_FORK: u64 = 57;
pub const SYS_VFORK: u64 = 58;
pub const SYS_EXECVE: u64 = 59;
pub const SYS_EXIT: u64 = 60;
pub const SYS_WAIT4: u64 = 61;
pub const SYS_KILL: u64 = 62;
pub const SYS_UNAME: u64 = 63;
pub const SYS_FCNTL: u64 = 72;
pub const SYS_FSYNC: u64 = 74;
pub const SYS_FDATASYNC: u64 = 75;
pub const SYS_TRUNCATE: u64 = 76;
pub const SYS_FTRUNCATE: u64 = 77;
pub const SYS_GETDENTS: u64 = 78;
pub const SYS_GETCWD: u64 = 79;
pub const SYS_CHDIR: u64 = 80;
pub const SYS_FCHDIR: u64 = 81;
pub const SYS_RENAME: u64 = 82;
pub const SYS_MKDIR: u64 = 83;
pub const SYS_RMDIR: u64 = 84;
pub const SYS_CREAT: u64 = 85;
pub const SYS_LINK: u64 = 86;
pub const SYS_UNLINK: u64 = 87;
pub const SYS_SYMLINK: u64 = 88;
pub const SYS_READLINK: u64 = 89;
pub const SYS_CHMOD: u64 = 90;
pub const SYS_FCHMOD: u64 = 91;
pub const SYS_UMASK: u64 = 95;
pub const SYS_GETTIMEOFDAY: u64 = 96;
pub const SYS_GETRLIMIT: u64 = 97;
pub const SYS_GETUID: u64 = 102;
pub const SYS_GETGID: u64 = 104;
pub const SYS_GETEUID: u64 = 107;
pub const SYS_GETEGID: u64 = 108;
pub const SYS_SETPGID: u64 = 109;
pub const SYS_GETPPID: u64 = 110;
pub const SYS_GETPGRP: u64 = 111;
pub const SYS_SETSID: u64 = 112;
pub const SYS_GETPGID: u64 = 121;
pub const SYS_GETSID: u64 = 124;
pub const SYS_RT_SIGSUSPEND: u64 = 130;
pub const SYS_SIGALTSTACK: u64 = 131;
pub const SYS_PRCTL: u64 = 157;
pub const SYS_ARCH_PRCTL: u64 = 158;
pub const SYS_SETRLIMIT: u64 = 160;
pub const SYS_GETTID: u64 = 186;
pub const SYS_TKILL: u64 = 200;
pub const SYS_TIME: u64 = 201;
pub const SYS_FUTEX: u64 = 202;
pub const SYS_SCHED_SETAFFINITY: u64 = 203;
pub const SYS_SCHED_GETAFFINITY: u64 = 204;
pub const SYS_EPOLL_CREATE: u64 = 213;
pub const SYS_GETDENTS64: u64 = 217;
pub const SYS_SET_TID_ADDRESS: u64 = 218;
pub const SYS_CLOCK_GETTIME: u64 = 228;
pub const SYS_CLOCK_NANOSLEEP: u64 = 230;
pub const SYS_EXIT_GROUP: u64 = 231;
pub const SYS_EPOLL_WAIT: u64 = 232;
pub const SYS_EPOLL_CTL: u64 = 233;
pub const SYS_TGKILL: u64 = 234;
pub const SYS_WAITID: u64 = 247;
pub const SYS_OPENAT: u64 = 257;
pub const SYS_MKDIRAT: u64 = 258;
pub const SYS_FCHOWNAT: u64 = 260;
pub const SYS_NEWFSTATAT: u64 = 262;
pub const SYS_UNLINKAT: u64 = 263;
pub const SYS_RENAMEAT: u64 = 264;
pub const SYS_LINKAT: u64 = 265;
pub const SYS_SYMLINKAT: u64 = 266;
pub const SYS_READLINKAT: u64 = 267;
pub const SYS_FCHMODAT: u64 = 268;
pub const SYS_FACCESSAT: u64 = 269;
pub const SYS_PSELECT6: u64 = 270;
pub const SYS_PPOLL: u64 = 271;
pub const SYS_SET_ROBUST_LIST: u64 = 273;
pub const SYS_EPOLL_PWAIT: u64 = 281;
pub const SYS_EVENTFD: u64 = 284;
pub const SYS_EVENTFD2: u64 = 290;
pub const SYS_EPOLL_CREATE1: u64 = 291;
pub const SYS_DUP3: u64 = 292;
pub const SYS_PIPE2: u64 = 293;
pub const SYS_PRLIMIT64: u64 = 302;
pub const SYS_RENAMEAT2: u64 = 316;
pub const SYS_GETRANDOM: u64 = 318;
pub const SYS_EXECVEAT: u64 = 322;
pub const SYS_STATX: u64 = 332;
pub const SYS_RSEQ: u64 = 334;
pub const SYS_CLONE3: u64 = 435;
pub const SYS_FACCESSAT2: u64 = 439;
pub const SYS_EPOLL_PWAIT2: u64 = 441;

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
pub const E2BIG: i64 = -7;
pub const ENOEXEC: i64 = -8;
pub const EBADF: i64 = -9;
pub const ECHILD: i64 = -10;
pub const EAGAIN: i64 = -11;
pub const ENOMEM: i64 = -12;
pub const EACCES: i64 = -13;
pub const EFAULT: i64 = -14;
pub const EBUSY: i64 = -16;
pub const EEXIST: i64 = -17;
pub const EXDEV: i64 = -18;
pub const ENODEV: i64 = -19;
pub const ENOTDIR: i64 = -20;
pub const EISDIR: i64 = -21;
pub const EINVAL: i64 = -22;
pub const ENFILE: i64 = -23;
pub const EMFILE: i64 = -24;
pub const ENOTTY: i64 = -25;
pub const ETXTBSY: i64 = -26;
pub const EFBIG: i64 = -27;
pub const ENOSPC: i64 = -28;
pub const ESPIPE: i64 = -29;
pub const EROFS: i64 = -30;
pub const EMLINK: i64 = -31;
pub const EPIPE: i64 = -32;
pub const ERANGE: i64 = -34;
pub const ENAMETOOLONG: i64 = -36;
pub const ENOSYS: i64 = -38;
pub const ENOTEMPTY: i64 = -39;
pub const ELOOP: i64 = -40;
pub const EOPNOTSUPP: i64 = -95;
pub const ETIMEDOUT: i64 = -110;

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
