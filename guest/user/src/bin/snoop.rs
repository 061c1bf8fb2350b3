//! Try to break protection; the kernel must kill us each time.
//! arg 0: read kernel memory; 1: read where another process (`heap`) has
//! its heap, unmapped here; 2: write our own code.
#![no_std]
#![no_main]

use abi::layout::KERNEL_BASE;
use ulib::{println, sbrk};

ulib::entry!(main);

fn main(arg: u64) -> i64 {
    let (what, addr, write) = match arg {
        0 => ("read kernel text", KERNEL_BASE + 0x10_0000, false),
        1 => (
            "read another process's heap (2 MiB into the heap area)",
            sbrk(0).unwrap_or(0) + (2 << 20),
            false,
        ),
        _ => ("write my own code", main as *const () as u64, true),
    };
    println!("snoop: about to {what} at {addr:#x}");
    let p = addr as *mut u64;
    // SAFETY: deliberately unsafe: this access must fault and kill us.
    let v = unsafe {
        if write {
            p.write_volatile(0xdead);
            0
        } else {
            p.read_volatile()
        }
    };
    println!("snoop: PROTECTION FAILED: access succeeded (value {v:#x})");
    1
}
