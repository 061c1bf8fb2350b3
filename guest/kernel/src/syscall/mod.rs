//! System calls, by Linux x86-64 number: number in rax, arguments in rdi,
//! rsi, rdx, r10, r8, r9; result in rax, -errno on failure. Every user
//! pointer is checked against the caller's regions and copied through its
//! page table (copy_in/copy_out), never dereferenced directly. An unknown
//! number returns -ENOSYS, is noted once per process for its report, and
//! the process goes on.
//!
//! One file per concept: fd (reads, writes and the rest on descriptors),
//! pipe (making pipes), poll (waiting on descriptors), wait (children),
//! mm (brk, mmap), process (ids, exit, TLS, limits, names, CPUs),
//! signal (handlers, the alternate stack, signalling oneself), time
//! (clocks, sleep, yield), ext (microvmm's own calls, numbered from 1000).

mod ext;
pub mod fd;
mod mm;
mod pipe;
mod poll;
mod process;
pub mod signal;
pub mod time;
mod wait;

pub use poll::POLL_CHAN;

use abi::syscall::*;

use crate::entry::TrapFrame;
use crate::mm::uvm::AddrSpace;
use crate::proc::{self, Proc};

/// What a handler leaves for the return path.
pub enum Ret {
    /// Put this in rax and go back (maybe switching without a timer).
    Value(i64),
    /// The frame already holds what to resume (the handler switched, or
    /// the caller is gone): 1 if it is another process's.
    Switched(bool),
    /// The call must wait for something on this channel: the caller
    /// sleeps and makes the call again when woken (`proc::block`).
    Block(u64),
    /// The same, or until this TSC deadline passes.
    BlockUntil(u64, u64),
}

/// The running process. Valid for the duration of one handler, which must
/// not hold it across a call back into proc.
fn current() -> &'static mut Proc {
    // SAFETY: syscalls only come from a running process; handlers obey
    // the contract above.
    unsafe { proc::current() }
}

/// Run `f` on the caller's address space (EFAULT if it has none).
fn with_aspace(f: impl FnOnce(&mut AddrSpace) -> i64) -> i64 {
    current().aspace.as_mut().map_or(EFAULT, f)
}

/// Copy a plain-old-data value (an abi struct, an integer, a Linux
/// struct built as an array) out to user `va`: 0, or EFAULT if the process
/// may not write there.
fn put<T: abi::Pod>(a: &mut AddrSpace, va: u64, v: &T) -> i64 {
    if a.copy_out(va, v.as_bytes()) {
        0
    } else {
        EFAULT
    }
}

/// Called by `syscall_entry`. Returns 0 to go back to the caller with
/// `sysretq`, 1 when `f` now holds another process's frame.
#[unsafe(no_mangle)]
extern "C" fn syscall_dispatch(f: &mut TrapFrame) -> u64 {
    let (a0, a1, a2, a3) = (f.rdi, f.rsi, f.rdx, f.r10);
    let nr = f.rax;
    let r = match nr {
        SYS_READ => fd::read(a0, a1, a2, None).into(),
        SYS_PREAD64 => fd::read(a0, a1, a2, Some(a3)).into(),
        SYS_READV => fd::vector(a0, a1, a2, false).into(),
        // A stream nobody reads any more: SIGPIPE, whose default kills.
        SYS_WRITE | SYS_WRITEV | SYS_PWRITE64 => match match f.rax {
            SYS_WRITE => fd::write(a0, a1, a2, None),
            SYS_PWRITE64 => fd::write(a0, a1, a2, Some(a3)),
            _ => fd::vector(a0, a1, a2, true),
        } {
            fd::Xfer::Done(EPIPE)
                if signal::terminates(current(), abi::signals::SIGPIPE.into()) =>
            {
                signal::send(f, true, abi::signals::SIGPIPE.into())
            }
            x => x.into(),
        },
        SYS_LSEEK => Ret::Value(fd::lseek(a0, a1, a2)),
        SYS_CLOSE => Ret::Value(fd::close(a0)),
        SYS_DUP => Ret::Value(fd::dup(a0)),
        SYS_DUP2 => Ret::Value(fd::dup3(a0, a1, None)),
        SYS_DUP3 => Ret::Value(fd::dup3(a0, a1, Some(a2))),
        SYS_FCNTL => Ret::Value(fd::fcntl(a0, a1, a2)),
        SYS_IOCTL => Ret::Value(fd::ioctl(a0, a1, a2)),
        SYS_FSTAT => Ret::Value(fd::fstat(a0, a1)),
        SYS_NEWFSTATAT => match fd::fstat_empty_path(a0, a1, a3) {
            Some(dirfd) => Ret::Value(fd::fstat(dirfd, a2)),
            None => Ret::Value(ENOENT),
        },
        SYS_PIPE => Ret::Value(pipe::pipe2(a0, 0)),
        SYS_PIPE2 => Ret::Value(pipe::pipe2(a0, a1)),
        SYS_POLL => poll::poll(a0, a1, a2),
        SYS_PPOLL => poll::ppoll(a0, a1, a2),
        SYS_SELECT => poll::select(a0, a1, a2, a3, f.r8),
        SYS_PSELECT6 => poll::pselect6(a0, a1, a2, a3, f.r8),
        SYS_FORK | SYS_VFORK => Ret::Value(proc::fork(f, &proc::Clone::FORK)),
        SYS_CLONE => Ret::Value(proc::fork(
            f,
            &proc::Clone {
                flags: a0,
                stack: a1,
                ptid: a2,
                ctid: a3,
                tls: f.r8,
            },
        )),
        SYS_EXECVE => match proc::execve(f, a0, a1, a2) {
            Ok(()) => Ret::Switched(true),
            Err(e) => Ret::Value(e),
        },
        SYS_WAIT4 => wait::wait4(a0, a1, a2, a3),
        SYS_WAITID => wait::waitid(a0, a1, a2, a3),
        SYS_READLINK | SYS_OPEN | SYS_OPENAT => Ret::Value(ENOENT), // no files
        SYS_BRK => Ret::Value(mm::brk(a0)),
        SYS_MMAP => Ret::Value(mm::mmap(a0, a1, a2, a3)),
        SYS_MUNMAP => Ret::Value(mm::munmap(a0, a1)),
        SYS_MPROTECT => Ret::Value(mm::mprotect(a0, a1, a2)),
        SYS_MADVISE => Ret::Value(mm::madvise(a0, a1, a2)),
        SYS_GETPID | SYS_GETTID | SYS_SET_TID_ADDRESS => Ret::Value(current().pid as i64),
        SYS_GETUID | SYS_GETGID | SYS_GETEUID | SYS_GETEGID => Ret::Value(0),
        SYS_GETPPID => Ret::Value(current().ppid as i64),
        SYS_GETCWD => Ret::Value(process::getcwd(a0, a1)),
        SYS_RT_SIGACTION => Ret::Value(signal::sigaction(a0, a1, a2, a3)),
        // Masks are accepted: no handler ever runs to be held back.
        SYS_RT_SIGPROCMASK => Ret::Value(0),
        SYS_SIGALTSTACK => Ret::Value(signal::sigaltstack(a0, a1)),
        SYS_KILL if signal::is_self(a0, true) => signal::send(f, true, a1),
        SYS_KILL => Ret::Value(signal::kill(a0, a1)),
        SYS_TKILL => signal::send(f, signal::is_self(a0, false), a1),
        SYS_TGKILL => {
            let to_self = signal::is_self(a0, false) && signal::is_self(a1, false);
            signal::send(f, to_self, a2)
        }
        // Threads' robust futex lists and restartable sequences: glibc
        // goes on without them.
        SYS_SET_ROBUST_LIST | SYS_RSEQ => Ret::Value(ENOSYS),
        SYS_ARCH_PRCTL => Ret::Value(process::arch_prctl(a0, a1)),
        SYS_PRCTL => Ret::Value(process::prctl(a0, a1)),
        SYS_SCHED_GETAFFINITY => Ret::Value(process::sched_getaffinity(a0, a1, a2)),
        SYS_PRLIMIT64 => Ret::Value(process::prlimit64(a0, a1, a2, a3)),
        SYS_UNAME => Ret::Value(process::uname(a0)),
        SYS_GETRANDOM => Ret::Value(process::getrandom(a0, a1)),
        SYS_EXIT | SYS_EXIT_GROUP => process::exit(f, a0),
        SYS_CLOCK_GETTIME => Ret::Value(time::clock_gettime(a0, a1)),
        SYS_GETTIMEOFDAY => Ret::Value(time::gettimeofday(a0)),
        SYS_TIME => Ret::Value(time::time(a0)),
        SYS_NANOSLEEP => time::nanosleep(f, 1, 0, a0),
        SYS_CLOCK_NANOSLEEP => time::nanosleep(f, a0, a1, a2),
        SYS_SCHED_YIELD => time::sched_yield(f),
        SYS_WHEREIS => Ret::Value(ext::whereis(a0, a1)),
        SYS_STATS => Ret::Value(ext::stats(a0)),
        SYS_PATTERN => Ret::Value(ext::pattern(a0, a1)),
        SYS_EXITLOOP => Ret::Value(ext::exitloop(a0)),
        nr => {
            current().note_unknown(nr);
            Ret::Value(ENOSYS)
        }
    };
    match r {
        Ret::Value(v) => {
            f.rax = v as u64;
            proc::maybe_yield(f) as u64
        }
        Ret::Switched(other) => other as u64,
        Ret::Block(chan) => proc::block(f, nr, chan, 0) as u64,
        Ret::BlockUntil(chan, deadline) => proc::block(f, nr, chan, deadline) as u64,
    }
}
