//! Grow the heap by `arg` MiB (default 64) and write to every page of it,
//! so every page is demand-paged in: a large address space for the report.
#![no_std]
#![no_main]

use ulib::{println, sbrk, stats};

ulib::entry!(main);

fn main(arg: u64) -> i64 {
    let mib = if arg == 0 { 64 } else { arg };
    let Some(base) = sbrk((mib << 20) as i64) else {
        println!("touch: cannot grow the heap by {mib} MiB");
        return 1;
    };
    let pages = (mib << 20) / 4096;
    for i in 0..pages {
        // SAFETY: inside the heap just grown by sbrk.
        unsafe { ((base + i * 4096) as *mut u64).write_volatile(i) };
    }
    println!(
        "touch: wrote {pages} pages ({mib} MiB); heap faults {}",
        stats().heap_faults
    );
    0
}
