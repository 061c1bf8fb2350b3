//! The console's line discipline: guest bytes from several writers (the
//! kernel, each process) become terminal lines, each line from one
//! writer, each process line starting with `[pid name] `.
//!
//! - When another writer speaks while a line is open, that line is ended
//!   (a newline goes out) and the new writer starts a line of its own;
//!   when the first writer goes on, its text starts a new line with its
//!   prefix again. So a process's text never continues a line that
//!   another writer's text opened or ended, and no unprefixed line of a
//!   process can start as microvmm's own lines do.
//! - A run of empty lines from one process goes out as one line,
//!   `[pid name] (N empty lines)` (one empty line as itself), so a
//!   newline flood is not multiplied by the prefix.
//! - A line longer than [`LINE_MAX`] goes out in pieces: a guest that
//!   never prints a newline must not grow the buffer without bound.

use std::borrow::Cow;
use std::io::Write;

/// Longest line kept before it is written out in pieces.
pub const LINE_MAX: usize = 4096;

/// How microvmm's own lines start.
const OURS: &[u8] = b"microvmm:";
/// Put before a guest line that starts as ours do.
const SPOOF_MARK: &[u8] = b"[guest] ";

/// Who wrote bytes: the kernel (COM1, no prefix) or a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The guest kernel: its lines carry their own `[kernel]`-style tags.
    Kernel,
    /// Process `pid`: its lines start with `[pid name] `.
    Process(u32),
}

/// Empty lines of one process not yet written out.
struct Blank {
    pid: u32,
    prefix: String,
    count: u64,
}

/// Bytes in, terminal lines out.
pub struct Lines {
    out: Box<dyn Write + Send>,
    /// Pass guest bytes through as they are (`--raw-console`); else
    /// control characters are shown escaped (terminal.rs).
    raw: bool,
    /// The open line's bytes not yet written, its prefix included.
    line: Vec<u8>,
    /// Who wrote the open line; None at the start of a terminal line.
    open: Option<Writer>,
    /// Whether `line` starts a terminal line (nothing of it written yet).
    at_start: bool,
    blank: Option<Blank>,
}

impl Lines {
    /// Lines to `out`, escaped unless `raw`.
    pub fn new(out: Box<dyn Write + Send>, raw: bool) -> Self {
        Lines {
            out,
            raw,
            line: Vec::new(),
            open: None,
            at_start: true,
            blank: None,
        }
    }

    /// Take `data` from `who`; `name` is the process's name (unused for
    /// the kernel). Complete lines go out at once.
    pub fn write(&mut self, who: Writer, name: &str, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let (piece, after) = rest.split_at(end);
            self.piece(who, name, piece);
            rest = after;
        }
    }

    /// One piece: at most one line's worth, ending in its newline if any.
    fn piece(&mut self, who: Writer, name: &str, piece: &[u8]) {
        if self.open.is_some_and(|w| w != who) {
            self.end_line();
        }
        if let Writer::Process(pid) = who
            && self.open.is_none()
            && piece == b"\n"
        {
            match &mut self.blank {
                Some(b) if b.pid == pid => b.count += 1,
                _ => {
                    self.write_blank();
                    self.blank = Some(Blank {
                        pid,
                        prefix: prefix(pid, name),
                        count: 1,
                    });
                }
            }
            return;
        }
        self.write_blank();
        if let Writer::Process(pid) = who
            && self.open.is_none()
        {
            self.line.extend_from_slice(prefix(pid, name).as_bytes());
        }
        self.open = Some(who);
        for &b in piece {
            self.line.push(b);
            if self.line.len() >= LINE_MAX {
                self.emit();
            }
        }
        if piece.last() == Some(&b'\n') {
            self.open = None;
            self.emit();
        }
    }

    /// End the open line of a writer another has interrupted.
    fn end_line(&mut self) {
        self.line.push(b'\n');
        self.open = None;
        self.emit();
    }

    /// Write out the pending run of empty lines, as one line.
    fn write_blank(&mut self) {
        let Some(b) = self.blank.take() else {
            return;
        };
        let text = if b.count == 1 {
            format!("{}\n", b.prefix)
        } else {
            format!("{}({} empty lines)\n", b.prefix, b.count)
        };
        self.line.extend_from_slice(text.as_bytes());
        self.emit();
    }

    /// Write the pending bytes: escaped, and marked when a line starts as
    /// microvmm's own do.
    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = if self.raw {
            Cow::Borrowed(&self.line[..])
        } else {
            crate::terminal::escape_bytes(&self.line)
        };
        if !self.raw && self.at_start && line.starts_with(OURS) {
            let _ = self.out.write_all(SPOOF_MARK);
        }
        // A closed stdout must not crash the VMM; the guest runs on.
        let _ = self.out.write_all(&line);
        self.at_start = self.line.last() == Some(&b'\n');
        self.line.clear();
    }

    /// Write out whatever is pending, even half a line (the run is over,
    /// or the output must be seen now).
    pub fn flush(&mut self) {
        self.write_blank();
        self.emit();
        let _ = self.out.flush();
    }

    /// Bytes held back (the open line's, its prefix included).
    pub fn pending(&self) -> usize {
        self.line.len()
    }
}

/// `[pid name] `, the name shown escaped.
fn prefix(pid: u32, name: &str) -> String {
    format!("[{pid} {}] ", crate::terminal::escape_text(name))
}

#[cfg(test)]
mod tests;
