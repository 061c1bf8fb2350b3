//! Each process's FPU/SIMD register state, saved on every entry from user
//! mode and restored on the way back (entry.rs). Under PVM user code sees
//! the host's CPUID (AVX-512 here), so glibc runs zmm code: FXSAVE, which
//! covers x87 and xmm only, would let one process see another's upper ymm
//! and zmm halves. XSAVE with every component XCR0 enables saves all of
//! it. Where CR4.OSXSAVE is off (plain x86 under this kernel, QEMU), no
//! program can use AVX, and FXSAVE covers everything there is.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::cpu;

/// Largest save area the kernel keeps per process. XCR0 0xe7 (AVX-512)
/// needs 2432 bytes (LINUX-ABI.md); AMX tile data would need 8 KiB more
/// and is left out of the mask below.
pub const AREA_MAX: usize = 4096;

/// One process's saved state, 64-byte aligned as XSAVE requires.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct FpuArea(pub [u8; AREA_MAX]);

impl FpuArea {
    /// A clean state: x87 control word 0x37f, MXCSR 0x1f80 (all masked),
    /// and an XSAVE header of zeros (every other component in its initial
    /// state when restored).
    pub const fn clean() -> Self {
        let mut b = [0u8; AREA_MAX];
        b[0] = 0x7f;
        b[1] = 0x03;
        b[24] = 0x80;
        b[25] = 0x1f;
        Self(b)
    }
}

/// Read by the entry stubs: 1 = xsave64/xrstor64 with FPU_MASK, 0 = fxsave64.
#[unsafe(no_mangle)]
static mut FPU_XSAVE: u8 = 0;
/// The requested-feature bitmap for xsave/xrstor (edx:eax).
#[unsafe(no_mangle)]
static mut FPU_MASK: u64 = 0;
static SIZE: AtomicU32 = AtomicU32::new(512);

/// XCR0 components kept out of the mask: AMX TILECFG/TILEDATA (bits 17,
/// 18), too large for `AREA_MAX`.
const LEFT_OUT: u64 = (1 << 17) | (1 << 18);

fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only called when CPUID says CR4.OSXSAVE is on, so xgetbv exists.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack))
    };
    ((hi as u64) << 32) | lo as u64
}

/// Choose XSAVE or FXSAVE for this machine; once, at boot, before the
/// first process.
pub fn init() {
    if cpu::cpuid(1, 0).ecx & (1 << 27) == 0 {
        return; // CR4.OSXSAVE off: FXSAVE
    }
    let mask = xgetbv0() & !LEFT_OUT;
    // The standard-format area ends where the highest component does.
    let mut size = 576u32;
    for i in 2..63 {
        if mask & (1 << i) != 0 {
            let l = cpu::cpuid(0xd, i);
            size = size.max(l.ebx.saturating_add(l.eax));
        }
    }
    if size as usize > AREA_MAX {
        return;
    }
    SIZE.store(size, Ordering::Relaxed);
    // SAFETY: single CPU at boot; no process has entered the kernel yet,
    // so no stub reads these concurrently.
    unsafe {
        FPU_MASK = mask;
        FPU_XSAVE = 1;
    }
}

/// How processes' registers are saved, for the boot banner.
pub struct Describe;

impl core::fmt::Display for Describe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: written once in init, before any reader.
        let (x, mask) = unsafe { (FPU_XSAVE, FPU_MASK) };
        if x == 1 {
            write!(
                f,
                "xsave (XCR0 {mask:#x}, {} bytes)",
                SIZE.load(Ordering::Relaxed)
            )
        } else {
            f.write_str("fxsave")
        }
    }
}
