//! System calls on file descriptors, whatever they are open on: read,
//! write and their vector and positioned forms, lseek, close, dup and
//! fcntl, ioctl, fstat. Each finds the open file (`crate::file`) and hands
//! the bytes to what it is open on: microvmm's stdin and the console
//! (`file::stream`), a pipe (`crate::pipe`), a file (`crate::fs`), an
//! eventfd counter (`file::eventfd`). Reads
//! and writes that must wait (an empty or full pipe) block: the process
//! sleeps and the call runs again when the pipe changes.

use abi::Pod;
use abi::syscall::{EBADF, EFAULT, EINVAL, ENOTTY, ESPIPE};

use super::{Ret, current, put, with_aspace};
use crate::file::eventfd::{self, Step};
use crate::file::{self, FileId, O_APPEND, O_NONBLOCK, Object, OpenFile, stream};
use crate::mm::addrspace::AddrSpace;
use crate::{fs, pipe};

/// Most iovecs in one readv/writev (Linux's IOV_MAX).
const IOV_MAX: u64 = 1024;

const TIOCGWINSZ: u64 = 0x5413;
const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_DUPFD_CLOEXEC: u64 = 1030;
const FD_CLOEXEC: u64 = 1;
/// dup3 and pipe2's flag (O_CLOEXEC).
pub const O_CLOEXEC: u64 = 0o2_000_000;
const SEEK_SET: u64 = 0;
const SEEK_CUR: u64 = 1;
const SEEK_END: u64 = 2;

/// What a transfer on one object came to.
pub enum Xfer {
    /// Bytes moved, or -errno.
    Done(i64),
    /// Nothing can move now: sleep on this channel, then try again.
    Block(u64),
}

impl From<Xfer> for Ret {
    fn from(x: Xfer) -> Ret {
        match x {
            Xfer::Done(v) => Ret::Value(v),
            Xfer::Block(chan) => Ret::Block(chan),
        }
    }
}

/// The open file `fd` names in the caller's table.
fn open_file(fd: u64) -> Result<(FileId, OpenFile), i64> {
    current().fds.file(fd)
}

/// Read up to `len` bytes from `fd` into user `buf`; `at`: pread's offset
/// (files only), else the open file's own.
pub fn read(fd: u64, buf: u64, len: u64, at: Option<u64>) -> Xfer {
    let (id, of) = match open_file(fd) {
        Ok(f) => f,
        Err(e) => return Xfer::Done(e),
    };
    if !of.readable() {
        return Xfer::Done(EBADF);
    }
    if at.is_some() && !matches!(of.obj, Object::Node(_)) {
        return Xfer::Done(ESPIPE);
    }
    let p = current();
    let pid = p.tgid;
    let Some(a) = p.aspace.as_mut() else {
        return Xfer::Done(EFAULT);
    };
    match of.obj {
        Object::Stdin => Xfer::Done(stream::read_stdin(pid, a, buf, len)),
        Object::Empty => Xfer::Done(0),
        Object::Console(_) => Xfer::Done(EBADF),
        Object::Pipe { id: pipe, .. } => pipe::read(pipe, a, buf, len, of.flags & O_NONBLOCK != 0),
        Object::EventFd(e) => counter(e, a, buf, len, false, of.flags & O_NONBLOCK != 0),
        Object::Epoll(_) => Xfer::Done(EINVAL),
        Object::Node(ino) => {
            let off = at.unwrap_or(of.off);
            let n = fs::read(ino, off, a, buf, len);
            if n > 0 && at.is_none() {
                file::set_offset(id, off + n as u64);
            }
            Xfer::Done(n)
        }
    }
}

/// Write `len` bytes of user `buf` to `fd`; `at` as for read.
pub fn write(fd: u64, buf: u64, len: u64, at: Option<u64>) -> Xfer {
    let (id, of) = match open_file(fd) {
        Ok(f) => f,
        Err(e) => return Xfer::Done(e),
    };
    if !of.writable() {
        return Xfer::Done(EBADF);
    }
    if at.is_some() && !matches!(of.obj, Object::Node(_)) {
        return Xfer::Done(ESPIPE);
    }
    let p = current();
    let (pid, name, at_start) = (p.tgid, p.name, &mut p.at_line_start);
    let name = core::str::from_utf8(abi::msg::until_nul(&name)).unwrap_or("?");
    let Some(a) = p.aspace.as_mut() else {
        return Xfer::Done(EFAULT);
    };
    match of.obj {
        Object::Console(n) => {
            Xfer::Done(stream::write_console(pid, name, at_start, n, a, buf, len))
        }
        Object::Stdin | Object::Empty => Xfer::Done(EBADF),
        Object::Pipe { id: pipe, .. } => pipe::write(pipe, a, buf, len, of.flags & O_NONBLOCK != 0),
        Object::EventFd(e) => counter(e, a, buf, len, true, of.flags & O_NONBLOCK != 0),
        Object::Epoll(_) => Xfer::Done(EINVAL),
        Object::Node(ino) => {
            let append = at.is_none() && of.flags & O_APPEND != 0;
            let (n, end) = fs::write(ino, at.unwrap_or(of.off), append, a, buf, len);
            if n >= 0 && at.is_none() {
                file::set_offset(id, end);
            }
            Xfer::Done(n)
        }
    }
}

/// read or write of eventfd `e`'s 8-byte count at user `buf`.
fn counter(e: u16, a: &mut AddrSpace, buf: u64, len: u64, write: bool, nonblock: bool) -> Xfer {
    if len < 8 {
        return Xfer::Done(EINVAL);
    }
    let step = if write {
        let mut b = [0u8; 8];
        if !a.copy_in(&mut b, buf) {
            return Xfer::Done(EFAULT);
        }
        eventfd::write(e, u64::from_le_bytes(b), nonblock)
    } else {
        // Checked first: a count taken is never lost to a bad buffer.
        if !a.check(buf, 8) {
            return Xfer::Done(EFAULT);
        }
        eventfd::read(e, nonblock)
    };
    match step {
        Step::Done(_) if write => Xfer::Done(8),
        Step::Done(v) if a.copy_out(buf, &v.to_le_bytes()) => Xfer::Done(8),
        Step::Done(_) => Xfer::Done(EFAULT),
        Step::Err(e) => Xfer::Done(e),
        Step::Block(chan) => Xfer::Block(chan),
    }
}

/// One iovec of user array `iov`: (base, len), or None on a fault.
fn iovec(iov: u64, i: u64) -> Option<(u64, u64)> {
    let mut b = [0u8; 16];
    let at = iov.checked_add(16 * i)?;
    let ok = with_aspace(|a| if a.copy_in(&mut b, at) { 0 } else { EFAULT });
    let v = <[u64; 2]>::from_bytes(&b).filter(|_| ok == 0)?;
    Some((v[0], v[1]))
}

/// readv(2) and writev(2): the iovecs one after another, as long as each
/// moves all it asked; a fault or a block after some bytes ends the call
/// with the count so far.
pub fn vector(fd: u64, iov: u64, cnt: u64, writing: bool) -> Xfer {
    if cnt > IOV_MAX {
        return Xfer::Done(EINVAL);
    }
    let mut total = 0i64;
    for i in 0..cnt {
        let Some((base, len)) = iovec(iov, i) else {
            return Xfer::Done(if total > 0 { total } else { EFAULT });
        };
        if len == 0 {
            continue;
        }
        let r = if writing {
            write(fd, base, len, None)
        } else {
            read(fd, base, len, None)
        };
        match r {
            Xfer::Done(n) if n < 0 => return Xfer::Done(if total > 0 { total } else { n }),
            Xfer::Done(n) => {
                total += n;
                if (n as u64) < len {
                    break;
                }
            }
            Xfer::Block(chan) if total == 0 => return Xfer::Block(chan),
            Xfer::Block(_) => break,
        }
    }
    Xfer::Done(total)
}

/// lseek(2): files only (ESPIPE on pipes and streams).
pub fn lseek(fd: u64, off: u64, whence: u64) -> i64 {
    let (id, of) = match open_file(fd) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let Object::Node(ino) = of.obj else {
        return ESPIPE;
    };
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => of.off,
        SEEK_END => fs::size(ino),
        _ => return EINVAL,
    };
    match base.checked_add_signed(off as i64) {
        Some(new) if new <= i64::MAX as u64 => {
            file::set_offset(id, new);
            new as i64
        }
        _ => EINVAL,
    }
}

pub fn close(fd: u64) -> i64 {
    match current().fds.close(fd) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// A descriptor as a system call returns it, or -errno.
fn value(r: Result<u64, i64>) -> i64 {
    r.map_or_else(|e| e, |fd| fd as i64)
}

pub fn dup(fd: u64) -> i64 {
    value(current().fds.dup_from(fd, 0, false))
}

/// dup2(2) (`flags` None) and dup3(2).
pub fn dup3(old: u64, new: u64, flags: Option<u64>) -> i64 {
    let fds = &mut current().fds;
    if old == new {
        // dup2 of a descriptor onto itself checks it; dup3 refuses.
        return match (fds.get(old), flags) {
            (Err(e), _) => e,
            (Ok(_), Some(_)) => EINVAL,
            (Ok(_), None) => new as i64,
        };
    }
    let flags = flags.unwrap_or(0);
    if flags & !O_CLOEXEC != 0 {
        return EINVAL;
    }
    value(fds.dup_to(old, new, flags & O_CLOEXEC != 0))
}

pub fn fcntl(fd: u64, cmd: u64, arg: u64) -> i64 {
    let fds = &mut current().fds;
    let (id, of) = match fds.file(fd) {
        Ok(f) => f,
        Err(e) => return e,
    };
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => value(fds.dup_from(fd, arg, cmd == F_DUPFD_CLOEXEC)),
        F_GETFD => fds.cloexec(fd) as i64,
        F_SETFD => {
            // get() succeeded: fd < NOFILE.
            fds.set_cloexec(fd as usize, arg & FD_CLOEXEC != 0);
            0
        }
        F_GETFL => i64::from(of.flags),
        F_SETFL => {
            file::set_flags(id, arg as u32);
            0
        }
        _ => EINVAL,
    }
}

/// Terminal ioctls: on a stream that reaches a terminal, not a terminal as
/// far as termios goes (TCGETS) but a 24x80 window (TIOCGWINSZ), so musl
/// line-buffers it; elsewhere -ENOTTY, so musl buffers fully.
pub fn ioctl(fd: u64, req: u64, arg: u64) -> i64 {
    let of = match open_file(fd) {
        Ok((_, of)) => of,
        Err(e) => return e,
    };
    let tty = tty_of(of.obj);
    match req {
        TIOCGWINSZ if tty => with_aspace(|a| put(a, arg, &[24u16, 80, 0, 0])),
        _ => ENOTTY,
    }
}

/// Whether what `obj` reaches is a terminal on the host.
fn tty_of(obj: Object) -> bool {
    match obj {
        Object::Stdin => stream::is_tty(0),
        Object::Console(n) => stream::is_tty(n),
        _ => false,
    }
}

/// struct stat of what `fd` is open on.
pub fn stat_of(fd: u64) -> Result<[u64; 18], i64> {
    let (_, of) = open_file(fd)?;
    Ok(match of.obj {
        Object::Node(ino) => fs::stat(ino),
        Object::Pipe { .. } => stream::stat(false),
        obj => stream::stat(tty_of(obj)),
    })
}

pub fn fstat(fd: u64, buf: u64) -> i64 {
    match stat_of(fd) {
        Ok(st) => with_aspace(|a| put(a, buf, &st)),
        Err(e) => e,
    }
}
