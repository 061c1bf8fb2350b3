//! The trace ring (`--trace`, abi::trace): events recorded with plain
//! stores into a bounded ring the VMM reserved in guest RAM and drains at
//! the exits that already happen. Nothing here exits; a full ring drops
//! the event and counts it.

use abi::trace::{RECORD_BYTES, RING_MAGIC, Record, RingHeader, TRACE_SYSCALLS};
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::cpu;
use crate::bootinfo::Machine;
use crate::memlayout::{Pa, p2v};

/// Kernel address of the ring's header; 0 when the run is not traced.
static RING: AtomicU64 = AtomicU64::new(0);
/// Records it holds (checked against its length at init).
static CAPACITY: AtomicU64 = AtomicU64::new(0);
static SYSCALLS: AtomicU64 = AtomicU64::new(0);

/// Take the ring the VMM described, if it is sound: page aligned, inside
/// the reserved RAM below free_start, its header written by the VMM, its
/// records within its length. Anything else: no tracing.
pub fn init(m: &Machine) {
    let (gpa, len) = (m.trace_gpa, m.trace_len);
    if gpa == 0 || len == 0 || gpa % 4096 != 0 || gpa < abi::layout::RESERVED_END {
        return;
    }
    let Some(end) = gpa.checked_add(len) else {
        return;
    };
    if end > m.free_start || end > m.ram {
        return;
    }
    let h: *mut RingHeader = p2v(Pa(gpa));
    // SAFETY: the header lies in RAM the VMM reserved for the ring (checked
    // above), mapped by the kernel window, 4 KiB aligned.
    let hdr = unsafe { core::ptr::read_volatile(h) };
    let cap = u64::from(hdr.capacity);
    let need = (core::mem::size_of::<RingHeader>() as u64).saturating_add(cap * RECORD_BYTES);
    if hdr.magic != RING_MAGIC || cap == 0 || need > len {
        return;
    }
    CAPACITY.store(cap, Ordering::Relaxed);
    SYSCALLS.store(
        u64::from(hdr.flags & TRACE_SYSCALLS != 0),
        Ordering::Relaxed,
    );
    RING.store(h as u64, Ordering::Relaxed);
}

/// Whether events are being recorded.
pub fn on() -> bool {
    RING.load(Ordering::Relaxed) != 0
}

/// Whether system calls are recorded too (`--trace-syscalls`).
pub fn syscalls() -> bool {
    SYSCALLS.load(Ordering::Relaxed) != 0
}

/// The TSC, for an event's start: 0 (never read) when not tracing.
pub fn now() -> u64 {
    if on() { cpu::rdtsc() } else { 0 }
}

/// Record one event of process `pid` (0: the kernel) at TSC `tsc`.
#[allow(clippy::too_many_arguments)]
pub fn record(tsc: u64, kind: u16, sub: u16, pid: u32, a: u64, b: u64, c: u64, d: u64) {
    let h = RING.load(Ordering::Relaxed) as *mut RingHeader;
    if h.is_null() {
        return;
    }
    let cap = CAPACITY.load(Ordering::Relaxed);
    // SAFETY: init checked that the header and `cap` records lie in the
    // ring's reserved RAM; one vCPU, and the VMM touches `tail` only while
    // the vCPU is stopped, so nothing else writes `head` or `dropped`.
    unsafe {
        let head = core::ptr::read_volatile(core::ptr::addr_of!((*h).head));
        let tail = core::ptr::read_volatile(core::ptr::addr_of!((*h).tail));
        if head.wrapping_sub(tail) >= cap {
            let d = core::ptr::addr_of_mut!((*h).dropped);
            core::ptr::write_volatile(d, core::ptr::read_volatile(d).wrapping_add(1));
            return;
        }
        let slot = (h as *mut u8).add(core::mem::size_of::<RingHeader>()) as *mut Record;
        let r = slot.add((head % cap) as usize);
        core::ptr::write_volatile(
            r,
            Record {
                tsc,
                kind,
                sub,
                pid,
                a,
                b,
                c,
                d,
            },
        );
        core::ptr::write_volatile(core::ptr::addr_of_mut!((*h).head), head.wrapping_add(1));
    }
}
