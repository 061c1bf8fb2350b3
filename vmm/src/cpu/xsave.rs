//! The host's own XSAVE state: what guest user code runs with under PVM.
//!
//! A PVM guest runs on the hardware in ring 3 with the host's CR4 and XCR0,
//! so whatever CPUID the guest is shown, its programs can use every
//! component the host enabled (AVX-512 and AMX on an Intel Xeon whose KVM
//! CPUID shows neither). The guest kernel must save all of them; the VMM,
//! a host process under the same XCR0, reads it for the kernel (BootInfo).

use core::arch::x86_64::__cpuid_count;

/// The host's XCR0 and the bytes of a standard-format XSAVE area for it;
/// (0, 0) when the host has not enabled XSAVE.
pub fn host_xsave() -> (u64, u32) {
    // CPUID.1:ECX[27] is OSXSAVE: the OS set CR4.OSXSAVE, so xgetbv runs.
    let osxsave = __cpuid_count(1, 0).ecx & (1 << 27) != 0;
    if !osxsave {
        return (0, 0);
    }
    let (lo, hi): (u32, u32);
    // SAFETY: CR4.OSXSAVE is on (checked above), so xgetbv with ECX = 0
    // reads XCR0 and touches no memory.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack))
    };
    // CPUID 0xD.0 EBX: the size for the features XCR0 enables right now.
    let size = __cpuid_count(0xd, 0).ebx;
    (((hi as u64) << 32) | lo as u64, size)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_saves_at_least_x87_and_sse() {
        let (xcr0, size) = super::host_xsave();
        if xcr0 != 0 {
            assert_eq!(xcr0 & 3, 3, "XCR0 {xcr0:#x}");
            assert!(size >= 576, "{size}");
        }
    }
}
