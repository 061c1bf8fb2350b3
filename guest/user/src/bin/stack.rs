//! Recurse until the stack has grown by about a MiB, one demand-paged page
//! at a time, and compare the stack faults with the pages the stack spans.
#![no_std]
#![no_main]

use abi::syscall::USER_STACK_TOP;
use ulib::{println, stats};

ulib::entry!(main);

#[inline(never)]
fn recurse(depth: u32, max: u32, lowest: &mut u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[depth as usize % 1024] = depth as u8;
    let here = core::hint::black_box(&frame) as *const _ as u64;
    *lowest = (*lowest).min(here);
    let below = if depth < max {
        recurse(depth + 1, max, lowest)
    } else {
        0
    };
    core::hint::black_box(&frame)[0] as u64 + below
}

fn main(_arg: u64) -> i64 {
    let depth = 1000;
    let mut lowest = u64::MAX;
    recurse(0, depth, &mut lowest);
    let s = stats();
    let pages = (USER_STACK_TOP - (lowest & !0xfff)) / 4096;
    println!(
        "stack: recursion depth {depth} (1 KiB frames), stack reaches down to {lowest:#x}; {} stack faults for {pages} pages spanned{}",
        s.stack_faults,
        if s.stack_faults == pages {
            ""
        } else {
            " (MISMATCH)"
        }
    );
    if s.stack_faults == pages { 0 } else { 1 }
}
