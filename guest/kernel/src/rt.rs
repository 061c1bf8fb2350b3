//! The kernel's panic handler. (The mem* functions come from `memfns`.)

use core::panic::PanicInfo;

// Link the mem* functions in.
use memfns as _;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::kprintln!("[kernel] PANIC: {info}");
    crate::shutdown::halt(abi::status::PANIC)
}
