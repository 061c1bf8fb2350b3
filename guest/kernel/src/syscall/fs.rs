//! The standard streams, the only files there are: fd 0 reads microvmm's
//! stdin for the first `--run` program (through the VMM, one exit per read)
//! and end of file for everyone else; fds 1 and 2 write to the console.
//! Enough of ioctl, fstat and fcntl for libc to decide how to buffer them.

use core::sync::atomic::{AtomicU8, Ordering};

use abi::msg::{Header, RESULT_FAILED, RESULT_OK, STDIN_MAX, Stdin};
use abi::syscall::{EBADF, EFAULT, EINTR, EINVAL, EIO, ENOENT, ENOTTY, EPIPE};

use super::{current, put, with_aspace};
use crate::{console, kprint, vmmdev};

/// Most bytes one write moves (a short write is legal; libc loops).
const WRITE_MAX: u64 = 1 << 20;
/// Most iovecs in one writev (Linux's IOV_MAX).
const IOV_MAX: u64 = 1024;

const TIOCGWINSZ: u64 = 0x5413;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const AT_EMPTY_PATH: u64 = 0x1000;

pub fn read(fd: u64, buf: u64, len: u64) -> i64 {
    match fd {
        0 => read_stdin(buf, len),
        _ => EBADF,
    }
}

/// read(0): what the VMM has of microvmm's stdin, at most STDIN_MAX bytes
/// a call (a short read is legal; libc loops). Only the first `--run`
/// program (module 1) asks; the others, built-ins and runs without the
/// device (QEMU) read end of file.
fn read_stdin(buf: u64, len: u64) -> i64 {
    let p = current();
    if p.module != 1 || len == 0 {
        return 0;
    }
    let want = len.min(STDIN_MAX as u64);
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    if !a.check(buf, want) {
        return EFAULT;
    }
    let mut m = Stdin {
        hdr: Header::default(),
        pid: p.pid,
        len: want as u32, // At most STDIN_MAX.
        bytes: [0; STDIN_MAX],
    };
    match vmmdev::send(&mut m) {
        None => 0,
        Some(RESULT_OK) => {
            // The VMM is trusted no further than the message's own bounds.
            let n = (m.len as usize).min(want as usize);
            if a.copy_out(buf, &m.bytes[..n]) {
                n as i64
            } else {
                EFAULT
            }
        }
        Some(RESULT_FAILED) => EINTR,
        Some(_) => EIO,
    }
}

/// Write user bytes to the console as process output.
pub fn write(fd: u64, buf: u64, len: u64) -> i64 {
    if fd != 1 && fd != 2 {
        return EBADF;
    }
    let p = current();
    let (pid, name, at_start) = (p.pid, p.name, &mut p.at_line_start);
    let name = core::str::from_utf8(abi::msg::until_nul(&name)).unwrap_or("?");
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    let len = len.min(WRITE_MAX);
    if !a.check(buf, len) {
        return EFAULT;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        if !a.copy_in(&mut chunk[..n], buf + done) {
            return if done == 0 { EFAULT } else { done as i64 };
        }
        if vmmdev::present() {
            // The VMM prefixes each line with "[pid name] ".
            console::write_from(pid, fd as u32, &chunk[..n]);
        } else {
            for &c in &chunk[..n] {
                if *at_start {
                    kprint!("[{pid} {name}] ");
                }
                console::write_bytes(&[c]);
                *at_start = c == b'\n';
            }
        }
        done += n as u64;
    }
    if !console::flush() {
        return EPIPE;
    }
    len as i64
}

/// writev(2): the iovecs one after another; a fault after some bytes
/// went out ends it with the count so far.
pub fn writev(fd: u64, iov: u64, cnt: u64) -> i64 {
    if fd != 1 && fd != 2 {
        return EBADF;
    }
    if cnt > IOV_MAX {
        return EINVAL;
    }
    let mut total = 0i64;
    for i in 0..cnt {
        let mut v = [0u8; 16];
        let ok = with_aspace(|a| {
            if a.copy_in(&mut v, iov + 16 * i) {
                0
            } else {
                EFAULT
            }
        });
        if ok != 0 {
            return if total > 0 { total } else { ok };
        }
        let (mut base, mut len) = (0u64, 0u64);
        for k in 0..8 {
            base |= (v[k] as u64) << (8 * k);
            len |= (v[8 + k] as u64) << (8 * k);
        }
        if len == 0 {
            continue;
        }
        let r = write(fd, base, len);
        if r < 0 {
            return if total > 0 { total } else { r };
        }
        total += r;
        if (r as u64) < len {
            break;
        }
    }
    total
}

pub fn close(fd: u64) -> i64 {
    if fd <= 2 { 0 } else { EBADF }
}

/// Which standard streams reach a terminal on the host (BootInfo), set
/// once at boot: 1 << fd.
static TTYS: AtomicU8 = AtomicU8::new(0);

/// Note which of fds 0, 1, 2 are terminals.
pub fn set_ttys(ttys: [bool; 3]) {
    let bits = ttys
        .iter()
        .enumerate()
        .fold(0u8, |b, (fd, &t)| b | ((t as u8) << fd));
    TTYS.store(bits, Ordering::Relaxed);
}

fn is_tty(fd: u64) -> bool {
    fd <= 2 && TTYS.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Terminal ioctls: on a stream that reaches a terminal, not a terminal as
/// far as termios goes (TCGETS) but a 24x80 window (TIOCGWINSZ), so musl
/// line-buffers it; elsewhere -ENOTTY, so musl buffers fully.
pub fn ioctl(fd: u64, req: u64, arg: u64) -> i64 {
    if fd > 2 {
        return EBADF;
    }
    match req {
        TIOCGWINSZ if is_tty(fd) => with_aspace(|a| put(a, arg, &[24u16, 80, 0, 0])),
        _ => ENOTTY,
    }
}

/// fstat(2) of a standard stream: a terminal (a character device,
/// /dev/pts/0: glibc line-buffers it) where the host's stream is one, else
/// a pipe (glibc buffers fully, st_blksize at a time): as it would see
/// microvmm's own streams, and far fewer exits for a program's output.
pub fn fstat(fd: u64, buf: u64) -> i64 {
    if fd > 2 {
        return EBADF;
    }
    // struct stat (x86-64, 144 bytes) as u64 words: st_mode at byte 24,
    // st_rdev at 40, st_blksize at 56.
    let mut st = [0u64; 18];
    st[2] = 1; // st_nlink
    if is_tty(fd) {
        st[3] = 0o020_620; // S_IFCHR | rw--w---- (st_mode; st_uid = 0 above it)
        st[5] = 136 << 8; // st_rdev: a pseudo-terminal, /dev/pts/0
        st[7] = 1024; // st_blksize
    } else {
        st[3] = 0o010_600; // S_IFIFO | rw-------
        st[7] = 4096;
    }
    with_aspace(|a| put(a, buf, &st))
}

/// newfstatat(2): only the AT_EMPTY_PATH form on a standard stream (how
/// glibc calls fstat); there are no paths.
pub fn newfstatat(dirfd: u64, path: u64, buf: u64, flags: u64) -> i64 {
    let mut c = [0u8; 1];
    if with_aspace(|a| if a.copy_in(&mut c, path) { 0 } else { EFAULT }) != 0 {
        return EFAULT;
    }
    if flags & AT_EMPTY_PATH != 0 && c[0] == 0 {
        fstat(dirfd, buf)
    } else {
        ENOENT
    }
}

pub fn fcntl(fd: u64, cmd: u64) -> i64 {
    if fd > 2 {
        return EBADF;
    }
    match cmd {
        F_GETFL => {
            if fd == 0 {
                0 // O_RDONLY
            } else {
                1 // O_WRONLY
            }
        }
        F_GETFD | F_SETFD => 0,
        _ => EINVAL,
    }
}
