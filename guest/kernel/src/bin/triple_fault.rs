//! Test guest: boots like the demo kernel, then triple-faults on purpose
//! (an empty IDT, then an exception), so the VMM's SHUTDOWN path is tested.
#![no_std]
#![no_main]

use kernel::{Machine, kprintln};

#[unsafe(no_mangle)]
pub fn kmain(_m: &Machine) -> ! {
    kprintln!("[triple-fault] loading an empty IDT and raising #UD");
    let idtr = [0u8; 10];
    // SAFETY: deliberately fatal: with no IDT every exception escalates to a triple fault.
    unsafe { core::arch::asm!("lidt [{}]", "ud2", in(reg) idtr.as_ptr(), options(noreturn)) }
}
