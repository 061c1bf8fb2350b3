//! Grow the heap to a few MiB with malloc, touch every page, free and reuse,
//! and compare the page faults the kernel served with the pages touched.
//! The blocks lie end to end from the heap's start and each is written
//! once per page, so every page of the heap up to the break is touched:
//! their count is the expected number of faults.
#![no_std]
#![no_main]

use ulib::alloc::{free, malloc};
use ulib::{println, sbrk, stats};

ulib::entry!(main);

const PAGE: u64 = 4096;

fn touch(p: *mut u8, n: usize) {
    let mut off = 0;
    while off < n {
        // SAFETY: p..p+n is a live malloc block.
        unsafe { p.add(off).write_volatile(off as u8) };
        off += PAGE as usize;
    }
    // SAFETY: as above; the last byte too.
    unsafe { p.add(n - 1).write_volatile(1) };
}

fn main(_arg: u64) -> i64 {
    let start = sbrk(0).unwrap_or(0);
    let s0 = stats();
    let mut blocks = [core::ptr::null_mut::<u8>(); 64];
    // 64 blocks of 48 KiB: 3 MiB.
    for b in blocks.iter_mut() {
        *b = malloc(48 << 10);
        if b.is_null() {
            println!("malloc failed");
            return 1;
        }
        touch(*b, 48 << 10);
    }
    // Free every other block, then reuse the holes with smaller blocks.
    for b in blocks.iter_mut().step_by(2) {
        // SAFETY: *b came from malloc and is freed once.
        unsafe { free(*b) };
        *b = core::ptr::null_mut();
    }
    let mut reused = 0;
    for b in blocks.iter_mut().step_by(2) {
        *b = malloc(16 << 10);
        if !b.is_null() {
            touch(*b, 16 << 10);
            reused += 1;
        }
    }
    let end = sbrk(0).unwrap_or(0);
    for b in blocks {
        // SAFETY: each non-null block came from malloc and is freed once.
        unsafe { free(b) };
    }
    let s1 = stats();
    let faults = s1.heap_faults - s0.heap_faults;
    let pages = (end.div_ceil(PAGE) * PAGE - start) / PAGE;
    println!(
        "heap: 64 x 48 KiB, freed half, reused {reused} holes; heap {} KiB; {faults} page faults for {pages} touched pages{}",
        (end - start) >> 10,
        if faults == pages { "" } else { " (MISMATCH)" }
    );
    if faults == pages { 0 } else { 1 }
}
