//! Physical frame allocator over the RAM the VMM describes in BootInfo.
//!
//! Fresh frames come from a bump pointer; freed frames go on a free list
//! threaded through the frames themselves. PVM's pv_kpti needs 8 KiB-aligned
//! pairs for page-table roots (user PGD = root | 0x1000), kept on their own
//! list so they stay paired.

use crate::memlayout::{PAGE, Pa, p2v};
use crate::sync::KCell;

struct Frames {
    next: u64,
    end: u64,
    free: u64,
    free_pairs: u64,
    nfree_list: u64,
    npairs: u64,
    total: u64,
}

static FRAMES: KCell<Frames> = KCell::new(Frames {
    next: 0,
    end: 0,
    free: 0,
    free_pairs: 0,
    nfree_list: 0,
    npairs: 0,
    total: 0,
});

/// The allocator's state. Each function here takes it once and does not use
/// it again after calling another (alloc, breaking a pair, is done with it
/// before it calls alloc_pair and free).
fn frames() -> &'static mut Frames {
    // SAFETY: single CPU, no re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { FRAMES.get() }
}

/// Hand the frames in [start, end) to the allocator.
pub fn init(start: Pa, end: Pa) {
    let f = frames();
    f.next = start.get();
    f.end = end.get();
    f.total = (f.end - f.next) / PAGE;
}

/// Zero a frame with integer stores: it may have been a page table that the
/// host still write-protects, and SSE stores to those cannot be emulated.
fn zero(pa: Pa) {
    // SAFETY: pa is a frame we own, reachable through the kernel window.
    unsafe {
        core::arch::asm!("rep stosq", inout("rdi") p2v::<u8>(pa) => _, inout("rcx") PAGE / 8 => _,
                         in("rax") 0u64, options(nostack, preserves_flags));
    }
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
        return None;
    };
    zero(pa);
    Some(pa)
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
            return None;
        }
        let pa = Pa(f.next);
        f.next += 2 * PAGE;
        pa
    };
    zero(pa);
    zero(pa.add(PAGE));
    Some(pa)
}

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
    (f.end - f.next) / PAGE + f.nfree_list + 2 * f.npairs
}

/// Frames the allocator was given.
pub fn total() -> u64 {
    frames().total
}
