//! Futex wait queues without a heap: a waiter is a thread Blocked on
//! FUTEX_CHAN whose `futex_addr` (in its group's address space: the key is
//! (tgid, address)) and `futex_bits` say what it waits on. A wake marks
//! the waiters it picks `futex_woken` and makes them runnable; each then
//! runs its FUTEX_WAIT again (blocking restarts the call), which sees the
//! mark and returns 0 even if the word still holds the value it waited on.

use super::{NPROC, State, table};

/// The channel every futex waiter blocks on (the key is in its Proc).
pub const FUTEX_CHAN: u64 = 5 << 32;

/// Whether slot `i` waits on futex (tgid, addr) for one of `bits`.
fn waits_on(i: usize, tgid: u32, addr: u64, bits: u32) -> bool {
    let p = &table().procs[i];
    p.state == State::Blocked(FUTEX_CHAN)
        && p.tgid == tgid
        && p.futex_addr == addr
        && p.futex_bits & bits != 0
        && !p.futex_woken
}

/// Wake at most `n` waiters on futex (tgid, addr) that share a bit with
/// `bits`; how many were woken.
pub fn futex_wake(tgid: u32, addr: u64, n: u64, bits: u32) -> u64 {
    let mut woken = 0;
    for i in 0..NPROC {
        if woken >= n {
            break;
        }
        if waits_on(i, tgid, addr, bits) {
            let t = table();
            t.procs[i].futex_woken = true;
            super::queue::make_runnable(t, i);
            woken += 1;
        }
    }
    woken
}

/// FUTEX_REQUEUE: wake at most `nwake` waiters on `from`, and move at most
/// `nmove` of the rest to wait on `to`; how many were woken or moved.
pub fn futex_requeue(tgid: u32, from: u64, to: u64, nwake: u64, nmove: u64) -> u64 {
    let woken = futex_wake(tgid, from, nwake, u32::MAX);
    let mut moved = 0;
    for i in 0..NPROC {
        if moved >= nmove {
            break;
        }
        if waits_on(i, tgid, from, u32::MAX) {
            table().procs[i].futex_addr = to;
            moved += 1;
        }
    }
    woken + moved
}
