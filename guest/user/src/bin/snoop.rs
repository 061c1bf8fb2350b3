//! Try to break protection; the kernel must kill us each time.
//! arg 0: read kernel memory; 1: read the address where another process
//! (`heap`, in the demo) keeps its heap: every process has its own page
//! table, so in ours that GVA maps nothing and there is no way to name the
//! other's memory; 2: write our own code; 3: execute from the heap.
#![no_std]
#![no_main]

use abi::layout::KERNEL_BASE;
use ulib::{alloc::malloc, println, sbrk};

ulib::entry!(main);

fn main(arg: u64) -> i64 {
    let (what, addr, write) = match arg {
        0 => ("read kernel text", KERNEL_BASE + 0x10_0000, false),
        1 => (
            "read where `heap` keeps its heap (2 MiB into the heap area; not mapped in my address space)",
            sbrk(0).unwrap_or(0) + (2 << 20),
            false,
        ),
        2 => ("write my own code", main as *const () as u64, true),
        _ => return exec_heap(),
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

/// Put a `ret` into a heap block and call it: the heap is mapped NX.
fn exec_heap() -> i64 {
    let p = malloc(16);
    if p.is_null() {
        return 1;
    }
    // SAFETY: p is a live 16-byte block; 0xc3 is `ret`.
    unsafe { p.write_volatile(0xc3) };
    println!("snoop: about to execute from my heap at {:#x}", p as u64);
    // SAFETY: deliberately unsafe: fetching from a non-executable page must fault.
    let f: extern "C" fn() = unsafe { core::mem::transmute(p) };
    f();
    println!("snoop: PROTECTION FAILED: executed code on the heap");
    1
}
