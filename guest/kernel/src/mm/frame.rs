//! Physical frame allocator over the RAM the VMM describes in BootInfo.
//!
//! Fresh frames come from a bump pointer; freed frames go on a free list
//! threaded through the frames themselves. PVM's pv_kpti needs 8 KiB-aligned
//! pairs for page-table roots (user PGD = root | 0x1000), kept on their own
//! list so they stay paired. 2 MiB pages (512 contiguous, 2 MiB-aligned
//! frames) are cut from the never-used frames above the bump pointer and
//! go back whole on a third list; when the smaller lists run dry a free
//! 2 MiB run is broken up for them, so every frame stays usable.
//!
//! Every frame handed out starts with a reference count of 1
//! (refcount.rs): user pages that fork shares go back through `put`.

use crate::memlayout::{PAGE, Pa, p2v};
use crate::mm::refcount;
use crate::sync::KCell;

pub use crate::mm::refcount::{count, put, share};

struct Frames {
    next: u64,
    end: u64,
    free: u64,
    free_pairs: u64,
    nfree_list: u64,
    npairs: u64,
    free_huge: u64,
    nhuge: u64,
    total: u64,
}

/// Bytes of a 2 MiB page.
pub const HUGE: u64 = 2 << 20;

/// The frame allocator. Protected by the big kernel lock; taken once per
/// allocation or free by `frames()`.
static FRAMES: KCell<Frames> = KCell::new(Frames {
    next: 0,
    end: 0,
    free: 0,
    free_pairs: 0,
    nfree_list: 0,
    npairs: 0,
    free_huge: 0,
    nhuge: 0,
    total: 0,
});

/// The allocator's state. Each function here takes it once and does not use
/// it again after calling another (alloc, breaking a pair, is done with it
/// before it calls alloc_pair and free).
fn frames() -> &'static mut Frames {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { FRAMES.get() }
}

/// Hand the frames in [start, end) to the allocator, less the first few,
/// which keep every frame's reference count (refcount.rs).
pub fn init(start: Pa, end: Pa) {
    let table = refcount::frames_for(end);
    refcount::init(start, end);
    let f = frames();
    f.next = (start.get() + table * PAGE).min(end.get());
    f.end = end.get();
    f.total = (f.end - f.next) / PAGE;
}

/// Zero a frame with integer stores: it may have been a page table that the
/// host still write-protects, and SSE stores to those cannot be emulated.
fn zero(pa: Pa) {
    zero_bytes(pa, PAGE);
}

/// Zero `len` bytes of frames from `pa` (see `zero`).
fn zero_bytes(pa: Pa, len: u64) {
    // SAFETY: pa..pa+len are frames we own, reachable through the kernel window.
    unsafe {
        core::arch::asm!("rep stosq", inout("rdi") p2v::<u8>(pa) => _, inout("rcx") len / 8 => _,
                         in("rax") 0u64, options(nostack, preserves_flags));
    }
}

/// Take a free 2 MiB run off its list, not zeroed.
fn pop_huge() -> Option<Pa> {
    let f = frames();
    if f.free_huge == 0 {
        return None;
    }
    let pa = Pa(f.free_huge);
    // SAFETY: a free run's first word links to the next free run.
    f.free_huge = unsafe { core::ptr::read_volatile(p2v::<u64>(pa)) };
    f.nhuge -= 1;
    Some(pa)
}

/// A zeroed 4 KiB frame, or None when RAM is exhausted.
pub fn alloc() -> Option<Pa> {
    let f = frames();
    let pa = if f.free != 0 {
        let pa = Pa(f.free);
        // SAFETY: a free frame's first word links to the next free frame.
        f.free = unsafe { core::ptr::read_volatile(p2v::<u64>(pa)) };
        f.nfree_list -= 1;
        pa
    } else if f.next < f.end {
        let pa = Pa(f.next);
        f.next += PAGE;
        pa
    } else if f.free_pairs != 0 {
        // Break a pair: its second half goes on the single free list.
        let pa = alloc_pair()?;
        free(pa.add(PAGE));
        pa
    } else {
        // Break a 2 MiB run: the rest goes on the single free list.
        let pa = pop_huge()?;
        let mut rest = PAGE;
        while rest < HUGE {
            free(pa.add(rest));
            rest += PAGE;
        }
        pa
    };
    zero(pa);
    refcount::set_one(pa);
    Some(pa)
}

/// A zeroed 2 MiB page (512 contiguous frames, 2 MiB aligned): a freed one,
/// else cut from above the bump pointer (the frames skipped to align it go
/// on the single free list). None when no such run is left: the caller
/// falls back to 4 KiB pages.
pub fn alloc_huge() -> Option<Pa> {
    let pa = match pop_huge() {
        Some(pa) => pa,
        None => {
            let f = frames();
            let start = f.next.checked_next_multiple_of(HUGE)?;
            if start.checked_add(HUGE)? > f.end {
                return None;
            }
            let mut skipped = f.next;
            f.next = start + HUGE;
            while skipped < start {
                free(Pa(skipped));
                skipped += PAGE;
            }
            Pa(start)
        }
    };
    zero_bytes(pa, HUGE);
    // Each 4 KiB part counts 1: split into 4 KiB pages (split_huge), it
    // is shared and put back page by page.
    let mut off = 0;
    while off < HUGE {
        refcount::set_one(pa.add(off));
        off += PAGE;
    }
    Some(pa)
}

/// Give back a 2 MiB page whole.
pub fn free_huge(pa: Pa) {
    let f = frames();
    // SAFETY: the caller gives back a 2 MiB run it owns.
    unsafe { core::ptr::write_volatile(p2v::<u64>(pa), f.free_huge) };
    f.free_huge = pa.get();
    f.nhuge += 1;
}

/// Two zeroed, contiguous frames, 8 KiB aligned.
pub fn alloc_pair() -> Option<Pa> {
    let f = frames();
    let pa = if f.free_pairs != 0 {
        let pa = Pa(f.free_pairs);
        // SAFETY: as in alloc.
        f.free_pairs = unsafe { core::ptr::read_volatile(p2v::<u64>(pa)) };
        f.npairs -= 1;
        pa
    } else {
        if !f.next.is_multiple_of(2 * PAGE) && f.next < f.end {
            let odd = Pa(f.next);
            f.next += PAGE;
            free(odd);
        }
        if f.next + 2 * PAGE > f.end {
            // Break a 2 MiB run into pairs.
            let run = pop_huge()?;
            let mut off = 2 * PAGE;
            while off < HUGE {
                free_pair(run.add(off));
                off += 2 * PAGE;
            }
            zero(run);
            zero(run.add(PAGE));
            refcount::set_one(run);
            refcount::set_one(run.add(PAGE));
            return Some(run);
        }
        let pa = Pa(f.next);
        f.next += 2 * PAGE;
        pa
    };
    zero(pa);
    zero(pa.add(PAGE));
    refcount::set_one(pa);
    refcount::set_one(pa.add(PAGE));
    Some(pa)
}

/// Give back a frame nobody else maps: a page table, or a user page's
/// frame once `put` has counted its last mapping gone.
pub fn free(pa: Pa) {
    let f = frames();
    // SAFETY: the caller gives back a frame it owns.
    unsafe { core::ptr::write_volatile(p2v::<u64>(pa), f.free) };
    f.free = pa.get();
    f.nfree_list += 1;
}

pub fn free_pair(pa: Pa) {
    let f = frames();
    // SAFETY: the caller gives back a pair it owns.
    unsafe { core::ptr::write_volatile(p2v::<u64>(pa), f.free_pairs) };
    f.free_pairs = pa.get();
    f.npairs += 1;
}

/// Hand the allocator a frame it was not given at init (a boot module's,
/// once its program is loaded).
pub fn give(pa: Pa) {
    frames().total += 1;
    free(pa);
}

/// Frames not in use right now.
pub fn free_count() -> u64 {
    let f = frames();
    (f.end - f.next) / PAGE + f.nfree_list + 2 * f.npairs + (HUGE / PAGE) * f.nhuge
}

/// Frames the allocator was given.
pub fn total() -> u64 {
    frames().total
}
