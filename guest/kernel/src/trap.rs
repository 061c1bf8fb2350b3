//! Exceptions and interrupts: the IDT, and what each vector means for the
//! process that took it.

use crate::arch::cpu;
use crate::entry::{self, TrapFrame};
use crate::memlayout;
use crate::proc::{self, Exit};
use crate::{kprintln, shutdown, timer};

/// si_code of SIGFPE for an integer divide by zero (#DE).
const FPE_INTDIV: i32 = 1;
/// si_code of SIGILL for an illegal opcode (#UD).
const ILL_ILLOPN: i32 = 2;
/// si_code of a signal the kernel raised without a more precise one
/// (#GP, int3).
const SI_KERNEL: i32 = 0x80;

/// Point all 256 IDT gates at the entry stubs (16 bytes apart). #BP is
/// DPL 3 so `int3` in user code traps instead of raising #GP.
pub fn init_idt() {
    // boot_idt is the 4 KiB IDT page the CPU (or PVM) reads.
    let idt = &raw const memlayout::boot_idt as *mut u64;
    let base = &raw const entry::isr_stubs as u64;
    for v in 0..256u64 {
        let off = base + 16 * v;
        let dpl: u64 = if v == 3 { 3 } else { 0 };
        let lo = (off & 0xffff)
            | (0x10 << 16)
            | ((0x8e | (dpl << 5)) << 40)
            | (((off >> 16) & 0xffff) << 48);
        // SAFETY: 2 * v + 1 < 512 u64s in the IDT page.
        unsafe {
            core::ptr::write_volatile(idt.add(2 * v as usize), lo);
            core::ptr::write_volatile(idt.add(2 * v as usize + 1), off >> 32);
        }
    }
}

/// Called by the stubs with the frame they built.
#[unsafe(no_mangle)]
extern "C" fn trap_entry(f: &mut TrapFrame) {
    if !f.from_user() {
        kernel_trap(f);
    }
    crate::smp::gate();
    if f.vec == crate::smp::IPI_VECTOR as u64 {
        crate::apic::eoi();
    }
    if !proc::enter(f, false) {
        dispatch(f);
    }
    // A change other CPUs must forget is made before the lock is dropped.
    proc::flush_remote();
}

fn dispatch(f: &mut TrapFrame) {
    if (f.vec == 1 || f.vec == 3) && debugger_took(f) {
        return;
    }
    match f.vec {
        v if v == timer::VECTOR as u64 => {
            timer::tick();
            // Buffered console output waits at most a tick.
            crate::console::flush();
            proc::tick(f);
        }
        0xff => {}                                    // spurious
        v if v == crate::smp::IPI_VECTOR as u64 => {} // its work is done (gate, enter)
        14 => proc::page_fault(f, crate::arch::fault_address()),
        v => {
            // A handler the program set for the signal runs, as on Linux
            // (Go catches SIGSEGV, SIGFPE and SIGILL); si_addr and si_code
            // are Linux's for each.
            let (code, addr) = match v {
                0 => (FPE_INTDIV, f.rip),
                6 => (ILL_ILLOPN, f.rip),
                _ => (SI_KERNEL, 0),
            };
            let sig = u64::from(abi::signals::for_exception(v));
            if crate::syscall::signal::fault(f, sig, code, addr) {
                return;
            }
            let reason = match v {
                3 => "breakpoint",
                6 => "invalid opcode",
                13 => "general protection (privileged instruction?)",
                0 => "divide error",
                _ => "unexpected exception",
            };
            proc::exit_current(
                f,
                Exit::Fault {
                    vector: v,
                    err: f.err,
                    addr: 0,
                    rip: f.rip,
                    reason,
                },
            );
        }
    }
}

/// A user #BP or #DB: offer it to the VMM's debugger (abi::msg::DebugTrap),
/// which may change the registers the process goes on with. False when
/// no debugger took it: the trap is the process's own.
fn debugger_took(f: &mut TrapFrame) -> bool {
    use abi::msg::{DebugTrap, RESULT_OK, RFLAGS_USER, TRAP_BREAKPOINT, TRAP_STEP};
    // SAFETY: a process runs (a trap from user mode); the borrow ends here.
    let (pid, fs_base) = unsafe {
        let p = proc::current();
        (p.pid, p.fs_base)
    };
    let mut m = DebugTrap {
        pid,
        vector: if f.vec == 3 {
            TRAP_BREAKPOINT
        } else {
            TRAP_STEP
        },
        regs: [
            f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.rsp, f.r8, f.r9, f.r10, f.r11,
            f.r12, f.r13, f.r14, f.r15,
        ],
        rip: f.rip,
        rflags: f.rflags,
        fs_base,
        ..Default::default()
    };
    if crate::vmmdev::send(&mut m) != Some(RESULT_OK) {
        return false;
    }
    let r = m.regs;
    (f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.rsp) =
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    (f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15) =
        (r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    // A user address only: the return to user must not fault in the kernel.
    if m.rip < crate::memlayout::USER_END {
        f.rip = m.rip;
    }
    f.rflags = (f.rflags & !RFLAGS_USER) | (m.rflags & RFLAGS_USER);
    true
}

/// An exception in the kernel itself is a bug: say everything and stop.
fn kernel_trap(f: &TrapFrame) -> ! {
    kprintln!(
        "[kernel] KERNEL TRAP {} (vector {}) err {:#x} rip {:#x} rsp {:#x} cr2 {:#x} cr3 {:#x}",
        entry::vector_name(f.vec),
        f.vec,
        f.err,
        f.rip,
        f.rsp,
        cpu::read_cr2(),
        cpu::read_cr3()
    );
    shutdown::halt(abi::status::KERNEL_TRAP)
}
