//! A user page fault, judged: from the x86 error code and the region the
//! address lies in, whether it is a copy-on-write break, a page to demand,
//! or an access to refuse (and why, as Linux tells a SIGSEGV handler); and
//! the fault's record in the trace (`--trace`). addrspace.rs serves it.

use abi::msg::{
    PROT_W, PROT_X, REGION_BSS, REGION_GUARD, REGION_HEAP, REGION_MMAP, REGION_STACK, Region,
};

use crate::memlayout::{Pa, Va, page_down, page_up};
use crate::mm::pte;
use crate::mm::region::Regions;

/// x86 page-fault error code bits.
const PRESENT: u64 = 1;
const WRITE: u64 = 2;
const FETCH: u64 = 16;

/// What to do with a user page fault.
pub enum Fault {
    /// Mapped a fresh page, or broke a copy-on-write one: resume.
    Served,
    /// Not ours to fix: a signal (or, out of memory, the end), with this
    /// reason.
    Kill(Why, &'static str),
}

/// What kind of bad access a fault was, as Linux tells a SIGSEGV handler
/// (si_code): no mapping there, or one that forbids the access. Out of
/// memory is neither: the process just ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// SEGV_MAPERR: nothing mapped at the address (Linux has no VMA).
    MapErr,
    /// SEGV_ACCERR: a mapping whose protection forbids the access.
    AccErr,
    NoMemory,
}

/// What a fault the region allows asks for.
pub enum Step {
    /// A write to a present page of a writable region: maybe copy-on-write.
    Cow,
    /// A not-present page the region pages in on demand.
    Demand,
}

/// Judge a fault with error code `err` at `addr` in region `r`, with the
/// break at `brk`: the step that serves it, or the kill.
pub fn judge(r: &Region, addr: u64, err: u64, brk: u64) -> Result<Step, Fault> {
    let write = err & WRITE != 0;
    let fetch = err & FETCH != 0;
    if r.kind == REGION_GUARD {
        return Err(Fault::Kill(
            Why::MapErr,
            "stack overflow into the guard page",
        ));
    }
    if err & PRESENT != 0 {
        if write && r.prot & PROT_W != 0 {
            return Ok(Step::Cow);
        }
        return Err(Fault::Kill(Why::AccErr, refused(write, fetch)));
    }
    if r.prot == 0 {
        return Err(Fault::Kill(Why::AccErr, "access to a PROT_NONE page"));
    }
    if fetch && r.prot & PROT_X == 0 {
        return Err(Fault::Kill(
            Why::AccErr,
            "execute from a non-executable region",
        ));
    }
    if write && r.prot & PROT_W == 0 {
        return Err(Fault::Kill(Why::AccErr, "write to a read-only region"));
    }
    let demand = match r.kind {
        REGION_HEAP => page_up(brk).is_some_and(|end| addr < end),
        REGION_STACK | REGION_MMAP | REGION_BSS => true,
        _ => false,
    };
    if !demand {
        return Err(Fault::Kill(
            Why::MapErr,
            "not-present page outside the heap, stack, bss and mmap areas",
        ));
    }
    Ok(Step::Demand)
}

/// Whether a not-present fault (error code `err`) at `addr` finds the page
/// present under `root` now: another thread of the group, on another CPU,
/// took a fault on the same page at the same moment and paged it in while
/// this CPU waited for the kernel lock. The access just runs again (after
/// a local flush, so no stale translation can fault it once more); paging
/// in again would find the page there and fail as if out of memory.
pub fn paged_in_since(root: Pa, addr: u64, err: u64) -> bool {
    if err & PRESENT != 0 || pte::lookup(root, Va(page_down(addr))).is_none() {
        return false;
    }
    crate::arch::local_flush_page(addr);
    true
}

/// Why a fault on a present page is refused (a write one, when it was not
/// copy-on-write).
pub fn refused(write: bool, fetch: bool) -> &'static str {
    if write {
        "write to a read-only page"
    } else if fetch {
        "execute from a non-executable page"
    } else {
        "protection violation"
    }
}

/// Put the fault at `addr` (error code `err`, begun at TSC `t0`) in the
/// trace: how it went (`got`), the frame now mapped there under `root`
/// (0 if none) and the kind of its region in `regions` (0 if none).
pub fn record(t0: u64, addr: u64, err: u64, got: &Fault, root: Pa, regions: &Regions) {
    use abi::trace::*;
    let (kind, frame) = match (got, err & PRESENT != 0) {
        (Fault::Served, present) => {
            let e = pte::lookup(root, Va(page_down(addr))).map_or(0, |e| e & pte::ADDR);
            (if present { FAULT_COW } else { FAULT_DEMAND }, e)
        }
        (Fault::Kill(_, _), true) => (FAULT_PROTECTION, 0),
        (Fault::Kill(_, _), false) => (FAULT_INVALID, 0),
    };
    let region = regions.of(addr).map_or(0, |r| u64::from(r.kind));
    let took = crate::arch::cpu::rdtsc().wrapping_sub(t0);
    let pid = crate::running::pid();
    crate::trace::record(t0, EV_FAULT, kind, pid, addr, frame, took, region);
}
