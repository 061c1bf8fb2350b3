//! Each process's FPU/SIMD register state, saved on every entry from user
//! mode and restored on the way back (entry.rs).
//!
//! What must be saved is what user code can reach, not what CPUID says:
//! under PVM user code runs on the hardware with the host's CR4 and XCR0,
//! so on an Intel host whose KVM CPUID shows neither XSAVE nor AVX, AVX-512
//! (and AMX) instructions still execute. FXSAVE there would let one process
//! read another's upper ymm/zmm halves, zmm16-31 and k0-7. So under PVM the
//! kernel runs `xgetbv` itself (the VMM's BootInfo says the host has
//! XSAVE, so it cannot fault) and saves every component that XCR0 enables,
//! AMX tiles included. On plain x86 the kernel's own CR4.OSXSAVE (set by
//! the VMM when KVM agreed) decides: without it no AVX instruction runs,
//! and FXSAVE covers everything there is.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::{self, Mode, cpu};
use crate::bootinfo::Machine;

/// Largest save area the kernel keeps per process. XCR0 0x600e7 (AVX-512
/// and AMX, Intel Xeon) needs 11008 bytes (CPUID 0xD.0 EBX there); 0xe7
/// needs 2432 (LINUX-ABI.md). A larger area stops the boot rather than
/// leave state unsaved.
pub const AREA_MAX: usize = 12288;

/// One process's saved state, 64-byte aligned as XSAVE requires.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct FpuArea(pub [u8; AREA_MAX]);

impl FpuArea {
    /// All zero bytes: not a state to restore (the x87 control word and
    /// MXCSR of `clean` are not zero), only what a slot no process holds
    /// carries, so that a table of them can live in .bss.
    pub const ZERO: FpuArea = FpuArea([0; AREA_MAX]);

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

fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only called where CR4.OSXSAVE is on for this code (init's
    // checks), so xgetbv exists and reads XCR0.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack))
    };
    ((hi as u64) << 32) | lo as u64
}

/// Bytes of a standard-format XSAVE area for `mask`: the end of its highest
/// component, from CPUID 0xD; None if CPUID does not describe one of them.
fn area_size(mask: u64) -> Option<u32> {
    let mut size = 576u32; // legacy area + header
    for i in 2..63 {
        if mask & (1 << i) != 0 {
            let l = cpu::cpuid(0xd, i);
            if l.eax == 0 {
                return None;
            }
            size = size.max(l.ebx.saturating_add(l.eax));
        }
    }
    Some(size)
}

/// Choose XSAVE (with the mask user code really runs with) or FXSAVE; once,
/// at boot, before the first process. Stops the boot where the state cannot
/// be sized or does not fit: never a silent fallback that leaks.
pub fn init(m: &Machine) {
    let own = cpu::read_cr4() & (1 << 18) != 0;
    let pvm_hw = arch::mode() == Mode::Pvm && m.host_xcr0 != 0;
    if !own && !pvm_hw {
        return; // no XSAVE anywhere: FXSAVE covers what user code reaches
    }
    let mask = xgetbv0();
    let size = match area_size(mask) {
        Some(s) if pvm_hw => s.max(m.host_xsave_size),
        Some(s) => s,
        // The host sized exactly this XCR0 (AMX, which KVM's CPUID leaves out).
        None if pvm_hw && mask & !m.host_xcr0 == 0 && m.host_xsave_size != 0 => m.host_xsave_size,
        None => {
            crate::kprintln!(
                "[kernel] cannot boot: CPUID does not describe every XSAVE component of XCR0 {mask:#x}, so processes' registers cannot be kept apart"
            );
            crate::shutdown::halt(abi::status::PANIC)
        }
    };
    if size as usize > AREA_MAX {
        crate::kprintln!(
            "[kernel] cannot boot: XCR0 {mask:#x} needs a {size}-byte XSAVE area per process; this kernel keeps {AREA_MAX}"
        );
        crate::shutdown::halt(abi::status::PANIC)
    }
    SIZE.store(size, Ordering::Relaxed);
    // SAFETY: single CPU at boot; no process has entered the kernel yet,
    // so no stub reads these concurrently.
    unsafe {
        FPU_MASK = mask;
        FPU_XSAVE = 1;
    }
}

/// The XSAVE mask in use (0 for FXSAVE) and the bytes saved per process.
pub fn saved() -> (u64, u32) {
    // SAFETY: written once in init, before any reader.
    let (x, mask) = unsafe { (FPU_XSAVE, FPU_MASK) };
    (if x == 1 { mask } else { 0 }, SIZE.load(Ordering::Relaxed))
}

/// How processes' registers are saved, for the boot banner.
pub struct Describe;

impl core::fmt::Display for Describe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (mask, size) = saved();
        if mask != 0 {
            write!(f, "xsave (XCR0 {mask:#x}, {size} bytes)")
        } else {
            f.write_str("fxsave")
        }
    }
}
