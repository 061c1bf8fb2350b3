//! The LAPIC timer in x2APIC mode, periodic, one per CPU (each CPU's
//! LAPIC is its own). KVM's LAPIC counts at 1 GHz.

use crate::arch::cpu::{rdmsr, wrmsr};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const VECTOR: u8 = 0x20;
pub const HZ: u32 = 250;

static TICKS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Whether vCPU 0 started its timer (each AP starts its own the same way).
pub fn running() -> bool {
    RUNNING.load(Ordering::Relaxed)
}

/// Start the periodic tick (the VMM said it has an in-kernel irqchip).
pub fn init() {
    wrmsr(0x1b, rdmsr(0x1b) | (1 << 10) | (1 << 11)); // APIC global enable + x2APIC
    wrmsr(0x80f, 0x1ff); // SVR: enabled, spurious vector 0xff
    wrmsr(0x83e, 0xb); // divide by 1
    wrmsr(0x832, VECTOR as u64 | (1 << 17)); // LVT timer: periodic
    wrmsr(0x838, 1_000_000_000 / HZ as u64);
    RUNNING.store(true, Ordering::Relaxed);
}

/// Acknowledge a tick.
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    eoi();
}

/// End of interrupt, for the LAPIC (a tick or an IPI).
pub fn eoi() {
    wrmsr(0x80b, 0);
}

pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
