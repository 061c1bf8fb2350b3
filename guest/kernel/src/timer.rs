//! The LAPIC timer, periodic, one per CPU (each CPU's LAPIC is its own;
//! x2APIC or xAPIC mode, see apic.rs). KVM's and QEMU's LAPIC count at
//! 1 GHz.

use crate::apic;
use abi::layout::MAX_CPUS;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const VECTOR: u8 = 0x20;
pub const HZ: u32 = 250;

static TICKS: AtomicU64 = AtomicU64::new(0);
/// Ticks per CPU: each one interrupted user code on that CPU (the kernel
/// runs with interrupts off).
static TICKS_CPU: [AtomicU64; MAX_CPUS as usize] = [const { AtomicU64::new(0) }; MAX_CPUS as usize];
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Whether vCPU 0 started its timer (each AP starts its own the same way).
pub fn running() -> bool {
    RUNNING.load(Ordering::Relaxed)
}

/// Start this CPU's periodic tick (the VMM said it has an in-kernel
/// irqchip, or PVH found a LAPIC).
pub fn init() {
    apic::enable();
    apic::write(apic::TIMER_DIV, 0xb); // divide by 1
    apic::write(apic::LVT_TIMER, VECTOR as u32 | (1 << 17)); // periodic
    apic::write(apic::TIMER_INIT, 1_000_000_000 / HZ);
    RUNNING.store(true, Ordering::Relaxed);
}

/// Acknowledge a tick.
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    TICKS_CPU[crate::smp::cpu()].fetch_add(1, Ordering::Relaxed);
    apic::eoi();
}

pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Ticks CPU `c` took (0 for a CPU out of range).
pub fn ticks_on(c: usize) -> u64 {
    TICKS_CPU.get(c).map_or(0, |t| t.load(Ordering::Relaxed))
}
