//! A CPU with nothing to run halts instead of spinning, so an idle vCPU
//! costs the host nothing until an interrupt comes: its LAPIC timer's
//! tick (a sleeper's deadline) or another CPU's IPI (`kick`: work was
//! queued for it, a TLB shootdown, a gather).
//!
//! The kernel otherwise never takes an interrupt in supervisor mode: on
//! x86 it runs with IF clear, under PVM with the VIF page's `if` byte 0
//! (HOST-KVM.md). `idle_halt` opens interrupts for exactly one `hlt`:
//! `sti; hlt` on x86 (STI's shadow: no interrupt before the HLT), and
//! under PVM `if = 1; hlt`. An interrupt in supervisor mode goes to
//! `idle_interrupt` (entry.rs sends it there before anything else):
//! EOI, and back. Under PVM an interrupt may land between `if = 1` and
//! the `hlt`; it then resumes past the `hlt` (`idle_window`), so a wake-up
//! is never lost to a halt that would wait for the next tick.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use abi::layout::MAX_CPUS;

use crate::entry::BKL;

/// Per CPU: it waits for work in `halt` (set under the big lock, before
/// the lock is dropped): whoever gives it work must `kick` it.
static WAITING: [AtomicBool; MAX_CPUS as usize] =
    [const { AtomicBool::new(false) }; MAX_CPUS as usize];

unsafe extern "C" {
    /// Halt with interrupts open for that one instruction; `vif` is this
    /// CPU's VIF page (PVM) or unused (x86).
    fn idle_halt(vif: *mut u8);
}

/// Whether CPU `c` waits in `halt`.
pub fn waiting(c: usize) -> bool {
    WAITING[c].load(Ordering::Acquire)
}

/// Wake CPU `c` if it waits in `halt` (an IPI; the caller holds the lock
/// and has given it work). Nothing for this CPU or one that runs.
pub fn kick(c: usize) {
    if c != crate::smp::cpu() && c < crate::smp::cpus() && waiting(c) {
        crate::smp::ipi(c);
    }
}

/// Drop the big kernel lock and halt until an interrupt (the caller
/// takes the lock again). Only with the LAPIC timer running: with no
/// in-kernel irqchip nothing would ever end the halt.
pub fn halt() {
    let me = crate::smp::cpu();
    WAITING[me].store(true, Ordering::SeqCst);
    BKL.store(0, Ordering::Release);
    let vif = (&raw const crate::memlayout::boot_vif as u64 + 4096 * me as u64) as *mut u8;
    // SAFETY: this CPU's VIF page (boot.rs: one per CPU), whose byte 0 is
    // the host's `if` for this vCPU; idle_halt writes only that byte, and
    // only under PVM. Interrupts it lets in go to idle_interrupt, which
    // touches nothing but the LAPIC's EOI and its own frame.
    unsafe { idle_halt(vif) };
    WAITING[me].store(false, Ordering::SeqCst);
}

global_asm!(
    r#"
    .text
    .globl idle_halt
idle_halt:
    cmpb $0, PVM_MODE(%rip)
    jne 1f
    sti
    hlt
    cli
    ret
1:  movb $1, (%rdi)
    .globl idle_window
idle_window:
    hlt
    .globl idle_window_end
idle_window_end:
    movb $0, (%rdi)
    ret

/* An interrupt in supervisor mode (only ever in idle_halt): rsp ->
 * vector, error code (0), rip, cs, rflags, rsp, ss. EOI (not for the
 * spurious vector), and back past the hlt if it had not run yet. */
    .globl idle_interrupt
idle_interrupt:
    push %rax
    push %rcx
    push %rdx
    cmpq $0xff, 24(%rsp)
    je 1f
    mov $0x80b, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
1:  lea idle_window(%rip), %rax
    cmp %rax, 40(%rsp)
    jne 2f
    lea idle_window_end(%rip), %rax
    mov %rax, 40(%rsp)
2:  pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq
"#,
    options(att_syntax)
);
