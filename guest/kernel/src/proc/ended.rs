//! The threads a group has lost, kept in kernel memory until its report:
//! each thread that ends (by exit(2), or with its group) is written here,
//! not told to the VMM, and the list goes out in one `Threads` message
//! just before the group's `PROC_EXITING` (no exit per thread). Only
//! groups that made more than one thread are kept; each lists at most
//! `MAX_THREADS` and counts the rest.

use abi::msg::{
    Header, KIND_THREADS, MAX_THREADS, REGION_STACK, THREAD_EXIT, THREAD_WITH_GROUP, ThreadEnd,
    Threads,
};

use super::{NPROC, Proc};
use crate::mm::uvm::AddrSpace;
use crate::sync::KCell;
use crate::{kprintln, vmmdev};

/// Groups with a list at once: each keeps a live thread (a slot of the
/// process table) until its report, so there are at most NPROC (66 KiB).
const GROUPS: usize = NPROC;

const NO_THREAD: ThreadEnd = ThreadEnd {
    tid: 0,
    how: 0,
    status: 0,
    vcpus: 0,
    stack_start: 0,
    stack_end: 0,
};

const NO_GROUP: Threads = Threads {
    hdr: Header::new(KIND_THREADS),
    pid: 0,
    nthreads: 0,
    dropped: 0,
    _pad: 0,
    threads: [NO_THREAD; MAX_THREADS],
};

/// Ended threads per thread group, until the group's report. Protected by
/// the big kernel lock; taken once per `record`/`send`.
static ENDED: KCell<[Threads; GROUPS]> = KCell::new([NO_GROUP; GROUPS]);

/// Thread `p` of a group of more than one ends: by exit(2) with `code`,
/// or (None) with its group. `a` is the group's address space, held by
/// the running thread, for the first thread's stack region.
pub(super) fn record(p: &Proc, code: Option<u32>, a: Option<&AddrSpace>) {
    let (mut stack_start, mut stack_end) = p.stack;
    if stack_end == 0
        && p.pid == p.tgid
        && let Some(r) = a.and_then(|a| {
            a.regions[..a.nregions]
                .iter()
                .find(|r| r.kind == REGION_STACK)
        })
    {
        (stack_start, stack_end) = (r.start, r.end);
    }
    let e = ThreadEnd {
        tid: p.pid,
        how: if code.is_some() {
            THREAD_EXIT
        } else {
            THREAD_WITH_GROUP
        },
        status: code.unwrap_or(0),
        vcpus: p.ran,
        stack_start,
        stack_end,
    };
    // SAFETY: under the lock; taken once here (sync.rs).
    let all = unsafe { ENDED.get() };
    let Some(g) = (match all.iter().position(|g| g.pid == p.tgid) {
        Some(i) => Some(&mut all[i]),
        None => all.iter_mut().find(|g| g.pid == 0),
    }) else {
        return;
    };
    g.pid = p.tgid;
    match g.threads.get_mut(g.nthreads as usize) {
        Some(slot) => {
            *slot = e;
            g.nthreads += 1;
        }
        None => g.dropped = g.dropped.saturating_add(1),
    }
}

/// Before group `tgid`'s `PROC_EXITING`: send its list, if it has one,
/// and forget it.
pub(super) fn send(tgid: u32) {
    // SAFETY: under the lock; taken once here (sync.rs).
    let all = unsafe { ENDED.get() };
    let Some(g) = all.iter_mut().find(|g| g.pid == tgid) else {
        return;
    };
    let mut m = core::mem::replace(g, NO_GROUP);
    if let Some(r) = vmmdev::send(&mut m)
        && r != abi::msg::RESULT_OK
    {
        kprintln!("[kernel] the VMM refused the threads of pid {tgid} ({r})");
    }
}
