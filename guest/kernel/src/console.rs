//! The console: bytes collect in a message buffer and leave in one exit per
//! flush (a line, a `write` call, or a full buffer), since every exit costs
//! tens of microseconds here and `rep outsb` exits once per byte in native
//! mode. Without the microvmm device, bytes go to COM1 one by one.
//!
//! A message has one writer: the kernel (pid 0) or one process and one of
//! its descriptors (1 or 2), whose bytes go out exactly as it wrote them
//! (the VMM adds the `[pid name] ` prefix, or passes a `--run` program's
//! bytes to its own stdout or stderr). The buffer is flushed whenever the
//! writer changes.

use core::fmt;

use abi::msg::{CONSOLE_MAX, Console, Header};

use crate::arch::cpu;
use crate::sync::KCell;
use crate::vmmdev;

/// The console line buffer. Protected by the big kernel lock; taken once
/// per write by `buf()` (kernel printing also holds the lock: only kernel
/// code, which always holds it, prints).
static BUF: KCell<Console> = KCell::new(Console {
    hdr: Header {
        kind: 0,
        size: 0,
        result: 0,
        seq: 0,
    },
    len: 0,
    pid: 0,
    fd: 0,
    _pad: 0,
    bytes: [0; CONSOLE_MAX],
});

/// The console buffer. write_bytes lets go of it before it flushes.
fn buf() -> &'static mut Console {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { BUF.get() }
}

/// The kernel's own text.
pub fn write_bytes(b: &[u8]) {
    write_from(0, 0, b);
}

/// Bytes that process `pid` wrote to descriptor `fd` (0, 0: the kernel).
pub fn write_from(pid: u32, fd: u32, b: &[u8]) {
    if buf().pid != pid || buf().fd != fd {
        flush();
        buf().pid = pid;
        buf().fd = fd;
    }
    for &c in b {
        let m = buf();
        if m.len as usize == CONSOLE_MAX {
            flush();
        }
        let m = buf();
        m.bytes[m.len as usize] = c;
        m.len += 1;
    }
}

/// Send what is buffered. False when the VMM says nobody reads the
/// writer's stream any more (a broken pipe on the host).
pub fn flush() -> bool {
    let m = buf();
    if m.len == 0 {
        return true;
    }
    let r = vmmdev::send(m);
    if r.is_none() {
        for &c in &m.bytes[..m.len as usize] {
            cpu::outb(abi::PORT_SERIAL, c);
        }
    }
    buf().len = 0;
    r != Some(abi::msg::RESULT_FAILED)
}

pub struct Writer;

impl fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => {{ let _ = core::fmt::Write::write_fmt(&mut $crate::console::Writer, format_args!($($arg)*)); }};
}

/// Print a line and flush it.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{ $crate::kprint!($($arg)*); $crate::console::write_bytes(b"\n"); $crate::console::flush(); }};
}
