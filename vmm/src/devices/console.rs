//! Guest console output: bytes from COM1 or from console messages, written
//! to the VMM's output a line at a time, and flushed at exit so nothing is
//! lost when the guest stops mid-line.

use std::io::Write;

pub struct Console {
    out: Box<dyn Write + Send>,
    line: Vec<u8>,
    /// Total bytes the guest printed.
    pub bytes: u64,
    /// Everything printed, kept for the report's consumers (tests).
    pub transcript: Vec<u8>,
}

impl Console {
    /// A console writing to `out` (stdout, or stderr when stdout carries JSON).
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Console {
            out,
            line: Vec::new(),
            bytes: 0,
            transcript: Vec::new(),
        }
    }

    /// Take bytes from the guest; complete lines go out at once.
    pub fn write(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        self.transcript.extend_from_slice(data);
        for &b in data {
            self.line.push(b);
            if b == b'\n' {
                self.flush();
            }
        }
    }

    /// Write out whatever is pending, even half a line.
    pub fn flush(&mut self) {
        if !self.line.is_empty() {
            // A closed stdout must not crash the VMM; the guest runs on.
            let _ = self.out.write_all(&self.line);
            self.line.clear();
        }
        let _ = self.out.flush();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}
