//! Test guest: boots, then spins in the kernel forever with interrupts
//! off, so only the VMM's --timeout can stop it.
#![no_std]
#![no_main]

use kernel::{Machine, kprintln};

#[unsafe(no_mangle)]
pub fn kmain(_m: &Machine) -> ! {
    kprintln!("[spin-forever] spinning");
    loop {
        core::hint::spin_loop();
    }
}
