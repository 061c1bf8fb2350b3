//! poll(2), ppoll(2), select(2) and pselect6(2) over every kind of
//! descriptor, ready as `file::readiness` says. With nothing ready the
//! caller waits on the poll channel, which every pipe change wakes, until
//! its timeout: the deadline is kept across the call's restarts
//! (`Proc::call_deadline`), so a timeout still ends the wait.

use abi::Pod;
use abi::syscall::{EBADF, EFAULT, EINVAL};

use super::{Ret, current, put, time, with_aspace};
use crate::arch::cpu;
use crate::file;

const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLERR: u16 = 0x8;
const POLLHUP: u16 = 0x10;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
const READS: u16 = POLLIN | POLLRDNORM;
const WRITES: u16 = POLLOUT | POLLWRNORM;
/// Linux refuses more entries than RLIMIT_NOFILE (1024 by default).
const NFDS_MAX: u64 = 1024;
/// struct pollfd: int fd; short events; short revents.
const POLLFD: u64 = 8;
/// select's fd_set: FD_SETSIZE bits.
const FD_SETSIZE: u64 = 1024;

/// The channel pollers wait on: every pipe change wakes it.
pub const POLL_CHAN: u64 = 3 << 32;

/// What `fd` is ready for now among `events` (POLLERR, POLLHUP and
/// POLLNVAL are reported whatever was asked; a negative fd is skipped).
fn revents(fd: i32, events: u16) -> u16 {
    if fd < 0 {
        return 0;
    }
    let Ok((_, of)) = current().fds.file(fd as u64) else {
        return POLLNVAL;
    };
    let (r, w, hup) = file::readiness(&of, true);
    let mut out = 0;
    if r && of.readable() {
        out |= events & READS;
    }
    if w && of.writable() {
        out |= events & WRITES;
    }
    if hup {
        out |= if of.writable() { POLLERR } else { POLLHUP };
    }
    out
}

/// What a poller with nothing ready does: wait on POLL_CHAN until the
/// deadline `timeout_ns` from the call's first try (None: forever), or
/// return 0 once it has passed.
pub(super) fn wait(timeout_ns: Option<u64>) -> Ret {
    let Some(ns) = timeout_ns else {
        return Ret::Block(POLL_CHAN);
    };
    let p = current();
    let now = cpu::rdtsc();
    if p.call_deadline == 0 {
        p.call_deadline = now.saturating_add(time::tsc_from_ns(ns)).max(1);
    }
    if now >= p.call_deadline {
        p.call_deadline = 0;
        return Ret::Value(0);
    }
    Ret::BlockUntil(POLL_CHAN, p.call_deadline)
}

/// A result: the call is over, its deadline with it.
pub(super) fn done(v: i64) -> Ret {
    current().call_deadline = 0;
    Ret::Value(v)
}

/// poll and ppoll: answer every entry; with none ready, wait.
fn poll_fds(fds: u64, nfds: u64, timeout_ns: Option<u64>) -> Ret {
    if nfds > NFDS_MAX {
        return done(EINVAL);
    }
    let mut ready = 0;
    for i in 0..nfds {
        // nfds <= 1024: no overflow in the offset, only in the address.
        let Some(at) = fds.checked_add(i * POLLFD) else {
            return done(EFAULT);
        };
        let mut e = [0u8; POLLFD as usize];
        if with_aspace(|a| if a.copy_in(&mut e, at) { 0 } else { EFAULT }) != 0 {
            return done(EFAULT);
        }
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let r = revents(fd, u16::from_le_bytes([e[4], e[5]]));
        let out = at + 6; // inside the 8 bytes copy_in just read
        if with_aspace(|a| put(a, out, &r)) != 0 {
            return done(EFAULT);
        }
        ready += (r != 0) as i64;
    }
    if ready > 0 || timeout_ns == Some(0) {
        return done(ready);
    }
    wait(timeout_ns)
}

pub fn poll(fds: u64, nfds: u64, timeout_ms: u64) -> Ret {
    let t = timeout_ms as i32;
    let ns = (t >= 0).then(|| (t as u64).saturating_mul(1_000_000));
    poll_fds(fds, nfds, ns)
}

/// A struct timespec at `va` as nanoseconds (None: a null pointer, wait
/// forever); Err on a fault or a bad value.
pub(super) fn timespec(va: u64) -> Result<Option<u64>, i64> {
    if va == 0 {
        return Ok(None);
    }
    time::read_timespec(va).map(Some)
}

/// ppoll: a timespec timeout; the signal mask is accepted (no signal is
/// ever delivered).
pub fn ppoll(fds: u64, nfds: u64, ts: u64) -> Ret {
    match timespec(ts) {
        Ok(ns) => poll_fds(fds, nfds, ns),
        Err(e) => done(e),
    }
}

/// One fd_set of `nfds` bits at `va` (0: none).
fn fd_set(va: u64, nfds: u64) -> Result<[u64; 16], i64> {
    let mut set = [0u64; 16];
    if va == 0 {
        return Ok(set);
    }
    let words = nfds.div_ceil(64) as usize;
    let mut b = [0u8; 128];
    let n = words * 8;
    if with_aspace(|a| {
        if a.copy_in(&mut b[..n], va) {
            0
        } else {
            EFAULT
        }
    }) != 0
    {
        return Err(EFAULT);
    }
    for (k, w) in set.iter_mut().enumerate().take(words) {
        *w = u64::from_le_bytes(b[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
    }
    Ok(set)
}

/// select and pselect6: the three sets, each rewritten with what is ready.
fn select_fds(nfds: u64, sets: [u64; 3], timeout_ns: Option<u64>) -> Ret {
    if nfds > FD_SETSIZE {
        return done(EINVAL);
    }
    let mut inp = [[0u64; 16]; 3];
    for (k, &va) in sets.iter().enumerate() {
        match fd_set(va, nfds) {
            Ok(s) => inp[k] = s,
            Err(e) => return done(e),
        }
    }
    let mut out = [[0u64; 16]; 3];
    let mut ready = 0i64;
    for fd in 0..nfds {
        let (w, bit) = ((fd / 64) as usize, 1u64 << (fd % 64));
        let asked = [READS, WRITES, 0]
            .iter()
            .enumerate()
            .fold(
                0u16,
                |e, (k, &ev)| {
                    if inp[k][w] & bit != 0 { e | ev } else { e }
                },
            );
        let except = inp[2][w] & bit != 0;
        if asked == 0 && !except {
            continue;
        }
        let r = revents(fd as i32, asked);
        if r & POLLNVAL != 0 {
            return done(EBADF);
        }
        for (k, hit) in [
            r & (READS | POLLHUP | POLLERR) != 0 && inp[0][w] & bit != 0,
            r & (WRITES | POLLERR) != 0 && inp[1][w] & bit != 0,
            false,
        ]
        .into_iter()
        .enumerate()
        {
            if hit {
                out[k][w] |= bit;
                ready += 1;
            }
        }
    }
    if ready == 0 && timeout_ns != Some(0) {
        match wait(timeout_ns) {
            // Timed out: the sets are written back, empty, as Linux does.
            Ret::Value(_) => {}
            r => return r,
        }
    }
    let words = nfds.div_ceil(64) as usize;
    for (k, &va) in sets.iter().enumerate() {
        if va != 0 && with_aspace(|a| put_words(a, va, &out[k][..words])) != 0 {
            return done(EFAULT);
        }
    }
    done(ready)
}

fn put_words(a: &mut crate::mm::addrspace::AddrSpace, va: u64, words: &[u64]) -> i64 {
    for (k, w) in words.iter().enumerate() {
        if put(a, va + 8 * k as u64, w) != 0 {
            return EFAULT;
        }
    }
    0
}

/// select(2): a struct timeval timeout.
pub fn select(nfds: u64, r: u64, w: u64, e: u64, tv: u64) -> Ret {
    let ns = if tv == 0 {
        None
    } else {
        let mut b = [0u8; 16];
        if with_aspace(|a| if a.copy_in(&mut b, tv) { 0 } else { EFAULT }) != 0 {
            return done(EFAULT);
        }
        match <[i64; 2]>::from_bytes(&b) {
            Some([s, us]) if s >= 0 && (0..1_000_000).contains(&us) => Some(
                (s as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(us as u64 * 1000),
            ),
            _ => return done(EINVAL),
        }
    };
    select_fds(nfds as u32 as u64, [r, w, e], ns)
}

/// pselect6(2): a timespec timeout; the sigmask argument is accepted.
pub fn pselect6(nfds: u64, r: u64, w: u64, e: u64, ts: u64) -> Ret {
    match timespec(ts) {
        Ok(ns) => select_fds(nfds as u32 as u64, [r, w, e], ns),
        Err(err) => done(err),
    }
}
