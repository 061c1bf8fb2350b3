//! Per-process FS base (the TLS pointer Linux programs set with
//! arch_prctl). `wrfsbase` runs natively (52–78 cycles) where CR4.FSGSBASE
//! is on, as PVM forces; `wrmsr` traps (~9,000 cycles) under PVM, so it is
//! only the fallback (QEMU's PVH entry leaves FSGSBASE off). User code may
//! run `wrfsbase` itself, so the kernel reads the base back when a process
//! is switched out.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu;

const MSR_FS_BASE: u32 = 0xc000_0100;
static FSGSBASE: AtomicBool = AtomicBool::new(false);

/// Note whether CR4.FSGSBASE is on; once, at boot.
pub fn init() {
    FSGSBASE.store(cpu::read_cr4() & (1 << 16) != 0, Ordering::Relaxed);
}

pub fn read() -> u64 {
    if FSGSBASE.load(Ordering::Relaxed) {
        let v;
        // SAFETY: CR4.FSGSBASE is on; rdfsbase only reads a register.
        unsafe { core::arch::asm!("rdfsbase {}", out(reg) v, options(nomem, nostack)) };
        v
    } else {
        cpu::rdmsr(MSR_FS_BASE)
    }
}

/// Load `v` (a user value: the caller checked it is canonical, or wrfsbase
/// and wrmsr would fault in the kernel).
pub fn write(v: u64) {
    if FSGSBASE.load(Ordering::Relaxed) {
        // SAFETY: CR4.FSGSBASE is on; the kernel does not use FS itself.
        unsafe { core::arch::asm!("wrfsbase {}", in(reg) v, options(nomem, nostack)) };
    } else {
        cpu::wrmsr(MSR_FS_BASE, v);
    }
}

/// Is `v` a canonical lower-half address (what the CPU accepts)?
pub fn canonical_user(v: u64) -> bool {
    v < crate::memlayout::USER_END
}
