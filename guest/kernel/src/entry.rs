//! Kernel entry and exit: exception/interrupt stubs, the syscall entry, and
//! the way back to user mode.
//!
//! Every entry from user mode builds a `TrapFrame` at the top of its CPU's
//! kernel stack (TSS.rsp0; the syscall stub of that CPU loads it), takes
//! the big kernel lock (smp.rs), and saves the user's FPU and vector state
//! into the current process's area (this CPU's `CUR_FX`; XSAVE or FXSAVE,
//! see fpu.rs), because the kernel's Rust code uses SSE. A process switch
//! swaps the frame and `CUR_FX`; the exit path restores whatever `CUR_FX`
//! then points to and drops the lock just before leaving.
//!
//! Back to user mode: `iretq` on x86; under PVM `iretq` would leave the host
//! believing we are still in supervisor mode, so we use hypercall 0x100d
//! with a frame {rax, rbx, rdi, rip, cs, rflags, rsp, ss}. A syscall that
//! returns to the same process uses `sysretq` on both. (sysretq with a
//! non-canonical RCX faults in ring 0 on Intel; RCX here is the address
//! after the caller's `syscall`, and the page below the top of the lower
//! half is never mapped, so it is always canonical.)

use core::arch::global_asm;

use abi::layout::MAX_CPUS;

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

/// Per CPU (indexed by `smp::cpu`): where its entry stubs save the user's
/// FPU state.
#[unsafe(no_mangle)]
static mut CUR_FX: [*mut FpuArea; MAX_CPUS as usize] = [core::ptr::null_mut(); MAX_CPUS as usize];
/// The big kernel lock (smp.rs): bit 0 set while a CPU runs kernel code.
#[unsafe(no_mangle)]
pub static BKL: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Bumped (under the lock) each time a CPU leaves the kernel for user
/// mode, when what the scheduler sees may have changed: an idle CPU waits
/// for it to move (smp::idle_wait).
#[unsafe(no_mangle)]
pub static SCHED_GEN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
#[unsafe(no_mangle)]
static mut PVM_MODE: u8 = 0;

/// Where the entry stubs save and restore FPU state from now on.
pub fn set_fx(fx: *mut FpuArea) {
    // SAFETY: this CPU's slot, read only by this CPU's entry stubs.
    unsafe { CUR_FX[crate::smp::cpu()] = fx };
}

pub fn set_kernel_fx() {
    set_fx(&raw mut KERNEL_FX);
}

/// The name of exception vector `v`, for verdicts and kernel traps.
pub fn vector_name(v: u64) -> &'static str {
    abi::signals::exception(v).0
}

pub fn set_pvm(on: bool) {
    // SAFETY: written once at boot, before any other CPU runs; read only by the exit path.
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
    .set MAX_CPUS, {max_cpus}
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
/* rcx = this CPU's CUR_FX slot's value (rsp is on this CPU's stack). */
.macro CUR_FX_RCX
    lea kstacks(%rip), %rax
    mov %rsp, %rcx
    sub %rax, %rcx
    shr $16, %rcx
    lea CUR_FX(%rip), %rax
    mov (%rax,%rcx,8), %rcx
.endm
/* The big kernel lock (smp.rs), taken by every entry before it touches
 * anything shared, released on the way back to user mode. */
.macro BKL_LOCK
81: lock btsq $0, BKL(%rip)
    jnc 83f
82: pause
    testq $1, BKL(%rip)
    jnz 82b
    jmp 81b
83:
.endm
.macro BKL_UNLOCK
    incq SCHED_GEN(%rip)
    movq $0, BKL(%rip)
.endm
.macro FPU_SAVE
    CUR_FX_RCX
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
    CUR_FX_RCX
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
    testb $3, 24(%rsp)              /* an interrupt in the kernel: only */
    jnz 0f                          /* ever in idle.rs's halt */
    cmpq $0x20, (%rsp)
    jae idle_interrupt
0:  PUSHREGS
    BKL_LOCK
    testb $3, 144(%rsp)             /* from user? */
    jz 1f
    FPU_SAVE
1:  mov %rsp, %rdi
    cld
    call trap_entry
    jmp ret_to_frame

/* SYSCALL from user: rcx = user rip, r11 = user rflags, rsp = user rsp.
 * One 64-byte stub per CPU (LSTAR = syscall_entry + 64 * cpu), each with
 * its own scratch word and stack: nothing else is free before the stack. */
    .balign 64
    .globl syscall_entry
syscall_entry:
    .set c, 0
    .rept MAX_CPUS
    .balign 64
    mov %rsp, user_rsp_scratch + 8 * c(%rip)
    lea kstacks + 65536 * (c + 1)(%rip), %rsp
    pushq $0x2b
    pushq user_rsp_scratch + 8 * c(%rip)
    jmp syscall_common
    .set c, c + 1
    .endr
syscall_common:
    push %r11
    pushq $0x33
    push %rcx
    pushq $0
    pushq $0x100
    PUSHREGS
    BKL_LOCK
    FPU_SAVE
    mov %rsp, %rdi
    cld
    call syscall_dispatch           /* 0: back to the caller by sysret */
    test %eax, %eax
    jnz ret_to_frame
    FPU_RESTORE
    BKL_UNLOCK
    POPREGS
    mov 16(%rsp), %rcx
    mov 32(%rsp), %r11
    mov 40(%rsp), %rsp
    sysretq

/* enter_user(frame): copy the frame to the stack top and leave. */
    .globl enter_user
enter_user:
    mov %rdi, %rsi
    lea kstacks(%rip), %rax         /* this CPU's stack top */
    mov %rsp, %rcx
    sub %rax, %rcx
    shr $16, %rcx
    inc %rcx
    shl $16, %rcx
    lea (%rax,%rcx), %rsp
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
    BKL_UNLOCK
    cmpb $0, PVM_MODE(%rip)
    jne 5f
4:  POPREGS
    add $16, %rsp
    iretq
/* PVM: the 0x100d frame (rax, rbx, rdi, rip, cs, rflags, rsp, ss) is built
 * in place on this CPU's stack: rip..ss are already where the frame wants
 * them, 24 bytes above its start, over the vec and err words. */
5:  POPREGS
    mov %rax, -8(%rsp)
    mov %rbx, 0(%rsp)
    mov %rdi, 8(%rsp)
    lea -8(%rsp), %rbx
    sub $128, %rsp
    mov $0x100d, %eax
    int $0x1b
    ud2

    .section .bss.percpu, "aw", @nobits
    .balign 64
user_rsp_scratch:
    .skip 8 * MAX_CPUS
"#,
    max_cpus = const MAX_CPUS,
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
