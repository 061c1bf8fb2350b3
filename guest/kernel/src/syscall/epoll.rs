//! epoll_create(1), epoll_ctl, epoll_wait, epoll_pwait(2) and eventfd(2):
//! the descriptors, the user structs and the waiting; the instances and
//! counters themselves are `file::epoll` and `file::eventfd`. A wait with
//! nothing ready sleeps on the poll channel, which every pipe and counter
//! change wakes, until its timeout (kept across restarts, as poll keeps
//! it). Go's runtime parks its threads in epoll_pwait and wakes them with
//! a pipe (Go 1.19) or an eventfd (later versions).

use abi::syscall::{EFAULT, EINVAL, ENFILE, EPERM};

use super::fd::O_CLOEXEC;
use super::poll::{done, timespec, wait};
use super::{Ret, current, with_aspace};
use crate::file::epoll::{self, EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLWAKEUP};
use crate::file::eventfd::{self, EFD_SEMAPHORE};
use crate::file::{self, O_NONBLOCK, O_RDWR, Object};

/// struct epoll_event on x86-64: u32 events, u64 data, packed.
const EVENT: u64 = 12;
/// Events one call reports at most (a process asking for more gets them
/// over several calls).
const BATCH: usize = 64;

/// A new descriptor open on `obj` (read-write), or -errno with `obj`
/// closed again.
fn install(obj: Object, flags: u32, cloexec: bool) -> i64 {
    match current().fds.open(obj, O_RDWR | flags, cloexec) {
        Ok(fd) => fd as i64,
        Err(e) => {
            match obj {
                Object::Epoll(id) => epoll::close(id),
                Object::EventFd(id) => eventfd::close(id),
                _ => {}
            }
            e
        }
    }
}

/// epoll_create1(flags); epoll_create(size) is epoll_create1(0) for a
/// positive size.
pub fn create(flags: u64) -> i64 {
    if flags & !O_CLOEXEC != 0 {
        return EINVAL;
    }
    let Some(id) = epoll::create() else {
        return ENFILE;
    };
    install(Object::Epoll(id), 0, flags & O_CLOEXEC != 0)
}

/// eventfd2(initval, flags): EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE.
pub fn eventfd(initval: u64, flags: u64) -> i64 {
    if flags & !(O_CLOEXEC | u64::from(O_NONBLOCK) | EFD_SEMAPHORE) != 0 {
        return EINVAL;
    }
    let Some(id) = eventfd::create(initval as u32, flags & EFD_SEMAPHORE != 0) else {
        return ENFILE;
    };
    let nb = flags as u32 & O_NONBLOCK;
    install(Object::EventFd(id), nb, flags & O_CLOEXEC != 0)
}

/// The epoll instance `epfd` names.
fn instance(epfd: u64) -> Result<u16, i64> {
    let (_, of) = current().fds.file(epfd)?;
    match of.obj {
        Object::Epoll(id) => Ok(id),
        _ => Err(EINVAL),
    }
}

pub fn ctl(epfd: u64, op: u64, fd: u64, ev: u64) -> i64 {
    let id = match instance(epfd) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let (file, of) = match current().fds.file(fd) {
        Ok(f) => f,
        Err(e) => return e,
    };
    if epfd == fd {
        return EINVAL;
    }
    // Linux refuses regular files and directories (always ready); Go
    // then reads them without its poller.
    if matches!(of.obj, Object::Node(_)) {
        return EPERM;
    }
    let (mut events, mut data) = (0, 0);
    if op != epoll::EPOLL_CTL_DEL {
        let mut b = [0u8; EVENT as usize];
        if with_aspace(|a| if a.copy_in(&mut b, ev) { 0 } else { EFAULT }) != 0 {
            return EFAULT;
        }
        events = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[4..12]);
        data = u64::from_le_bytes(d);
        // EPOLLEXCLUSIVE goes with none of these, and only with ADD.
        if events & EPOLLEXCLUSIVE != 0
            && (op != epoll::EPOLL_CTL_ADD || events & (EPOLLONESHOT | EPOLLWAKEUP) != 0)
        {
            return EINVAL;
        }
    }
    epoll::ctl(id, op, file, events, data)
}

/// epoll_wait and epoll_pwait (the mask is accepted and not applied:
/// a signal arriving during the wait is delivered when it ends).
pub fn wait_events(epfd: u64, out: u64, max: u64, timeout_ns: Option<u64>) -> Ret {
    let id = match instance(epfd) {
        Ok(id) => id,
        Err(e) => return done(e),
    };
    if max == 0 || max > i32::MAX as u64 / EVENT {
        return done(EINVAL);
    }
    let want = (max as usize).min(BATCH);
    let Some(len) = (want as u64).checked_mul(EVENT) else {
        return done(EINVAL);
    };
    if with_aspace(|a| if a.check(out, len) { 0 } else { EFAULT }) != 0 {
        return done(EFAULT);
    }
    let mut got = [epoll::Report::default(); BATCH];
    let n = epoll::collect(id, &mut got[..want], file::watched_events);
    if n == 0 {
        return if timeout_ns == Some(0) {
            done(0)
        } else {
            wait(timeout_ns)
        };
    }
    // As Linux: the events copied out are reported; those that could not
    // be stay ready (EFAULT if none could).
    let mut sent = 0;
    for (i, r) in got[..n].iter().enumerate() {
        let mut b = [0u8; EVENT as usize];
        b[..4].copy_from_slice(&r.events.to_le_bytes());
        b[4..].copy_from_slice(&r.data.to_le_bytes());
        let at = out + i as u64 * EVENT; // inside the range checked above
        if with_aspace(|a| if a.copy_out(at, &b) { 0 } else { EFAULT }) != 0 {
            break;
        }
        sent = i + 1;
    }
    epoll::commit(id, &got[..sent]);
    done(if sent == 0 { EFAULT } else { sent as i64 })
}

/// epoll_wait's timeout in milliseconds (negative: forever).
pub fn wait_ms(epfd: u64, out: u64, max: u64, timeout_ms: u64) -> Ret {
    let t = timeout_ms as i32;
    let ns = (t >= 0).then(|| (t as u64).saturating_mul(1_000_000));
    wait_events(epfd, out, max, ns)
}

/// epoll_pwait2: a struct timespec timeout (null: forever).
pub fn wait_ts(epfd: u64, out: u64, max: u64, ts: u64) -> Ret {
    match timespec(ts) {
        Ok(ns) => wait_events(epfd, out, max, ns),
        Err(e) => done(e),
    }
}
