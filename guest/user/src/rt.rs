//! Program start and panic. (The mem* functions come from `memfns`.)

use core::arch::global_asm;

// Link the mem* functions in.
use memfns as _;

// The kernel enters as Linux does: rsp at argc, then argv, envp, auxv.
global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    "    mov rdi, rsp",
    "    and rsp, -16",
    "    call user_main",
    "    ud2",
);

/// The program's number: its argv[1] in decimal (the kernel passes
/// `spin:300` as argv "spin", "300"), 0 when absent or not a number.
///
/// # Safety
/// `sp` is the start-up stack pointer the kernel entered with.
pub unsafe fn arg(sp: *const u64) -> u64 {
    // SAFETY: the kernel's start-up stack: argc, then argc argv pointers to
    // NUL-terminated strings in this process's memory.
    unsafe {
        if *sp < 2 {
            return 0;
        }
        let mut p = *sp.add(2) as *const u8;
        let mut n: u64 = 0;
        while *p != 0 {
            let d = (*p).wrapping_sub(b'0');
            if d > 9 {
                return 0;
            }
            n = n.saturating_mul(10).saturating_add(d as u64);
            p = p.add(1);
        }
        n
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {}", info);
    crate::sys::exit(101)
}
