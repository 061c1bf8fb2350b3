//! The console: the kernel's text and what processes write to their
//! stdout and stderr. With the microvmm device the bytes wait in the
//! device's outbox (vmmdev/outbox.rs), as records of one writer each, and
//! leave in one exit per flush, since every exit costs tens of
//! microseconds here and `rep outsb` exits once per byte in native mode.
//! They leave when the outbox is full, before any other message to the
//! VMM, when a process blocks (syscall dispatch), at each timer tick
//! (trap.rs: interactive output stays timely) and at shutdown. Without the
//! device, bytes go to COM1 one by one, at once.
//!
//! A record's writer is the kernel (pid 0) or one process and one of its
//! descriptors (1 or 2), whose bytes go out exactly as it wrote them (the
//! VMM adds the `[pid name] ` prefix, or passes a `--run` program's bytes
//! to its own stdout or stderr).

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::cpu;
use crate::vmmdev::{self, outbox};

/// The kernel's own text.
pub fn write_bytes(b: &[u8]) {
    write_from(0, 0, b);
}

/// Bytes that process `pid` wrote to descriptor `fd` (0, 0: the kernel).
pub fn write_from(pid: u32, fd: u32, b: &[u8]) {
    if vmmdev::present() {
        outbox::write(pid, fd as u16, b); // 0, 1 or 2.
    } else {
        for &c in b {
            cpu::outb(abi::PORT_SERIAL, c);
        }
    }
}

/// Send what is buffered. Returns the host streams (bit fd) the VMM said
/// nobody reads any more (a broken pipe on the host), 0 normally.
pub fn flush() -> u32 {
    if vmmdev::present() {
        outbox::flush()
    } else {
        0
    }
}

/// Whether the VMM said nobody reads host stream `fd` any more: writes to
/// it then go out at once, one write a message, for their EPIPE.
pub fn broken(fd: u8) -> bool {
    vmmdev::present() && outbox::broken(fd)
}

/// The VMM looks up each `0x...` number a process prints when the bytes
/// reach it (vmm registry/printed.rs: a printed address is shown with the
/// translation it had when printed). A write that holds such a number, or
/// may go on with or end one, therefore goes out at the end of its system
/// call, as every write did before the outbox, not after the process has
/// changed its address space. `Number` follows one writer across its
/// writes: the last writer's state is kept (a number split across two
/// writes with another writer's in between is missed).
pub struct Number {
    /// The writer's last byte so far.
    prev: u8,
    /// A `0x` was seen and no byte has ended the number since.
    open: bool,
    /// This write holds, goes on with or ends a number.
    pub seen: bool,
}

/// The last writer's (pid << 32 | fd << 16 | open << 8 | last byte).
static LAST: AtomicU64 = AtomicU64::new(0);

impl Number {
    /// The state process `pid` left on descriptor `fd` with its last
    /// write, if it was the last writer.
    pub fn resume(pid: u32, fd: u8) -> Number {
        let w = LAST.load(Ordering::Relaxed);
        let mine = w >> 16 == (u64::from(pid) << 16 | u64::from(fd));
        let open = mine && w & 0x100 != 0;
        Number {
            prev: if mine { w as u8 } else { 0 },
            open,
            seen: open,
        }
    }

    /// Follow the bytes written.
    pub fn scan(&mut self, b: &[u8]) {
        for &c in b {
            if (c == b'x' || c == b'X') && self.prev == b'0' {
                self.open = true;
                self.seen = true;
            } else if !c.is_ascii_alphanumeric() {
                self.open = false;
            }
            self.prev = c;
        }
    }

    /// Keep the state for the writer's next write.
    pub fn save(&self, pid: u32, fd: u8) {
        let w = u64::from(pid) << 32
            | u64::from(fd) << 16
            | u64::from(self.open) << 8
            | u64::from(self.prev);
        LAST.store(w, Ordering::Relaxed);
    }
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

/// Print a line (it leaves with the next flush).
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{ $crate::kprint!($($arg)*); $crate::console::write_bytes(b"\n"); }};
}
