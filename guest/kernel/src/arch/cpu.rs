//! Thin wrappers over single privileged instructions.

use core::arch::asm;

pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Read an MSR. The caller knows it exists (an unknown MSR raises #GP).
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reading an existing MSR has no memory effects.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nostack, nomem)) };
    ((hi as u64) << 32) | lo as u64
}

/// Write an MSR the caller knows exists.
pub fn wrmsr(msr: u32, v: u64) {
    // SAFETY: the kernel only writes architectural MSRs it owns.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") v as u32, in("edx") (v >> 32) as u32, options(nostack))
    };
}

pub fn read_cr2() -> u64 {
    let v;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nostack, nomem)) };
    v
}

pub fn read_cr4() -> u64 {
    let v;
    // SAFETY: reading CR4 has no side effects.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nostack, nomem)) };
    v
}

pub fn read_cr3() -> u64 {
    let v;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nostack, nomem)) };
    v
}

/// Drop the TLB's entries for the page holding `va` (x86 mode only: under
/// PVM it traps but the host's shadow entry stays stale: see
/// `arch::flush_page`).
pub fn invlpg(va: u64) {
    // SAFETY: invalidating a translation only makes the CPU walk again.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// Load a page-table root: every mapping the kernel uses must be in it.
pub fn write_cr3(v: u64) {
    // SAFETY: callers pass a root whose kernel half is the kernel's own.
    unsafe { asm!("mov cr3, {}", in(reg) v, options(nostack)) };
}

pub fn outb(port: u16, v: u8) {
    // SAFETY: port I/O to devices the kernel owns.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

pub fn outl(port: u16, v: u32) {
    // SAFETY: port I/O to devices the kernel owns.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nostack, preserves_flags)) };
}

pub fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: port I/O to devices the kernel owns; an absent device reads all-ones.
    unsafe {
        asm!("in eax, dx", in("dx") port, out("eax") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Stop for good (interrupts off).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops this CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// CPUID leaf/subleaf.
pub fn cpuid(leaf: u32, sub: u32) -> core::arch::x86_64::CpuidResult {
    core::arch::x86_64::__cpuid_count(leaf, sub)
}
