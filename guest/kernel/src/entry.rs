//! Kernel entry and exit: exception/interrupt stubs, the syscall entry, and
//! the way back to user mode.
//!
//! Every entry from user mode builds a `TrapFrame` at the top of the one
//! kernel stack (`kstack_top`, also TSS.rsp0) and saves the user's FPU and
//! vector state into the current process's area (`CUR_FX`; XSAVE or
//! FXSAVE, see fpu.rs), because the kernel's Rust code uses SSE. A process
//! switch swaps the frame and `CUR_FX`; the exit path restores whatever
//! `CUR_FX` then points to.
//!
//! Back to user mode: `iretq` on x86; under PVM `iretq` would leave the host
//! believing we are still in supervisor mode, so we use hypercall 0x100d
//! with a frame {rax, rbx, rdi, rip, cs, rflags, rsp, ss}. A syscall that
//! returns to the same process uses `sysretq` on both. (sysretq with a
//! non-canonical RCX faults in ring 0 on Intel; RCX here is the address
//! after the caller's `syscall`, and the page below the top of the lower
//! half is never mapped, so it is always canonical.)

use core::arch::global_asm;

use crate::fpu::FpuArea;

/// Saved user registers, in the order the stubs push them.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector, or `VEC_SYSCALL` for the syscall path.
    pub vec: u64,
    pub err: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

pub const VEC_SYSCALL: u64 = 0x100;
pub const USER_CS: u64 = 0x33;
pub const USER_SS: u64 = 0x2b;

impl TrapFrame {
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// The kernel's own save area, used while no process runs.
static mut KERNEL_FX: FpuArea = FpuArea::clean();

#[unsafe(no_mangle)]
static mut CUR_FX: *mut FpuArea = core::ptr::null_mut();
#[unsafe(no_mangle)]
static mut PVM_MODE: u8 = 0;

/// Where the entry stubs save and restore FPU state from now on.
pub fn set_fx(fx: *mut FpuArea) {
    // SAFETY: single CPU; read only by the entry stubs.
    unsafe { CUR_FX = fx };
}

pub fn set_kernel_fx() {
    set_fx(&raw mut KERNEL_FX);
}

/// The name of exception vector `v`, for verdicts and kernel traps.
pub fn vector_name(v: u64) -> &'static str {
    abi::signals::exception(v).0
}

pub fn set_pvm(on: bool) {
    // SAFETY: single CPU; read only by the exit path.
    unsafe { PVM_MODE = on as u8 };
}

unsafe extern "C" {
    /// Restore `f` (on the kernel stack top) and return to user mode.
    fn enter_user(f: *const TrapFrame) -> !;
    pub static isr_stubs: u8;
}

/// Where `return_to` parks the frame: `f` may live on the very stack that
/// `enter_user` is about to overwrite with it.
static mut ENTER: TrapFrame = ZERO_FRAME;

/// Leave the kernel for the user frame `f`; the kernel stack is reset.
pub fn return_to(f: &TrapFrame) -> ! {
    // SAFETY: ENTER is written only here, just before enter_user copies it
    // (static, not on the stack) to the stack top and returns to it;
    // nothing on the old stack is used again.
    unsafe {
        ENTER = *f;
        enter_user(&raw const ENTER)
    }
}

global_asm!(
    r#"
.macro PUSHREGS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm
.macro POPREGS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm
/* Save/restore the user's FPU and vector registers at CUR_FX (clobbers
 * rax, rcx, rdx: call only with the user's registers pushed). */
.macro FPU_SAVE
    mov CUR_FX(%rip), %rcx
    cmpb $0, FPU_XSAVE(%rip)
    je 71f
    mov FPU_MASK(%rip), %eax
    mov FPU_MASK+4(%rip), %edx
    xsave64 (%rcx)
    jmp 72f
71: fxsave64 (%rcx)
72:
.endm
.macro FPU_RESTORE
    mov CUR_FX(%rip), %rcx
    cmpb $0, FPU_XSAVE(%rip)
    je 73f
    mov FPU_MASK(%rip), %eax
    mov FPU_MASK+4(%rip), %edx
    xrstor64 (%rcx)
    jmp 74f
73: fxrstor64 (%rcx)
74:
.endm

    .text
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set i, 0
    .rept 256
    .balign 16
    .if (i == 8) || (i == 10) || (i == 11) || (i == 12) || (i == 13) || (i == 14) || (i == 17) || (i == 21) || (i == 29) || (i == 30)
    .else
    pushq $0
    .endif
    pushq $i
    jmp isr_common
    .set i, i + 1
    .endr

isr_common:
    PUSHREGS
    testb $3, 144(%rsp)             /* from user? */
    jz 1f
    FPU_SAVE
1:  mov %rsp, %rdi
    cld
    call trap_entry
    jmp ret_to_frame

/* SYSCALL from user: rcx = user rip, r11 = user rflags, rsp = user rsp. */
    .balign 64
    .globl syscall_entry
syscall_entry:
    mov %rsp, user_rsp_scratch(%rip)
    lea kstack_top(%rip), %rsp
    pushq $0x2b
    pushq user_rsp_scratch(%rip)
    push %r11
    pushq $0x33
    push %rcx
    pushq $0
    pushq $0x100
    PUSHREGS
    FPU_SAVE
    mov %rsp, %rdi
    cld
    call syscall_dispatch           /* 0: back to the caller by sysret */
    test %eax, %eax
    jnz ret_to_frame
    FPU_RESTORE
    POPREGS
    mov 16(%rsp), %rcx
    mov 32(%rsp), %r11
    mov 40(%rsp), %rsp
    sysretq

/* enter_user(frame): copy the frame to the stack top and leave. */
    .globl enter_user
enter_user:
    mov %rdi, %rsi
    lea kstack_top(%rip), %rsp
    sub $176, %rsp
    mov %rsp, %rdi
    mov $22, %ecx
    rep movsq
    /* fall through */

/* rsp -> TrapFrame. Return to where the frame says. */
ret_to_frame:
    testb $3, 144(%rsp)
    jz 4f
    FPU_RESTORE
    cmpb $0, PVM_MODE(%rip)
    jne 5f
4:  POPREGS
    add $16, %rsp
    iretq
5:  POPREGS
    mov %rax, iret_frame + 0(%rip)
    mov %rbx, iret_frame + 8(%rip)
    mov %rdi, iret_frame + 16(%rip)
    mov 16(%rsp), %rax
    mov %rax, iret_frame + 24(%rip)
    mov 24(%rsp), %rax
    mov %rax, iret_frame + 32(%rip)
    mov 32(%rsp), %rax
    mov %rax, iret_frame + 40(%rip)
    mov 40(%rsp), %rax
    mov %rax, iret_frame + 48(%rip)
    mov 48(%rsp), %rax
    mov %rax, iret_frame + 56(%rip)
    add $56, %rsp
    lea iret_frame(%rip), %rbx
    mov $0x100d, %eax
    int $0x1b
    ud2

    .section .bss.percpu, "aw", @nobits
    .balign 64
iret_frame:
    .skip 64
user_rsp_scratch:
    .skip 8
"#,
    options(att_syntax)
);

/// An all-zero frame (const, for static initialisers).
pub const ZERO_FRAME: TrapFrame = TrapFrame {
    r15: 0,
    r14: 0,
    r13: 0,
    r12: 0,
    r11: 0,
    r10: 0,
    r9: 0,
    r8: 0,
    rbp: 0,
    rdi: 0,
    rsi: 0,
    rdx: 0,
    rcx: 0,
    rbx: 0,
    rax: 0,
    vec: 0,
    err: 0,
    rip: 0,
    cs: 0,
    rflags: 0,
    rsp: 0,
    ss: 0,
};
