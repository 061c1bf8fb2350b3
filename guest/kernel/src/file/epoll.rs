//! epoll(7) instances: an interest list of open files, each with the
//! events asked for and the caller's 64-bit datum. An entry names the
//! open file the descriptor named when it was added (as Linux keys it, by
//! file), and goes when that open file's last descriptor closes
//! (`forget`). Readiness is asked of each open file as poll(2) asks it
//! (`file::readiness`). Level-triggered by default; EPOLLET reports a
//! ready entry again only once its file changed since the last report (a
//! pipe's bytes moved or an end closed, a counter was read or written:
//! `file::change_seq`), which is Linux's "each wake-up is an edge" up to
//! reads, which count as changes here too (a reader may be told again
//! that data it has not drained is there); EPOLLONESHOT disarms an entry
//! after one report until EPOLL_CTL_MOD. Each scan starts past the last
//! entry reported, so entries that stay ready take turns.
//!
//! Bounds: NEPOLL instances in the system, NWATCH entries each (ENOSPC
//! beyond, as Linux's max_user_watches).

use abi::syscall::{EEXIST, EINVAL, ENOENT, ENOSPC};

use super::FileId;
use crate::sync::KCell;

/// epoll instances in the whole system.
pub const NEPOLL: usize = 16;
/// Entries in one instance's interest list.
pub const NWATCH: usize = 64;

pub const EPOLLIN: u32 = 0x1;
pub const EPOLLOUT: u32 = 0x4;
pub const EPOLLERR: u32 = 0x8;
pub const EPOLLHUP: u32 = 0x10;
pub const EPOLLRDNORM: u32 = 0x40;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

pub const EPOLL_CTL_ADD: u64 = 1;
pub const EPOLL_CTL_DEL: u64 = 2;
pub const EPOLL_CTL_MOD: u64 = 3;

#[derive(Clone, Copy)]
struct Watch {
    file: Option<FileId>,
    /// What was asked (with EPOLLET/EPOLLONESHOT); 0 events once a
    /// one-shot entry reported.
    events: u32,
    data: u64,
    /// The file's change count when the entry was last reported (EPOLLET).
    seen: Option<u64>,
}

const NONE: Watch = Watch {
    file: None,
    events: 0,
    data: 0,
    seen: None,
};

#[derive(Clone, Copy)]
struct Instance {
    used: bool,
    watch: [Watch; NWATCH],
    /// Where the next scan starts: just past the last entry reported, so
    /// entries that stay ready take turns when a wait takes fewer than
    /// all (Linux moves a reported level-triggered entry to the back of
    /// its ready list).
    next: usize,
}

const EMPTY: Instance = Instance {
    used: false,
    watch: [NONE; NWATCH],
    next: 0,
};

/// The epoll instances. Protected by the big kernel lock; taken once per
/// operation by `instances()`, never while `ready` asks another table.
static INSTANCES: KCell<[Instance; NEPOLL]> = KCell::new([EMPTY; NEPOLL]);

fn instances() -> &'static mut [Instance; NEPOLL] {
    // SAFETY: kernel code is never re-entered (see crate::sync); each
    // function takes the table once and calls nothing that takes it again
    // while it holds it (readiness is asked through `ready`, which only
    // reads other tables).
    unsafe { INSTANCES.get() }
}

/// A new, empty instance: its id, or None when all are in use.
pub fn create() -> Option<u16> {
    let t = instances();
    let i = t.iter().position(|e| !e.used)?;
    t[i] = Instance {
        used: true,
        ..EMPTY
    };
    // NEPOLL fits in u16.
    Some(i as u16)
}

/// The last open file on instance `id` closed.
pub fn close(id: u16) {
    if let Some(e) = instances().get_mut(usize::from(id)) {
        e.used = false;
    }
}

/// Open file `file` is gone: no instance watches it any more.
pub fn forget(file: FileId) {
    for e in instances().iter_mut().filter(|e| e.used) {
        for w in e.watch.iter_mut().filter(|w| w.file == Some(file)) {
            *w = NONE;
        }
    }
}

/// epoll_ctl on instance `id`: add, change or remove the entry of `file`.
pub fn ctl(id: u16, op: u64, file: FileId, events: u32, data: u64) -> i64 {
    let Some(e) = instances().get_mut(usize::from(id)).filter(|e| e.used) else {
        return EINVAL;
    };
    let at = e.watch.iter().position(|w| w.file == Some(file));
    // Errors and hang-ups are always reported, asked or not.
    let events = events | EPOLLERR | EPOLLHUP;
    match (op, at) {
        (EPOLL_CTL_ADD, Some(_)) => EEXIST,
        (EPOLL_CTL_ADD, None) => match e.watch.iter().position(|w| w.file.is_none()) {
            Some(free) => {
                e.watch[free] = Watch {
                    file: Some(file),
                    events,
                    data,
                    seen: None,
                };
                0
            }
            None => ENOSPC,
        },
        (EPOLL_CTL_MOD, Some(i)) if e.watch[i].events & EPOLLEXCLUSIVE != 0 => EINVAL,
        (EPOLL_CTL_MOD, Some(i)) => {
            e.watch[i] = Watch {
                file: Some(file),
                events,
                data,
                seen: None,
            };
            0
        }
        (EPOLL_CTL_DEL, Some(i)) => {
            e.watch[i] = NONE;
            0
        }
        (EPOLL_CTL_MOD | EPOLL_CTL_DEL, None) => ENOENT,
        _ => EINVAL,
    }
}

/// The epoll events of an open file that is (readable, writable, hung up)
/// and open for reading (`r_ok`) and writing (`w_ok`), among `asked`.
pub fn events_of(ready: (bool, bool, bool), r_ok: bool, w_ok: bool, asked: u32) -> u32 {
    let (r, w, hup) = ready;
    let mut out = 0;
    if r && r_ok {
        out |= asked & (EPOLLIN | EPOLLRDNORM);
    }
    if w && w_ok {
        out |= asked & (EPOLLOUT | EPOLLWRNORM);
    }
    // No EPOLLRDHUP: Linux reports it for sockets, and a pipe (the only
    // thing here that hangs up) says EPOLLHUP alone.
    if hup {
        out |= if w_ok { EPOLLERR } else { EPOLLHUP };
    }
    out
}

/// One entry to report: its events and datum, and what reporting it
/// changes (`commit`).
#[derive(Clone, Copy, Default)]
pub struct Report {
    pub events: u32,
    pub data: u64,
    slot: usize,
    seq: u64,
}

/// Find up to `out.len()` ready entries of instance `id`, asking `ready`
/// for each open file's events among those asked and its change count,
/// starting past the last one reported (so entries that stay ready take
/// turns). Nothing changes until `commit`: a caller that cannot copy the
/// events out loses none (no edge is used up, no one-shot disarmed).
/// How many were found.
pub fn collect(
    id: u16,
    out: &mut [Report],
    mut ready: impl FnMut(FileId, u32) -> (u32, u64),
) -> usize {
    let Some(e) = instances().get(usize::from(id)).filter(|e| e.used) else {
        return 0;
    };
    let mut n = 0;
    for k in 0..NWATCH {
        if n == out.len() {
            break;
        }
        let slot = (e.next + k) % NWATCH;
        let w = &e.watch[slot];
        let Some(file) = w.file else {
            continue;
        };
        let (now, seq) = ready(file, w.events);
        if now == 0 || (w.events & EPOLLET != 0 && w.seen == Some(seq)) {
            continue;
        }
        out[n] = Report {
            events: now,
            data: w.data,
            slot,
            seq,
        };
        n += 1;
    }
    n
}

/// The entries `reports` (from `collect` on instance `id`, with nothing
/// run in between) reached the caller: edge-triggered ones wait for the
/// next change, one-shot ones are disarmed, the next scan starts past the
/// last.
pub fn commit(id: u16, reports: &[Report]) {
    let Some(e) = instances().get_mut(usize::from(id)).filter(|e| e.used) else {
        return;
    };
    for r in reports {
        let w = &mut e.watch[r.slot % NWATCH];
        w.seen = Some(r.seq);
        if w.events & EPOLLONESHOT != 0 {
            w.events = 0;
        }
        e.next = (r.slot + 1) % NWATCH;
    }
}

/// Whether instance `id` has an entry to report now (poll on an epoll
/// descriptor), without changing any entry's state.
pub fn any_ready(id: u16, mut ready: impl FnMut(FileId, u32) -> (u32, u64)) -> bool {
    let Some(e) = instances().get(usize::from(id)).filter(|e| e.used) else {
        return false;
    };
    e.watch.iter().any(|w| {
        w.file.is_some_and(|f| {
            let (now, seq) = ready(f, w.events);
            now != 0 && (w.events & EPOLLET == 0 || w.seen != Some(seq))
        })
    })
}

/// Instances in use (for the end-of-run check).
pub fn in_use() -> usize {
    instances().iter().filter(|e| e.used).count()
}
