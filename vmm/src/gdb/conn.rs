//! Where gdb connects: `--gdb PORT`, `--gdb ADDR:PORT` or `--gdb
//! unix:PATH` (parsed and checked here, loopback only unless the user says
//! otherwise), the one connection a session has, and the watcher thread
//! that turns bytes arriving while the guest runs (gdb's Ctrl-C) into a
//! kick of the vCPU thread out of KVM_RUN.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where to listen, as `--gdb` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (127.0.0.1 unless `--gdb-any-address`).
    Tcp(SocketAddr),
    /// A Unix-domain socket at this path (created; must not exist).
    Unix(PathBuf),
}

impl Listen {
    /// Parse `--gdb`'s value: PORT (on 127.0.0.1), HOST:PORT, or
    /// unix:PATH. A non-loopback HOST needs `any_address`.
    pub fn parse(s: &str, any_address: bool) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("--gdb unix:PATH needs a path".into());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        let addr: SocketAddr = match s.parse::<u16>() {
            Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
            Err(_) => s
                .parse()
                .map_err(|_| format!("--gdb '{s}': give PORT, 127.0.0.1:PORT or unix:PATH"))?,
        };
        if !addr.ip().is_loopback() && !any_address {
            return Err(format!(
                "--gdb {s}: gdb's protocol lets whoever connects read and write the guest; \
                 listening beyond loopback needs --gdb-any-address too"
            ));
        }
        Ok(Listen::Tcp(addr))
    }
}

/// A bound, not yet accepted, listener.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix-domain, with the path to remove at the end.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Bind (before the guest runs); the error names the address.
    pub fn bind(l: &Listen) -> Result<Listener, String> {
        match l {
            Listen::Tcp(a) => TcpListener::bind(a)
                .map(Listener::Tcp)
                .map_err(|e| format!("--gdb: cannot listen on {a}: {e}")),
            Listen::Unix(p) => UnixListener::bind(p)
                .map(|u| Listener::Unix(u, p.clone()))
                .map_err(|e| format!("--gdb: cannot listen on {}: {e}", p.display())),
        }
    }

    /// What to tell the user to type into gdb.
    pub fn target(&self) -> String {
        match self {
            Listener::Tcp(t) => t
                .local_addr()
                .map_or_else(|_| "?".into(), |a| format!("target remote {a}")),
            Listener::Unix(_, p) => format!("target remote {}", p.display()),
        }
    }

    /// Wait for gdb, until `until` (`--timeout`) or SIGINT/SIGTERM (std's
    /// accept waits through signals, so the wait polls in 100 ms steps).
    pub fn accept(&self, until: Instant) -> io::Result<Conn> {
        let fd = match self {
            Listener::Tcp(t) => t.as_raw_fd(),
            Listener::Unix(u, _) => u.as_raw_fd(),
        };
        while !poll_in(fd, 100) {
            if Instant::now() >= until {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "--timeout ran out"));
            }
            if let Some(sig) = crate::interrupt::received() {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    crate::interrupt::name(sig),
                ));
            }
        }
        match self {
            Listener::Tcp(t) => {
                let (s, _) = t.accept()?;
                let _ = s.set_nodelay(true);
                Ok(Conn::Tcp(s))
            }
            Listener::Unix(u, _) => Ok(Conn::Unix(u.accept()?.0)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// gdb's connection.
pub enum Conn {
    /// Over TCP.
    Tcp(TcpStream),
    /// Over a Unix-domain socket.
    Unix(UnixStream),
}

impl Conn {
    fn fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }

    /// One byte from gdb, waiting for it; None when gdb is gone, once
    /// `until` (`--timeout`) has passed, or once SIGINT/SIGTERM asked
    /// microvmm to end. The wait polls in 100 ms steps, so a signal that
    /// lands just before it cannot be missed.
    pub fn read_byte(&mut self, until: Instant) -> Option<u8> {
        let mut b = [0u8; 1];
        loop {
            if Instant::now() >= until || crate::interrupt::received().is_some() {
                return None;
            }
            if !poll_in(self.fd(), 100) {
                continue;
            }
            let n = match self {
                Conn::Tcp(s) => s.read(&mut b),
                Conn::Unix(s) => s.read(&mut b),
            };
            match n {
                Ok(1) => return Some(b[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return None,
            }
        }
    }

    /// Whether a byte (or the end of the connection) is waiting.
    pub fn readable(&self) -> bool {
        poll_in(self.fd(), 0)
    }

    /// A second handle on the same socket, for the watcher.
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }
}

impl gdbstub::conn::Connection for Conn {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> io::Result<()> {
        self.write_all(&[byte])
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => Write::write_all(s, buf),
            Conn::Unix(s) => Write::write_all(s, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => Write::flush(s),
            Conn::Unix(s) => Write::flush(s),
        }
    }
}

/// poll(2) `fd` for input (or hang-up) for up to `ms` milliseconds.
fn poll_in(fd: RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and its count is 1.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n > 0
}

/// Watches gdb's socket while the guest runs, and kicks the vCPU thread
/// out of KVM_RUN when anything arrives (Ctrl-C, or gdb going away), again
/// every 10 ms until the vCPU thread has seen it (as the watchdog does).
pub struct Watcher {
    /// Set by the vCPU thread while the guest runs.
    pub running: Arc<AtomicBool>,
    /// Set by the watcher when gdb sent something; cleared by the vCPU thread.
    pub wanted: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Start watching `conn` for the calling (vCPU) thread.
    pub fn start(conn: &Conn) -> io::Result<Watcher> {
        let watched = conn.try_clone()?;
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let running = Arc::new(AtomicBool::new(false));
        let wanted = Arc::new(AtomicBool::new(false));
        let quit = Arc::new(AtomicBool::new(false));
        let (r, w, q) = (running.clone(), wanted.clone(), quit.clone());
        let thread = std::thread::Builder::new()
            .name("gdb-watch".into())
            .spawn(move || {
                // SIGINT and SIGTERM are for the vCPU thread (they end KVM_RUN).
                crate::interrupt::block_on_this_thread();
                let fd = watched.fd();
                while !q.load(Ordering::Acquire) {
                    if !r.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    if w.load(Ordering::Acquire) || poll_in(fd, 50) {
                        w.store(true, Ordering::Release);
                        if r.load(Ordering::Acquire) {
                            // SAFETY: tgkill to our own vCPU thread, with the
                            // watchdog's signal, whose handler does nothing.
                            unsafe {
                                libc::syscall(
                                    libc::SYS_tgkill,
                                    pid,
                                    tid,
                                    crate::watchdog::kick_signal(),
                                )
                            };
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            })?;
        Ok(Watcher {
            running,
            wanted,
            quit,
            thread: Some(thread),
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default() {
        assert_eq!(
            Listen::parse("1234", false),
            Ok(Listen::Tcp("127.0.0.1:1234".parse().unwrap()))
        );
        assert!(Listen::parse("[::1]:9", false).is_ok());
        assert_eq!(
            Listen::parse("unix:/tmp/x", false),
            Ok(Listen::Unix("/tmp/x".into()))
        );
    }

    #[test]
    fn other_addresses_need_the_flag() {
        let e = Listen::parse("0.0.0.0:1234", false).unwrap_err();
        assert!(e.contains("--gdb-any-address"), "{e}");
        assert!(Listen::parse("0.0.0.0:1234", true).is_ok());
        assert!(Listen::parse("nonsense", false).is_err());
        assert!(Listen::parse("unix:", false).is_err());
        assert!(Listen::parse("70000", false).is_err());
    }
}
