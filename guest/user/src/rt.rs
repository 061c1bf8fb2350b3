//! Program start and panic. (The mem* functions come from `memfns`.)

use core::arch::global_asm;

// Link the mem* functions in.
use memfns as _;

// The kernel enters with rdi = argument, rsi = pid, rsp = top of the stack.
global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    "    and rsp, -16",
    "    call user_main",
    "    ud2",
);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {}", info);
    crate::sys::exit(101)
}
