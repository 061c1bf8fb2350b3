//! The guest console, one device: COM1 (its data register and the line
//! status a polling driver reads) and the console messages of the
//! hypercall port. Bytes go to the VMM's output a line at a time, and are
//! flushed at exit so nothing is lost when the guest stops mid-line.

use std::io::Write;
use std::time::Instant;

pub mod lines;

use lines::{Lines, Writer};

use crate::devices::event::Stream;

/// Where `--run` programs' own output goes: their fd 1 to microvmm's
/// stdout and fd 2 to its stderr, bytes unchanged — escaped only where the
/// destination is a terminal (unless `--raw-console`), as a program run
/// from a shell writes to it.
pub struct ProgramIo {
    /// The programs' stdout.
    pub out: Box<dyn Write + Send>,
    /// The programs' stderr.
    pub err: Box<dyn Write + Send>,
    /// Escape control characters on `out` (a terminal).
    pub escape_out: bool,
    /// Escape control characters on `err` (a terminal).
    pub escape_err: bool,
}

/// COM1's data register: one byte per `out`.
pub const PORT_DATA: u16 = abi::PORT_SERIAL;
/// COM1's line status register.
const PORT_LSR: u16 = PORT_DATA + 5;
/// Line status: transmitter empty, so polling guests write on.
const LSR_EMPTY: u8 = 0x60;

/// COM1 and the guest's console messages, one device: bytes become lines
/// on the terminal, each process's prefixed with `[pid name] ` (the line
/// discipline, lines.rs).
pub struct Console {
    lines: Lines,
    /// `--run` programs' output, when it goes to microvmm's stdout and
    /// stderr rather than prefixed into the console's lines.
    programs: Option<ProgramIo>,
    /// Drop the kernel's own text (`-q` with `--run`).
    quiet_kernel: bool,
    /// Total bytes the guest printed.
    pub bytes: u64,
    /// When the first byte arrived.
    pub first_output: Option<Instant>,
}

impl Console {
    /// A console writing to `out` (stdout, or stderr when stdout carries
    /// JSON), escaping control characters unless `raw`.
    pub fn new(out: Box<dyn Write + Send>, raw: bool) -> Self {
        Console {
            lines: Lines::new(out, raw),
            programs: None,
            quiet_kernel: false,
            bytes: 0,
            first_output: None,
        }
    }

    /// Send `--run` programs' output to `io`; with `quiet_kernel`, drop
    /// the kernel's own text.
    pub fn with_programs(mut self, io: ProgramIo, quiet_kernel: bool) -> Self {
        self.programs = Some(io);
        self.quiet_kernel = quiet_kernel;
        self
    }

    /// Whether `--run` programs write to microvmm's stdout and stderr.
    pub fn programs_direct(&self) -> bool {
        self.programs.is_some()
    }

    /// Whether `port` is one of COM1's registers this device serves.
    pub fn serves(port: u16) -> bool {
        port == PORT_DATA || port == PORT_LSR
    }

    /// What reading `port` gives: COM1's line status, else all-ones.
    pub fn read(&self, port: u16) -> u32 {
        if port == PORT_LSR {
            u32::from(LSR_EMPTY)
        } else {
            u32::MAX
        }
    }

    fn count(&mut self, data: &[u8]) {
        if self.first_output.is_none() && !data.is_empty() {
            self.first_output = Some(Instant::now());
        }
        self.bytes += data.len() as u64;
    }

    /// Take bytes the kernel wrote (COM1, or a console message of pid 0);
    /// complete lines go out at once.
    pub fn write(&mut self, data: &[u8]) {
        self.count(data);
        if !self.quiet_kernel {
            self.lines.write(Writer::Kernel, "", data);
        }
    }

    /// Take bytes a `--run` program wrote to `stream`: they go to
    /// microvmm's stdout or stderr as they are (escaped on a terminal).
    /// Without ProgramIo they become prefixed console lines, as a built-in's.
    /// False when the reader is gone (a broken pipe: `| head`), for the
    /// program's SIGPIPE.
    pub fn write_program(&mut self, pid: u32, name: &str, stream: Stream, data: &[u8]) -> bool {
        if self.programs.is_none() {
            self.write_process(pid, name, data);
            return true;
        }
        self.count(data);
        // Console lines and program bytes may share a terminal: end ours.
        self.lines.flush();
        let Some(io) = self.programs.as_mut() else {
            return true;
        };
        let (w, escape) = match stream {
            Stream::Stdout => (&mut io.out, io.escape_out),
            Stream::Stderr => (&mut io.err, io.escape_err),
        };
        let bytes = if escape {
            crate::terminal::escape_bytes(data)
        } else {
            std::borrow::Cow::Borrowed(data)
        };
        // A stalled reader loses the bytes, not the run (the JSON keeps
        // them); a closed one is the program's SIGPIPE, as on the host.
        !matches!(w.write_all(&bytes), Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// Take bytes process `pid` wrote: each of its lines starts with
    /// `[pid name] `, as the guest kernel printed it before the VMM did.
    pub fn write_process(&mut self, pid: u32, name: &str, data: &[u8]) {
        self.count(data);
        self.lines.write(Writer::Process(pid), name, data);
    }

    /// Write out whatever is pending, even half a line.
    pub fn flush(&mut self) {
        self.lines.flush();
        if let Some(io) = self.programs.as_mut() {
            let _ = io.out.flush();
            let _ = io.err.flush();
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test can look into.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn written(s: &Shared) -> Vec<u8> {
        s.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    #[test]
    fn lines_go_out_whole_and_the_rest_at_flush() {
        let s = Shared::default();
        let mut c = Console::new(Box::new(s.clone()), false);
        c.write(b"one\ntw");
        assert_eq!(written(&s), b"one\n");
        c.write(b"o");
        c.flush();
        assert_eq!(written(&s), b"one\ntwo");
        assert_eq!(c.bytes, 7);
    }

    #[test]
    fn process_lines_get_their_prefix_once() {
        let s = Shared::default();
        let mut c = Console::new(Box::new(s.clone()), false);
        c.write_process(3, "echo", b"a\nb");
        c.write_process(3, "echo", b"c\n");
        c.write(b"[kernel] x\n");
        assert_eq!(written(&s), b"[3 echo] a\n[3 echo] bc\n[kernel] x\n");
        assert_eq!(c.bytes, 5 + 11);
    }

    #[test]
    fn control_characters_are_escaped_unless_raw() {
        let s = Shared::default();
        let mut c = Console::new(Box::new(s.clone()), false);
        c.write_process(2, "\x1b]0;x\x07", b"\x1b[2Jhi\n");
        assert_eq!(written(&s), b"[2 \\x1b]0;x\\x07] \\x1b[2Jhi\n");
        let r = Shared::default();
        let mut c = Console::new(Box::new(r.clone()), true);
        c.write(b"\x1b[1mbold\n");
        assert_eq!(written(&r), b"\x1b[1mbold\n");
    }

    #[test]
    fn a_guest_line_never_starts_as_ours() {
        let s = Shared::default();
        let mut c = Console::new(Box::new(s.clone()), false);
        c.write(b"[kernel] pid 1: x\nmicrovmm: ok (module 0)\n");
        c.write(b"microvmm: pid 3 was killed\nnot microvmm: x\n");
        assert_eq!(
            written(&s),
            b"[kernel] pid 1: x\n[guest] microvmm: ok (module 0)\n\
              [guest] microvmm: pid 3 was killed\nnot microvmm: x\n"
        );
    }

    #[test]
    fn an_endless_line_is_written_in_pieces() {
        let s = Shared::default();
        let mut c = Console::new(Box::new(s.clone()), false);
        c.write(&vec![b'x'; 3 * lines::LINE_MAX + 5]);
        assert_eq!(written(&s).len(), 3 * lines::LINE_MAX);
        assert!(c.lines.pending() < lines::LINE_MAX);
    }
}
