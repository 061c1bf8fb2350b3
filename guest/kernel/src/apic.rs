//! The local APIC, one per CPU: in x2APIC mode through MSRs (microvmm's
//! in-kernel LAPIC, and PVH where CPUID offers x2APIC) or in xAPIC mode
//! through its MMIO page (QEMU's TCG before 8.1 has no x2APIC), which
//! `init_pvh` maps uncached at `MMIO_VA` in the kernel half every page
//! table shares. Registers are named by their MMIO offset; x2APIC MSR =
//! 0x800 + offset / 16. The timer, EOIs and IPIs (timer.rs, smp.rs) and
//! AP start-up under PVH (apboot.rs) all go through here; idle.rs's
//! assembly EOI reads the mode flag itself.
//!
//! `IDS[c]` is CPU c's APIC id, the destination of its IPIs: c itself
//! under microvmm, the MADT's under PVH (acpi.rs).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use abi::layout::MAX_CPUS;

use crate::arch::cpu::{self, rdmsr, wrmsr};
use crate::memlayout::{KERNEL_BASE, Pa, Va};
use crate::mm::{kspace, pte};

/// Where the xAPIC page is mapped: the page below the kernel window.
pub const MMIO_VA: u64 = KERNEL_BASE - 4096;
/// Register offsets.
pub const ID: u32 = 0x20;
pub const EOI: u32 = 0xb0;
pub const SVR: u32 = 0xf0;
pub const ICR_LO: u32 = 0x300;
pub const ICR_HI: u32 = 0x310;
pub const LVT_TIMER: u32 = 0x320;
pub const TIMER_INIT: u32 = 0x380;
pub const TIMER_CUR: u32 = 0x390;
pub const TIMER_DIV: u32 = 0x3e0;

/// IA32_APIC_BASE: bit 11 global enable, bit 10 x2APIC mode.
const APIC_BASE_MSR: u32 = 0x1b;
/// ICR delivery status: the previous IPI is still being sent (xAPIC).
const ICR_BUSY: u32 = 1 << 12;

/// xAPIC mode (MMIO at MMIO_VA) instead of x2APIC (read by idle.rs's
/// `idle_interrupt` too, for its EOI).
#[unsafe(export_name = "APIC_XAPIC")]
static XAPIC: AtomicBool = AtomicBool::new(false);
static IDS: [AtomicU32; MAX_CPUS as usize] = {
    let mut a = [const { AtomicU32::new(0) }; MAX_CPUS as usize];
    let mut i = 0;
    while i < a.len() {
        a[i] = AtomicU32::new(i as u32);
        i += 1;
    }
    a
};

pub fn write(off: u32, v: u32) {
    if XAPIC.load(Ordering::Relaxed) {
        // SAFETY: init_pvh mapped this CPU's LAPIC page at MMIO_VA in the
        // kernel half every root shares; off is a register offset < 4096.
        unsafe { core::ptr::write_volatile((MMIO_VA + u64::from(off & 0xff0)) as *mut u32, v) }
    } else {
        wrmsr(0x800 + (off >> 4), u64::from(v));
    }
}

pub fn read(off: u32) -> u32 {
    if XAPIC.load(Ordering::Relaxed) {
        // SAFETY: as in `write`.
        unsafe { core::ptr::read_volatile((MMIO_VA + u64::from(off & 0xff0)) as *const u32) }
    } else {
        rdmsr(0x800 + (off >> 4)) as u32
    }
}

/// Enable this CPU's LAPIC (x2APIC mode unless in xAPIC mode), spurious
/// vector 0xff.
pub fn enable() {
    let x2 = if XAPIC.load(Ordering::Relaxed) {
        0
    } else {
        1 << 10
    };
    wrmsr(APIC_BASE_MSR, rdmsr(APIC_BASE_MSR) | (1 << 11) | x2);
    write(SVR, 0x1ff);
}

/// End of interrupt (a tick or an IPI).
pub fn eoi() {
    write(EOI, 0);
}

/// Send an IPI: `lo` is the ICR's low word (vector, delivery mode,
/// level), `dest` the APIC id (physical destination).
pub fn send(dest: u32, lo: u32) {
    if !XAPIC.load(Ordering::Relaxed) {
        wrmsr(0x830, (u64::from(dest) << 32) | u64::from(lo));
        return;
    }
    write(ICR_HI, dest << 24);
    write(ICR_LO, lo);
    // Bounded: a LAPIC that never says "sent" does not hang the kernel.
    for _ in 0..1_000_000 {
        if read(ICR_LO) & ICR_BUSY == 0 {
            break;
        }
        core::hint::spin_loop();
    }
}

/// Whether an IPI can name APIC id `id`: any in x2APIC mode, 8 bits in
/// xAPIC mode (a wider id would be cut to another CPU's).
pub fn reachable(id: u32) -> bool {
    !XAPIC.load(Ordering::Relaxed) || id <= 0xff
}

/// A fixed IPI with `vector` to CPU `c`.
pub fn ipi(c: usize, vector: u8) {
    let id = IDS.get(c).map_or(c as u32, |a| a.load(Ordering::Relaxed));
    send(id, u32::from(vector));
}

/// Record the CPUs' APIC ids, CPU 0 first (PVH: from the MADT).
pub fn set_ids(ids: &[u32]) {
    for (a, &id) in IDS.iter().zip(ids) {
        a.store(id, Ordering::Relaxed);
    }
}

/// Whether CPUID offers a local APIC, and x2APIC mode.
pub fn cpuid_has() -> (bool, bool) {
    let l = cpu::cpuid(1, 0);
    (l.edx & (1 << 9) != 0, l.ecx & (1 << 21) != 0)
}

/// This CPU's APIC id as CPUID tells it: leaf 0xB's x2APIC id where that
/// leaf exists, else leaf 1's 8-bit initial id.
pub fn boot_id() -> u32 {
    if cpu::cpuid(0, 0).eax >= 0xb && cpu::cpuid(0xb, 0).ebx != 0 {
        return cpu::cpuid(0xb, 0).edx;
    }
    cpu::cpuid(1, 0).ebx >> 24
}

/// Under PVH, once the kernel page table exists: x2APIC mode where CPUID
/// offers it, else xAPIC mode with the page IA32_APIC_BASE names mapped
/// uncached at MMIO_VA; the boot CPU's LAPIC enabled in that mode (the
/// calibration and the SIPIs use it before the timer starts). The mode's
/// name, or None if out of frames.
pub fn init_pvh() -> Option<&'static str> {
    let (_, x2) = cpuid_has();
    let base = rdmsr(APIC_BASE_MSR);
    if x2 || base & (1 << 10) != 0 {
        enable();
        return Some("x2APIC");
    }
    let pa = base & 0x000f_ffff_ffff_f000;
    let (t, i) = pte::walk(
        kspace::root(),
        Va(MMIO_VA),
        true,
        kspace::kernel_flags(),
        &mut |_, _| {},
    )?;
    // PCD | PWT: uncached, as device registers must be.
    pte::write(
        t,
        i,
        pte::entry(Pa(pa), kspace::kernel_flags() | (1 << 4) | (1 << 3)),
    );
    crate::arch::local_flush_page(MMIO_VA);
    XAPIC.store(true, Ordering::Relaxed);
    enable();
    Some("xAPIC (MMIO)")
}

/// The TSC's rate in kHz, measured against the LAPIC timer counting at
/// 1 GHz (divide by 1: KVM's and QEMU's LAPIC count nanoseconds of the
/// guest's clock) over 10 ms, with the timer's interrupt masked. 0 if the
/// count does not move. Call before the timer is started.
pub fn calibrate_tsc() -> u64 {
    const SPAN: u32 = 10_000_000;
    write(TIMER_DIV, 0xb);
    write(LVT_TIMER, (1 << 16) | u32::from(crate::timer::VECTOR));
    write(TIMER_INIT, u32::MAX);
    let c0 = read(TIMER_CUR);
    let t0 = cpu::rdtsc();
    let mut khz = 0;
    loop {
        let c = read(TIMER_CUR);
        let dt = cpu::rdtsc().wrapping_sub(t0);
        let done = c0.wrapping_sub(c);
        if done >= SPAN {
            khz = (u128::from(dt) * 1_000_000 / u128::from(done)) as u64;
            break;
        }
        // About a minute at 4 GHz: the count does not move.
        if dt > 1 << 38 {
            break;
        }
    }
    write(TIMER_INIT, 0);
    khz
}
