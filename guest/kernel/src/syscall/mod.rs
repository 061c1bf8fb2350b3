//! System calls, by Linux x86-64 number: number in rax, arguments in rdi,
//! rsi, rdx, r10, r8, r9; result in rax, -errno on failure. Every user
//! pointer is checked against the caller's regions and copied through its
//! page table (copy_in/copy_out), never dereferenced directly. An unknown
//! number returns -ENOSYS, is noted once per process for its report, and
//! the process goes on.
//!
//! One file per concept: fd (reads, writes and the rest on descriptors),
//! pipe (making pipes), poll (waiting on descriptors), wait (children),
//! mm (brk, mmap), process (ids, threads, exit, TLS, limits, names,
//! CPUs), futex (threads' waits),
//! signal (handlers, masks, delivery, the alternate stack), path
//! (calls that name files by path), dir (reading directories, the
//! working directory), time
//! (clocks, sleep, yield), ext (microvmm's own calls, numbered from 1000).

mod dir;
mod epoll;
mod ext;
pub mod fd;
mod futex;
mod mm;
mod path;
mod pipe;
mod poll;
mod process;
pub mod signal;
pub mod time;
mod wait;

pub use poll::POLL_CHAN;

use abi::syscall::*;

use crate::entry::TrapFrame;
use crate::mm::addrspace::AddrSpace;
use crate::proc::{self, Proc};

/// The dirfd of the *at calls that means the working directory.
const AT_FDCWD: u64 = -100i64 as u64;

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
    crate::smp::gate();
    let r = if crate::proc::enter(f, true) {
        1
    } else {
        dispatch(f)
    };
    // A change other CPUs must forget is made before the lock is dropped.
    crate::proc::flush_remote();
    r
}

/// One system call: its number in rax, its arguments in rdi, rsi, rdx,
/// r10, r8, r9. The table is one match on purpose (issue 23 weighed splitting
/// it): each arm is one call's decoding, so a reader finds any call by its
/// number in one place, and the unknown ones fall through to ENOSYS at its
/// end; split by subsystem, it would be several tables to search, each
/// with its own fall-through. Hence it is longer than clippy's 80 lines.
#[allow(clippy::too_many_lines)]
fn dispatch(f: &mut TrapFrame) -> u64 {
    let (a0, a1, a2, a3) = (f.rdi, f.rsi, f.rdx, f.r10);
    let nr = f.rax;
    // A handler left by siglongjmp is over (pause must see that too).
    signal::settle(f.rsp);
    let traced = crate::trace::syscalls();
    let (t0, pid) = if traced {
        (crate::trace::now(), crate::running::pid())
    } else {
        (0, 0)
    };
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
            fd::Xfer::Done(EPIPE) => match signal::send(f, true, abi::signals::SIGPIPE.into()) {
                Ret::Value(_) => Ret::Value(EPIPE),
                r => r,
            },
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
        SYS_PIPE => Ret::Value(pipe::pipe2(a0, 0)),
        SYS_PIPE2 => Ret::Value(pipe::pipe2(a0, a1)),
        SYS_POLL => poll::poll(a0, a1, a2),
        SYS_PPOLL => poll::ppoll(a0, a1, a2),
        SYS_SELECT => poll::select(a0, a1, a2, a3, f.r8),
        SYS_PSELECT6 => poll::pselect6(a0, a1, a2, a3, f.r8),
        SYS_EPOLL_CREATE if a0 as i32 <= 0 => Ret::Value(EINVAL),
        SYS_EPOLL_CREATE => Ret::Value(epoll::create(0)),
        SYS_EPOLL_CREATE1 => Ret::Value(epoll::create(a0)),
        SYS_EPOLL_CTL => Ret::Value(epoll::ctl(a0, a1, a2, a3)),
        SYS_EPOLL_WAIT | SYS_EPOLL_PWAIT => epoll::wait_ms(a0, a1, a2, a3),
        SYS_EPOLL_PWAIT2 => epoll::wait_ts(a0, a1, a2, a3),
        SYS_EVENTFD => Ret::Value(epoll::eventfd(a0, 0)),
        SYS_EVENTFD2 => Ret::Value(epoll::eventfd(a0, a1)),
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
        SYS_CLONE3 => Ret::Value(process::clone3(f, a0, a1)),
        SYS_FUTEX => futex::futex(a0, a1, a2, a3, f.r8, f.r9),
        SYS_EXECVE => match proc::execve(f, a0, a1, a2) {
            Ok(()) => Ret::Switched(true),
            Err(e) => Ret::Value(e),
        },
        SYS_WAIT4 => wait::wait4(a0, a1, a2, a3),
        SYS_WAITID => wait::waitid(a0, a1, a2, a3),
        // The file system: paths, directories, the working directory.
        SYS_OPEN => Ret::Value(path::openat(AT_FDCWD, a0, a1, a2)),
        SYS_OPENAT => Ret::Value(path::openat(a0, a1, a2, a3)),
        SYS_CREAT => Ret::Value(path::creat(a0, a1)),
        SYS_STAT => Ret::Value(path::stat(a0, a1, true)),
        SYS_LSTAT => Ret::Value(path::stat(a0, a1, false)),
        SYS_NEWFSTATAT => Ret::Value(path::newfstatat(a0, a1, a2, a3)),
        SYS_STATX => Ret::Value(path::statx(a0, a1, a2, a3, f.r8)),
        SYS_ACCESS => Ret::Value(path::faccessat(AT_FDCWD, a0, a1, 0)),
        SYS_FACCESSAT => Ret::Value(path::faccessat(a0, a1, a2, 0)),
        SYS_FACCESSAT2 => Ret::Value(path::faccessat(a0, a1, a2, a3)),
        SYS_MKDIR => Ret::Value(path::mkdirat(AT_FDCWD, a0, a1)),
        SYS_MKDIRAT => Ret::Value(path::mkdirat(a0, a1, a2)),
        SYS_RMDIR => Ret::Value(path::unlinkat(AT_FDCWD, a0, 0x200)),
        SYS_UNLINK => Ret::Value(path::unlinkat(AT_FDCWD, a0, 0)),
        SYS_UNLINKAT => Ret::Value(path::unlinkat(a0, a1, a2)),
        SYS_LINK => Ret::Value(path::linkat(AT_FDCWD, a0, AT_FDCWD, a1, 0)),
        SYS_LINKAT => Ret::Value(path::linkat(a0, a1, a2, a3, f.r8)),
        SYS_RENAME => Ret::Value(path::renameat2(AT_FDCWD, a0, AT_FDCWD, a1, 0)),
        SYS_RENAMEAT => Ret::Value(path::renameat2(a0, a1, a2, a3, 0)),
        SYS_RENAMEAT2 => Ret::Value(path::renameat2(a0, a1, a2, a3, f.r8)),
        SYS_SYMLINK => Ret::Value(path::symlinkat(a0, AT_FDCWD, a1)),
        SYS_SYMLINKAT => Ret::Value(path::symlinkat(a0, a1, a2)),
        SYS_READLINK => Ret::Value(path::readlinkat(AT_FDCWD, a0, a1, a2)),
        SYS_READLINKAT => Ret::Value(path::readlinkat(a0, a1, a2, a3)),
        SYS_TRUNCATE => Ret::Value(path::truncate(a0, a1)),
        SYS_FTRUNCATE => Ret::Value(path::ftruncate(a0, a1)),
        SYS_FSYNC | SYS_FDATASYNC => Ret::Value(path::fsync(a0)),
        SYS_CHMOD => Ret::Value(path::fchmodat(AT_FDCWD, a0, a1, 0)),
        SYS_FCHMOD => Ret::Value(path::fchmod(a0, a1)),
        SYS_FCHMODAT => Ret::Value(path::fchmodat(a0, a1, a2, 0)),
        SYS_UMASK => Ret::Value(path::umask(a0)),
        SYS_GETDENTS64 => Ret::Value(dir::getdents(a0, a1, a2, true)),
        SYS_GETDENTS => Ret::Value(dir::getdents(a0, a1, a2, false)),
        SYS_CHDIR => Ret::Value(dir::chdir(a0)),
        SYS_FCHDIR => Ret::Value(dir::fchdir(a0)),
        SYS_GETCWD => Ret::Value(dir::getcwd(a0, a1)),
        SYS_BRK => Ret::Value(mm::brk(a0)),
        SYS_MMAP => Ret::Value(mm::mmap(a0, a1, a2, a3, f.r8, f.r9)),
        SYS_MSYNC => Ret::Value(mm::msync(a0, a1, a2)),
        SYS_MUNMAP => Ret::Value(mm::munmap(a0, a1)),
        SYS_MPROTECT => Ret::Value(mm::mprotect(a0, a1, a2)),
        SYS_MADVISE => Ret::Value(mm::madvise(a0, a1, a2)),
        SYS_GETPID => Ret::Value(current().tgid as i64),
        SYS_GETTID => Ret::Value(current().pid as i64),
        SYS_SET_TID_ADDRESS => {
            current().clear_tid = a0;
            Ret::Value(current().pid as i64)
        }
        SYS_GETUID | SYS_GETGID | SYS_GETEUID | SYS_GETEGID => Ret::Value(0),
        SYS_GETPPID => Ret::Value(current().ppid as i64),
        // No process groups or sessions are kept: each process leads its
        // own, so shells that ask (and set, for job control) go on.
        SYS_GETPGRP | SYS_SETSID => Ret::Value(current().pid as i64),
        SYS_GETPGID | SYS_GETSID if a0 as u32 == 0 => Ret::Value(current().pid as i64),
        SYS_GETPGID | SYS_GETSID => Ret::Value(a0 as u32 as i64),
        SYS_SETPGID => Ret::Value(0),
        SYS_RT_SIGACTION => Ret::Value(signal::sigaction(a0, a1, a2, a3)),
        SYS_RT_SIGPROCMASK => Ret::Value(signal::sigprocmask(a0, a1, a2, a3)),
        SYS_RT_SIGRETURN => signal::sigreturn(f),
        SYS_PAUSE => signal::pause(),
        SYS_RT_SIGSUSPEND => signal::sigsuspend(a0, a1),
        SYS_SIGALTSTACK => Ret::Value(signal::sigaltstack(a0, a1)),
        SYS_KILL if signal::is_self(a0, true) => signal::send(f, true, a1),
        SYS_KILL => Ret::Value(signal::kill(a0, a1)),
        SYS_TKILL => signal::tkill(f, None, a0, a1),
        SYS_TGKILL => signal::tkill(f, Some(a0), a1, a2),
        // A robust futex list is remembered, never walked (a thread that
        // dies holding a robust mutex leaves it held).
        SYS_SET_ROBUST_LIST if a1 != 24 => Ret::Value(EINVAL),
        SYS_SET_ROBUST_LIST => {
            current().robust_list = a0;
            Ret::Value(0)
        }
        // Restartable sequences: glibc goes on without them.
        SYS_RSEQ => Ret::Value(ENOSYS),
        SYS_ARCH_PRCTL => Ret::Value(process::arch_prctl(a0, a1)),
        SYS_PRCTL => Ret::Value(process::prctl(a0, a1)),
        SYS_SCHED_GETAFFINITY => Ret::Value(process::sched_getaffinity(a0, a1, a2)),
        SYS_SCHED_SETAFFINITY => process::sched_setaffinity(f, a0, a1, a2),
        SYS_PRLIMIT64 => Ret::Value(process::prlimit64(a0, a1, a2, a3)),
        // The older pair (Go 1.19 asks RLIMIT_NOFILE at start-up):
        // prlimit64 on itself.
        SYS_GETRLIMIT => Ret::Value(process::prlimit64(0, a0, 0, a1)),
        SYS_SETRLIMIT => Ret::Value(process::prlimit64(0, a0, a1, 0)),
        SYS_UNAME => Ret::Value(process::uname(a0)),
        SYS_GETRANDOM => Ret::Value(process::getrandom(a0, a1)),
        SYS_EXIT => process::exit_thread(f, a0),
        SYS_EXIT_GROUP => process::exit(f, a0),
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
    if traced {
        // sub: 0 returned b, 1 switched away, 2 blocked (runs again).
        let (sub, v) = match r {
            Ret::Value(v) => (0, v as u64),
            Ret::Switched(_) => (1, 0),
            Ret::Block(_) | Ret::BlockUntil(..) => (2, 0),
        };
        let took = crate::arch::cpu::rdtsc().wrapping_sub(t0);
        let ev = abi::trace::EV_SYSCALL;
        crate::trace::record(t0, ev, sub, pid, nr, v, took, 0);
    }
    match r {
        Ret::Value(v) => {
            f.rax = v as u64;
            // A signal to deliver: the frame now runs its handler (or
            // another process, if it ended the caller).
            if signal::deliver(f) {
                return 1;
            }
            proc::maybe_yield(f) as u64
        }
        Ret::Switched(other) => other as u64,
        // A blocking point: what the console holds goes out before the
        // caller waits (a prompt before its read, a line before a sleep).
        Ret::Block(chan) => {
            crate::console::flush();
            proc::block(f, nr, chan, 0) as u64
        }
        Ret::BlockUntil(chan, deadline) => {
            crate::console::flush();
            proc::block(f, nr, chan, deadline) as u64
        }
    }
}
