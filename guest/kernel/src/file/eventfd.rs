//! eventfd(2): a 64-bit counter behind a descriptor. write adds to it,
//! read takes it all (or one, with EFD_SEMAPHORE) and waits while it is 0;
//! a write that would take it past 2^64 - 2 waits for a read. Runtimes
//! use one to wake a thread parked in epoll_wait (Go's netpoll break).
//! Every change wakes the counter's readers and writers and every poller.

use abi::syscall::{EAGAIN, EINVAL};

use crate::sync::KCell;

/// eventfds in the whole system (each is one open file's object).
pub const NEVENTFD: usize = 32;
/// The largest value the counter holds.
const MAX: u64 = u64::MAX - 1;
/// eventfd2's flag: read takes 1, not the whole count.
pub const EFD_SEMAPHORE: u64 = 1;

#[derive(Clone, Copy)]
struct Counter {
    used: bool,
    count: u64,
    semaphore: bool,
    /// Reads and writes so far (epoll's edges).
    seq: u64,
}

/// The eventfd counters. Protected by the big kernel lock; taken once per
/// operation by `counters()`.
static COUNTERS: KCell<[Counter; NEVENTFD]> = KCell::new(
    [Counter {
        used: false,
        count: 0,
        semaphore: false,
        seq: 0,
    }; NEVENTFD],
);

fn counters() -> &'static mut [Counter; NEVENTFD] {
    // SAFETY: kernel code is never re-entered (see crate::sync); each
    // function takes the table once and calls nothing that takes it again.
    unsafe { COUNTERS.get() }
}

/// The wait channel of counter `id` (see `proc::block`).
fn chan(id: u16) -> u64 {
    (7 << 32) | u64::from(id)
}

fn notify(id: u16) {
    crate::proc::wakeup(chan(id));
    crate::proc::wakeup(crate::syscall::POLL_CHAN);
}

/// A new counter starting at `initval`: its id, or None when all are in use.
pub fn create(initval: u32, semaphore: bool) -> Option<u16> {
    let t = counters();
    let i = t.iter().position(|c| !c.used)?;
    t[i] = Counter {
        used: true,
        count: initval.into(),
        semaphore,
        seq: 0,
    };
    // NEVENTFD fits in u16.
    Some(i as u16)
}

/// The last open file on counter `id` closed.
pub fn close(id: u16) {
    if let Some(c) = counters().get_mut(usize::from(id)) {
        c.used = false;
        notify(id);
    }
}

/// What a read or write on a counter came to.
pub enum Step {
    /// The 8-byte value read, or the write done (0).
    Done(u64),
    /// -errno.
    Err(i64),
    /// Wait on this channel, then try again.
    Block(u64),
}

/// read(2): the count (or 1), which then leaves the counter.
pub fn read(id: u16, nonblock: bool) -> Step {
    let Some(c) = counters().get_mut(usize::from(id)).filter(|c| c.used) else {
        return Step::Err(EINVAL);
    };
    if c.count == 0 {
        return if nonblock {
            Step::Err(EAGAIN)
        } else {
            Step::Block(chan(id))
        };
    }
    let v = if c.semaphore { 1 } else { c.count };
    c.count -= v;
    c.seq = c.seq.wrapping_add(1);
    notify(id);
    Step::Done(v)
}

/// write(2) of `v`: added to the count; u64::MAX is EINVAL, a sum past
/// the largest count waits (or EAGAIN).
pub fn write(id: u16, v: u64, nonblock: bool) -> Step {
    let Some(c) = counters().get_mut(usize::from(id)).filter(|c| c.used) else {
        return Step::Err(EINVAL);
    };
    if v == u64::MAX {
        return Step::Err(EINVAL);
    }
    if MAX - c.count < v {
        return if nonblock {
            Step::Err(EAGAIN)
        } else {
            Step::Block(chan(id))
        };
    }
    c.count += v;
    c.seq = c.seq.wrapping_add(1);
    notify(id);
    Step::Done(0)
}

/// poll readiness: (readable, writable).
pub fn ready(id: u16) -> (bool, bool) {
    match counters().get(usize::from(id)).filter(|c| c.used) {
        Some(c) => (c.count > 0, c.count < MAX),
        None => (false, false),
    }
}

/// How many reads and writes counter `id` has had (see `file::change_seq`).
pub fn change_seq(id: u16) -> u64 {
    counters().get(usize::from(id)).map_or(0, |c| c.seq)
}

/// Counters in use (for the end-of-run check).
pub fn in_use() -> usize {
    counters().iter().filter(|c| c.used).count()
}
