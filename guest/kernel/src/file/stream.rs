//! The streams a process starts with: microvmm's stdin, read through the
//! VMM (one exit per read), and the console, where a program's writes to
//! its stdout and stderr become microvmm's. Which of them reach a terminal
//! on the host decides what fstat and the terminal ioctls say.

use core::sync::atomic::{AtomicU8, Ordering};

use abi::msg::{Header, RESULT_FAILED, RESULT_OK, STDIN_MAX, Stdin};
use abi::syscall::{EFAULT, EINTR, EIO, EPIPE};

use crate::mm::addrspace::AddrSpace;
use crate::{console, kprint, vmmdev};

/// Most bytes one write moves (a short write is legal; libc loops).
pub const WRITE_MAX: u64 = 1 << 20;

/// read from microvmm's stdin: what the VMM has, at most STDIN_MAX bytes a
/// call (a short read is legal; libc loops). Without the device (QEMU):
/// end of file.
pub fn read_stdin(pid: u32, a: &mut AddrSpace, buf: u64, len: u64) -> i64 {
    if len == 0 {
        return 0;
    }
    let want = len.min(STDIN_MAX as u64);
    if !a.check(buf, want) {
        return EFAULT;
    }
    let mut m = Stdin {
        hdr: Header::default(),
        pid,
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

/// Write user bytes to the console as process `pid`'s output on the
/// host's stream `fd` (1 or 2). `at_start`: the next byte starts a line
/// (for the prefix the kernel prints itself when there is no VMM device).
pub fn write_console(
    pid: u32,
    name: &str,
    at_start: &mut bool,
    fd: u8,
    a: &mut AddrSpace,
    buf: u64,
    len: u64,
) -> i64 {
    let len = len.min(WRITE_MAX);
    if !a.check(buf, len) {
        return EFAULT;
    }
    // A stream the VMM said nobody reads: this write goes in a message
    // of its own, whose answer is its EPIPE.
    if console::broken(fd) {
        console::flush();
    }
    let mut number = console::Number::resume(pid, fd);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        if !a.copy_in(&mut chunk[..n], buf + done) {
            return if done == 0 { EFAULT } else { done as i64 };
        }
        number.scan(&chunk[..n]);
        if vmmdev::present() {
            // The VMM prefixes each line with "[pid name] " when asked to.
            console::write_from(pid, u32::from(fd), &chunk[..n]);
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
    number.save(pid, fd);
    // Else the bytes wait in the console's buffer (console.rs says until
    // when).
    if number.seen || console::broken(fd) {
        // Sent now: a printed number (console::Number), or a stream
        // nobody may read any more, whose answer is this write's EPIPE.
        if console::flush() & (1 << fd) != 0 {
            return EPIPE;
        }
    }
    len as i64
}

/// Which standard streams reach a terminal on the host (BootInfo), set
/// once at boot: 1 << fd.
static TTYS: AtomicU8 = AtomicU8::new(0);

/// Note which of microvmm's stdin, stdout and stderr are terminals.
pub fn set_ttys(ttys: [bool; 3]) {
    let bits = ttys
        .iter()
        .enumerate()
        .fold(0u8, |b, (fd, &t)| b | ((t as u8) << fd));
    TTYS.store(bits, Ordering::Relaxed);
}

/// Whether host stream `n` (0, 1, 2) is a terminal.
pub fn is_tty(n: u8) -> bool {
    n <= 2 && TTYS.load(Ordering::Relaxed) & (1 << n) != 0
}

/// struct stat of a stream, as u64 words (x86-64, 144 bytes): a terminal
/// (a character device, /dev/pts/0: glibc line-buffers it) where the
/// host's stream is one, else a pipe (glibc buffers fully, st_blksize at a
/// time): as it would see microvmm's own streams, and far fewer exits.
pub fn stat(tty: bool) -> [u64; 18] {
    let mut st = [0u64; 18];
    st[2] = 1; // st_nlink
    if tty {
        st[3] = 0o020_620; // S_IFCHR | rw--w---- (st_mode; st_uid = 0 above it)
        st[5] = 136 << 8; // st_rdev: a pseudo-terminal, /dev/pts/0
        st[7] = 1024; // st_blksize
    } else {
        st[3] = 0o010_600; // S_IFIFO | rw-------
        st[7] = 4096;
    }
    st
}
