//! The console's outbox: what processes and the kernel print collects in a
//! console message in guest memory, as records of one writer each
//! (abi::msg::Console), and leaves in one exit when the message is full or
//! before any other message (`vmmdev::send`), so the VMM sees output and
//! events in the order the guest made them (a prompt before the stdin read
//! that follows it, a process's last line before its exit). The kernel
//! also flushes when a process blocks, at each timer tick and at shutdown
//! (console.rs). When the guest is stopped from outside (a timeout, a
//! triple fault, Ctrl-C) the VMM reads what the outbox still holds, at the
//! GPA the boot message gave.

use abi::msg::{CONSOLE_MAX, Console, ConsoleRecord, Header, KIND_CONSOLE, RESULT_FAILED};

use crate::memlayout::{Va, v2p};
use crate::sync::KCell;

/// The message being filled, where its last record's header starts and
/// that record's writer, and the host streams found broken.
struct Outbox {
    msg: Console,
    open: Option<(usize, u32, u16)>,
    /// Host streams (bit fd) the VMM has said nobody reads any more.
    broken: u32,
}

/// The console outbox. Protected by the big kernel lock (only kernel code,
/// which always holds it, prints); reached only through `outbox()`, each
/// use ending before a flush.
static OUTBOX: KCell<Outbox> = KCell::new(Outbox {
    msg: Console {
        // Filled in already: the VMM reads the outbox as it is when the
        // guest is stopped (abi::msg::Boot::outbox).
        hdr: Header {
            kind: KIND_CONSOLE,
            size: core::mem::size_of::<Console>() as u32,
            result: 0,
            seq: 0,
        },
        len: 0,
        broken: 0,
        _pad: [0; 2],
        bytes: [0; CONSOLE_MAX],
    },
    open: None,
    broken: 0,
});

fn outbox() -> &'static mut Outbox {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry (a tick does not interrupt the kernel), and no two results
    // of this function are in use at once: each use ends before `flush`.
    unsafe { OUTBOX.get() }
}

/// Add bytes that process `pid` wrote to descriptor `fd` (0, 0: the
/// kernel), sending the message whenever it fills.
pub fn write(pid: u32, fd: u16, mut b: &[u8]) {
    while !b.is_empty() {
        let o = outbox();
        let used = o.msg.len as usize;
        let at = match o.open {
            Some((at, p, f)) if p == pid && f == fd && used < CONSOLE_MAX => at,
            _ if used + ConsoleRecord::SIZE < CONSOLE_MAX => {
                o.open = Some((used, pid, fd));
                o.msg.len += ConsoleRecord::SIZE as u32;
                used
            }
            _ => {
                flush();
                continue;
            }
        };
        let used = o.msg.len as usize;
        let n = b.len().min(CONSOLE_MAX - used);
        o.msg.bytes[used..used + n].copy_from_slice(&b[..n]);
        o.msg.len += n as u32;
        let rec = ConsoleRecord {
            pid,
            fd,
            // Less than CONSOLE_MAX, which fits in u16 (abi).
            len: (o.msg.len as usize - at - ConsoleRecord::SIZE) as u16,
        };
        o.msg.bytes[at..at + ConsoleRecord::SIZE].copy_from_slice(&rec.encode());
        b = &b[n..];
    }
}

/// Send what is buffered, if anything. Returns the host streams (bit fd)
/// the VMM said nobody reads any more, 0 normally.
pub fn flush() -> u32 {
    let o = outbox();
    if o.msg.len == 0 {
        return 0;
    }
    let r = super::transmit(&mut o.msg);
    let o = outbox();
    let broken = if r == Some(RESULT_FAILED) {
        o.msg.broken & 0b110
    } else {
        0
    };
    o.broken |= broken;
    o.msg.len = 0;
    o.open = None;
    broken
}

/// The outbox's guest-physical address (abi::msg::Boot::outbox).
pub fn gpa() -> u64 {
    v2p(Va(&raw const outbox().msg as u64)).get()
}

/// Whether the VMM has said nobody reads host stream `fd` any more.
pub fn broken(fd: u8) -> bool {
    fd < 32 && outbox().broken & (1 << fd) != 0
}
