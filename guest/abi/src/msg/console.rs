//! The console both ways: the guest's outbox of records (`Console`,
//! `ConsoleRecord`) and a process's read of microvmm's stdin (`Stdin`).

use super::Header;

/// Most bytes of stdin one message carries.
pub const STDIN_MAX: usize = 4000;

/// A process reads its fd 0: the VMM fills `bytes` with what microvmm's own
/// stdin has ready (at most `len`, one `read` on the host, so a pipe is
/// streamed, never read whole first) and writes how many into `len`; 0 is
/// end of file. Only the first `--run` program, and the processes it forks
/// and the images they exec (which inherit its fd 0), are given
/// microvmm's stdin; the VMM answers 0 to any other. RESULT_FAILED: a signal interrupted the
/// read (the kernel returns -EINTR).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stdin {
    pub hdr: Header,
    pub pid: u32,
    /// In: bytes wanted (at most STDIN_MAX). Out: bytes given.
    pub len: u32,
    pub bytes: [u8; STDIN_MAX],
}
const _: () = assert!(core::mem::size_of::<Stdin>() == 4024);

/// Room for console records in one message.
pub const CONSOLE_MAX: usize = 4000;

/// Console bytes from any number of writers, in the order they were
/// written: the kernel buffers them in its memory and sends them in one
/// exit when the buffer is full, before any other message, when a process
/// blocks or ends, at each timer tick, and at shutdown.
///
/// `bytes[..len]` holds records back to back, no padding: each a
/// [`ConsoleRecord`] header ([`ConsoleRecord::SIZE`] bytes) and its `len`
/// bytes. A record has one writer: the kernel (pid 0, fd 0) or exactly the
/// bytes process `pid` passed to write()/writev() on descriptor 1 (stdout)
/// or 2 (stderr), with no prefix: the VMM adds `[pid name] ` at each line
/// start. The VMM checks every length against `len` and `len` against
/// CONSOLE_MAX.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Console {
    pub hdr: Header,
    /// Bytes of `bytes` in use.
    pub len: u32,
    /// Out: bit `fd` (1 << 1, 1 << 2) set when nobody reads that stream any
    /// more (a broken pipe on the host) and a record of a `--run` program
    /// was for it; the result is then RESULT_FAILED. The kernel then
    /// writes to that stream synchronously, one write a message, and kills
    /// the writer with SIGPIPE, as Linux.
    pub broken: u32,
    pub _pad: [u32; 2],
    pub bytes: [u8; CONSOLE_MAX],
}

/// The header of one record in [`Console::bytes`], little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleRecord {
    /// 0: the kernel's own text; else the writing process.
    pub pid: u32,
    /// 0 for the kernel's text, else 1 or 2.
    pub fd: u16,
    /// Bytes that follow the header.
    pub len: u16,
}

impl ConsoleRecord {
    /// Bytes of the header.
    pub const SIZE: usize = 8;

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0; Self::SIZE];
        b[..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..6].copy_from_slice(&self.fd.to_le_bytes());
        b[6..].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    /// The header at the start of `b`; None if `b` is shorter than one.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let h = b.get(..Self::SIZE)?;
        Some(ConsoleRecord {
            pid: u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            fd: u16::from_le_bytes([h[4], h[5]]),
            len: u16::from_le_bytes([h[6], h[7]]),
        })
    }
}
const _: () = assert!(CONSOLE_MAX <= u16::MAX as usize);

const _: () = assert!(core::mem::size_of::<Console>() == 4032);
