//! Writing to a stream the user controls (stdout, stderr, a FIFO) without
//! letting it hold the run hostage: each write first polls for room, until
//! a deadline (the run's, deadline.rs). A reader that stalls (`| sleep 60`)
//! makes writes fail with TimedOut once the deadline passes, instead of
//! blocking the VMM forever.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::time::Instant;

/// At most this much per write: a pipe that polls writable has room for
/// PIPE_BUF (4096) bytes, so such a write cannot block.
const CHUNK: usize = 4096;

/// A file descriptor written with a deadline.
pub struct Sink {
    fd: RawFd,
    deadline: Option<Instant>,
}

impl Sink {
    /// Standard output, until `deadline`.
    pub fn stdout(deadline: Option<Instant>) -> Sink {
        Sink {
            fd: libc::STDOUT_FILENO,
            deadline,
        }
    }

    /// Standard error, until `deadline`.
    pub fn stderr(deadline: Option<Instant>) -> Sink {
        Sink {
            fd: libc::STDERR_FILENO,
            deadline,
        }
    }

    /// `fd` (which the caller keeps open while the Sink is used), until
    /// `deadline`.
    pub fn fd(fd: RawFd, deadline: Option<Instant>) -> Sink {
        Sink { fd, deadline }
    }

    /// Wait until the stream can take bytes, or the deadline passes. Past
    /// the deadline a stream that has room right now still takes them (a
    /// report written to files past the output deadline must not silence
    /// a terminal that reads); only waiting is over.
    fn wait(&self) -> io::Result<()> {
        loop {
            let (ms, last) = match self.deadline {
                None => (-1, false),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        (0, true)
                    } else {
                        (left.as_millis().clamp(1, i32::MAX as u128) as i32, false)
                    }
                }
            };
            let mut p = libc::pollfd {
                fd: self.fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n > 0 {
                return Ok(());
            }
            if n == 0 && last {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the output stalled past --timeout",
                ));
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
                if crate::interrupt::received().is_some() {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
                }
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            self.wait()?;
            let n = buf.len().min(CHUNK);
            // SAFETY: buf[..n] is valid for reads; fd is open (Sink's contract).
            let r = unsafe { libc::write(self.fd, buf.as_ptr().cast(), n) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                _ => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn a_pipe_nobody_reads_times_out_instead_of_blocking() {
        let (r, w) = std::io::pipe().expect("pipe");
        let t0 = Instant::now();
        let mut s = Sink::fd(w.as_raw_fd(), Some(t0 + Duration::from_millis(200)));
        let mut written = 0usize;
        let e = loop {
            match s.write(&[b'x'; 4096]) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(written >= 4096, "the pipe buffer took {written}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        drop(r);
    }

    #[test]
    fn past_the_deadline_a_stream_with_room_still_takes_bytes() {
        let (mut r, w) = std::io::pipe().expect("pipe");
        let mut s = Sink::fd(w.as_raw_fd(), Some(Instant::now()));
        s.write_all(b"late but read\n").expect("room in the pipe");
        drop(w);
        let mut got = String::new();
        std::io::Read::read_to_string(&mut r, &mut got).expect("read");
        assert_eq!(got, "late but read\n");
    }

    #[test]
    fn a_closed_reader_is_an_error_not_a_hang() {
        let (r, w) = std::io::pipe().expect("pipe");
        drop(r);
        let mut s = Sink::fd(w.as_raw_fd(), None);
        // SIGPIPE is ignored by the Rust runtime: write fails with EPIPE.
        let e = s.write(b"x").expect_err("no reader");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
