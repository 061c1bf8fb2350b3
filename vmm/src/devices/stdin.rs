//! microvmm's stdin, as the first `--run` program's fd 0: each read(0) in
//! the guest is one `read` here of at most what it asked for, so a pipe is
//! streamed as it arrives (never read whole first) and a terminal gives a
//! line at a time; 0 bytes is end of file, and stays so. Other processes,
//! and every process with `--stdin none`, read end of file.

use std::io::{ErrorKind, Read};

/// The source of the programs' stdin.
pub struct Stdin {
    src: Option<Box<dyn Read + Send>>,
    /// End of file seen: no more reads of the source.
    eof: bool,
    /// Bytes handed to the guest so far.
    pub bytes: u64,
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    /// These bytes; none is end of file.
    Bytes(Vec<u8>),
    /// A signal (the watchdog, SIGINT) cut the read short: nothing read.
    Interrupted,
}

impl Stdin {
    /// Read from `src`; None reads end of file at once.
    pub fn new(src: Option<Box<dyn Read + Send>>) -> Stdin {
        Stdin {
            eof: src.is_none(),
            src,
            bytes: 0,
        }
    }

    /// At most `max` bytes, with one read of the source.
    pub fn read(&mut self, max: usize) -> Got {
        let Some(src) = self.src.as_mut().filter(|_| !self.eof && max > 0) else {
            return Got::Bytes(Vec::new());
        };
        let mut buf = vec![0u8; max];
        match src.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                self.eof = n == 0;
                self.bytes = self.bytes.saturating_add(n as u64);
                Got::Bytes(buf)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Got::Interrupted,
            // An unreadable stdin (a closed descriptor) is an empty one.
            Err(_) => {
                self.eof = true;
                Got::Bytes(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives its chunks one read at a time, as a pipe does.
    struct Chunks(Vec<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some(c) = self.0.first_mut() else {
                return Ok(0);
            };
            if c.is_empty() {
                self.0.remove(0);
                return Err(ErrorKind::Interrupted.into());
            }
            let n = c.len().min(buf.len());
            buf[..n].copy_from_slice(&c[..n]);
            c.drain(..n);
            if c.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    #[test]
    fn streams_what_is_ready_then_eof_for_good() {
        let src = Chunks(vec![b"a b\n".to_vec(), vec![], b"c\n".to_vec()]);
        let mut s = Stdin::new(Some(Box::new(src)));
        assert_eq!(s.read(2), Got::Bytes(b"a ".to_vec()));
        assert_eq!(s.read(100), Got::Bytes(b"b\n".to_vec()), "one read each");
        assert_eq!(s.read(100), Got::Interrupted);
        assert_eq!(s.read(100), Got::Bytes(b"c\n".to_vec()));
        assert_eq!(s.read(100), Got::Bytes(vec![]));
        assert_eq!(s.read(100), Got::Bytes(vec![]), "stays at end of file");
        assert_eq!(s.bytes, 6);
    }

    #[test]
    fn none_is_end_of_file() {
        let mut s = Stdin::new(None);
        assert_eq!(s.read(10), Got::Bytes(vec![]));
    }
}
