//! A user process took #BP or #DB while a debugger (`--gdb`) may want
//! it (`DebugTrap`), and the RFLAGS bits the debugger may change.

use super::Header;

/// `DebugTrap::vector`: a user `int3` (#BP; `rip` is past the int3).
pub const TRAP_BREAKPOINT: u32 = 3;
/// `DebugTrap::vector`: #DB, a user instruction ran with the trap flag set.
pub const TRAP_STEP: u32 = 1;
/// The trap flag in RFLAGS: the VMM sets it in `DebugTrap::rflags` to
/// single-step the process (one instruction, then a `TRAP_STEP`).
pub const RFLAGS_TF: u64 = 1 << 8;
/// RFLAGS bits the VMM may change in a `DebugTrap` answer (CF PF AF ZF SF
/// TF DF OF); the kernel keeps the rest as they were.
pub const RFLAGS_USER: u64 = 0xdd5;

/// A user process took #BP or #DB. Sent only while a debugger (microvmm
/// `--gdb`) may want it: the VMM answers RESULT_OK when its debugger took
/// the trap, after writing the registers the process goes on with into
/// `regs`, `rip` and `rflags` (RFLAGS only within `RFLAGS_USER`); any
/// other result means the trap is the process's own (the kernel kills it
/// as before). The VMM holds the vCPU in this exit while gdb looks.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct DebugTrap {
    pub hdr: Header,
    pub pid: u32,
    /// `TRAP_BREAKPOINT` or `TRAP_STEP`.
    pub vector: u32,
    /// rax rbx rcx rdx rsi rdi rbp rsp r8-r15: gdb's x86-64 order.
    pub regs: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    /// FS base (TLS pointer), read only.
    pub fs_base: u64,
}
const _: () = assert!(core::mem::size_of::<DebugTrap>() == 176);
