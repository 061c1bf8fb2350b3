//! The 64-bit CPU state the guest starts in: long mode with paging on,
//! the kernel segments of the Linux GDT layout, and the optional CR4/EFER
//! bits as negotiated with KVM (`CpuFeatures`).

use abi::layout::{BOOT_PML4_GPA, BOOT_PML5_GPA};
use kvm_bindings::{kvm_segment, kvm_sregs};

use super::{BOOT_GDT_GPA, GDT};

fn segment(selector: u16, code: bool, long: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        dpl: 0,
        db: u8::from(!long),
        s: 1,
        l: u8::from(long),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// The optional bits of the vCPU's first state, as negotiated with KVM
/// (cpu::negotiate): KVM refuses a CR4/EFER bit the guest's CPUID does not
/// have, and sometimes one it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    /// No-execute pages (CPUID `0x8000_0001:EDX[20]`): EFER.NXE.
    pub nx: bool,
    /// RDFSBASE and friends (CPUID `7.0:EBX[0]`): CR4.FSGSBASE.
    pub fsgsbase: bool,
    /// 5-level paging (CPUID `7.0:ECX[16]`): CR4.LA57 and a PML5 on top;
    /// the guest can only be given it now, before its first instruction.
    pub la57: bool,
    /// XSAVE (CPUID `1:ECX[26]`): CR4.OSXSAVE, with XCR0 set by KVM_SET_XCRS.
    pub osxsave: bool,
    /// Physical address bits (CPUID `0x80000008 EAX[7:0]`): entry bits at or
    /// above it are reserved, which the walker checks.
    pub maxphyaddr: u8,
}

/// Long mode, paging on, kernel segments of the Linux layout. CR4 = PAE |
/// OSFXSR | OSXMMEXCPT, plus FSGSBASE, LA57 and OSXSAVE as negotiated
/// (HOST-KVM.md's PVM recipe sets FSGSBASE; qemu64 lacks it); EFER = SCE |
/// LME | LMA, plus NXE when negotiated.
pub fn sregs(mut s: kvm_sregs, cpu: CpuFeatures) -> kvm_sregs {
    s.gdt.base = BOOT_GDT_GPA;
    s.gdt.limit = (GDT.len() * 8 - 1) as u16;
    s.cs = segment(0x10, true, true);
    let ds = segment(0x18, false, false);
    (s.ds, s.es, s.fs, s.gs, s.ss) = (ds, ds, ds, ds, ds);
    s.cr3 = if cpu.la57 {
        BOOT_PML5_GPA
    } else {
        BOOT_PML4_GPA
    };
    s.cr4 = (1 << 5)
        | (1 << 9)
        | (1 << 10)
        | if cpu.fsgsbase { 1 << 16 } else { 0 }
        | if cpu.la57 { 1 << 12 } else { 0 }
        | if cpu.osxsave { 1 << 18 } else { 0 };
    s.cr0 = 0x8005_0033; // PG AM WP NE ET MP PE
    s.efer = 0x501 | if cpu.nx { 1 << 11 } else { 0 };
    s
}
