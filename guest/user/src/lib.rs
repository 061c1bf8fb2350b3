//! ulib: what a user program of the microvmm guest needs: system calls,
//! `print!`, a `malloc`/`free` over `sbrk`, and the program entry.
#![no_std]

pub mod alloc;
pub mod rt;
pub mod sys;

pub use abi::msg::WhereisAnswer;
pub use sys::*;

/// `print!` to the console (fd 1), buffered per call.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{ $crate::sys::print_fmt(format_args!($($arg)*)); }};
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{ $crate::sys::print_fmt(format_args!("{}\n", format_args!($($arg)*))); }};
}

/// Define the program's entry: `entry!(main)` with `fn main(arg: u64) -> i64`.
/// Before main, every program leaves a pattern in its data for the VMM to
/// read back (see `sys::mark`).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn user_main(sp: u64) -> ! {
            // SAFETY: sp is what _start was entered with.
            let arg = unsafe { $crate::rt::arg(sp as *const u64) };
            $crate::sys::mark();
            let f: fn(u64) -> i64 = $main;
            $crate::sys::exit(f(arg))
        }
    };
}
