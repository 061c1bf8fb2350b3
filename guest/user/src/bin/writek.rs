//! Hand the kernel bad pointers: `write` must refuse them with an error
//! (EFAULT), not crash and not print kernel memory.
#![no_std]
#![no_main]

use abi::layout::KERNEL_BASE;
use abi::syscall::EFAULT;
use ulib::{println, write_raw};

ulib::entry!(main);

fn main(_arg: u64) -> i64 {
    let kernel = write_raw(1, KERNEL_BASE + 0x10_0000, 16);
    let unmapped = write_raw(1, 0x2000_0000, 16);
    let wrap = write_raw(1, u64::MAX - 4, 16);
    println!(
        "writek: write(kernel ptr) = {kernel}, write(unmapped ptr) = {unmapped}, write(wrapping ptr) = {wrap}"
    );
    if kernel == EFAULT && unmapped == EFAULT && wrap == EFAULT {
        0
    } else {
        1
    }
}
