//! Per-process FS and GS bases. FS is the TLS pointer Linux programs set
//! with arch_prctl; GS is free for them too (ARCH_SET_GS, or `wrgsbase`
//! where the hardware allows it). Under PVM user code runs with the host's
//! CR4.FSGSBASE, so a program can `wrgsbase` whatever CPUID says: a base
//! the kernel did not save would show in the next process (seen on the
//! Intel PVM host: two programs read each other's GS base). So both are
//! read back when a process is switched out and loaded when it comes in.
//!
//! `wrfsbase` runs natively (52–78 cycles) where CR4.FSGSBASE is on, as PVM
//! forces; `wrmsr` traps (~9,000 cycles) under PVM, so it is only the
//! fallback (QEMU's PVH entry, and KVM CPUIDs without FSGSBASE, leave the
//! guest's CR4.FSGSBASE off). FS is never swapped, so the live FS base is
//! the user's. GS is: on entry to the kernel PVM (flags bit 2) swaps GS as
//! `swapgs` would, so while the kernel runs the user's GS base is in
//! MSR_KERNEL_GS_BASE (found by experiment on the Intel PVM host: the MSR
//! GS_BASE and rdgsbase there read the kernel's). On VMX/SVM nothing
//! swaps GS, and the live GS base is the user's.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu;

const MSR_FS_BASE: u32 = 0xc000_0100;
const MSR_GS_BASE: u32 = 0xc000_0101;
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
static FSGSBASE: AtomicBool = AtomicBool::new(false);

/// Which segment base.
#[derive(Clone, Copy)]
pub enum Seg {
    Fs,
    Gs,
}

/// Note whether CR4.FSGSBASE is on; once, at boot.
pub fn init() {
    FSGSBASE.store(cpu::read_cr4() & (1 << 16) != 0, Ordering::Relaxed);
}

/// Where the user's GS base is while the kernel runs under PVM.
fn pvm() -> bool {
    crate::arch::mode() == crate::arch::Mode::Pvm
}

/// The user's base of `s`, live in the CPU.
pub fn read_base(s: Seg) -> u64 {
    if matches!(s, Seg::Gs) && pvm() {
        cpu::rdmsr(MSR_KERNEL_GS_BASE)
    } else if FSGSBASE.load(Ordering::Relaxed) {
        let v;
        // SAFETY: CR4.FSGSBASE is on; rdfsbase/rdgsbase only read a register.
        unsafe {
            match s {
                Seg::Fs => core::arch::asm!("rdfsbase {}", out(reg) v, options(nomem, nostack)),
                Seg::Gs => core::arch::asm!("rdgsbase {}", out(reg) v, options(nomem, nostack)),
            }
        };
        v
    } else {
        cpu::rdmsr(match s {
            Seg::Fs => MSR_FS_BASE,
            Seg::Gs => MSR_GS_BASE,
        })
    }
}

/// Load `v` into `s` (a user value: the caller checked it is canonical, or
/// the instruction would fault in the kernel). The kernel uses neither.
pub fn write_base(s: Seg, v: u64) {
    if matches!(s, Seg::Gs) && pvm() {
        cpu::wrmsr(MSR_KERNEL_GS_BASE, v);
    } else if FSGSBASE.load(Ordering::Relaxed) {
        // SAFETY: CR4.FSGSBASE is on; the kernel does not use FS or GS.
        unsafe {
            match s {
                Seg::Fs => core::arch::asm!("wrfsbase {}", in(reg) v, options(nomem, nostack)),
                Seg::Gs => core::arch::asm!("wrgsbase {}", in(reg) v, options(nomem, nostack)),
            }
        };
    } else {
        cpu::wrmsr(
            match s {
                Seg::Fs => MSR_FS_BASE,
                Seg::Gs => MSR_GS_BASE,
            },
            v,
        );
    }
}

/// The live FS base.
pub fn read() -> u64 {
    read_base(Seg::Fs)
}

/// Load the FS base.
pub fn write(v: u64) {
    write_base(Seg::Fs, v)
}

/// Is `v` a canonical lower-half address (what the CPU accepts)?
pub fn canonical_user(v: u64) -> bool {
    v < crate::memlayout::USER_END
}
