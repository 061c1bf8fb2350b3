//! PVM-native mode: hypercalls and the VIF ("virtual interrupt flag") page.
//!
//! In native supervisor mode `sti`/`cli` do not change anything; whether
//! interrupts may be delivered is the VIF page's `if` byte, and the host
//! clears it on every delivery and syscall entry. The kernel never enables
//! interrupts in supervisor mode: they arrive only in user mode, where they
//! follow rflags.IF of the frame the kernel returns to.

use core::arch::asm;

pub const HC_SET_CR3: u64 = 0x1001;
/// Return to user mode through a 64-byte frame {rax, rbx, rdi, rip, cs,
/// rflags, rsp, ss}; see `entry.rs`.
pub const HC_IRET_FRAME: u64 = 0x100d;

/// PVM's signature MSR ('PVM' when present; #GP elsewhere).
pub const MSR_SIGNATURE: u32 = 0x4b56_4d11;
/// Where the VIF page and the mode flags were registered.
pub const MSR_CONTROL: u32 = 0x4b56_4d10;

/// `int 0x1b` with rax = number, rbx/rcx/rdx = arguments.
pub fn hypercall(nr: u64, a: u64, b: u64, c: u64) {
    // SAFETY: PVM hypercalls take their arguments in registers; rbx is
    // saved by hand because LLVM reserves it.
    unsafe {
        asm!("xchg {a}, rbx", "int 0x1b", "xchg {a}, rbx",
             a = inout(reg) a => _, inout("rax") nr => _, inout("rcx") b => _, inout("rdx") c => _,
             options(nostack));
    }
}

/// Registration flag: the host writes each #PF's address at VIF offset 8.
pub const FLAG_CR2_IN_VIF: u64 = 1 << 4;

/// The flags the boot prefix registered (read back from the host).
pub fn registered_flags() -> u64 {
    super::cpu::rdmsr(MSR_CONTROL) & 0xfff
}
