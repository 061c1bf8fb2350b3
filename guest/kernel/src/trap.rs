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
    match f.vec {
        v if v == timer::VECTOR as u64 => {
            timer::tick();
            proc::yield_from(f);
        }
        0xff => {} // spurious
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
