//! Burn CPU for `arg` ms (default 300) and count the gaps in time when we
//! were not running: each is a preemption by the timer.
#![no_std]
#![no_main]

use ulib::{println, rdtsc, tsc_khz};

ulib::entry!(main);

fn main(arg: u64) -> i64 {
    let ms = if arg == 0 { 300 } else { arg };
    let khz = tsc_khz();
    let t0 = rdtsc();
    let (mut last, mut gaps, mut loops) = (t0, 0u64, 0u64);
    // A gap of more than 200 us between two reads means someone else ran.
    let gap = khz / 5;
    while rdtsc() - t0 < ms * khz {
        let now = rdtsc();
        if now - last > gap {
            gaps += 1;
        }
        last = now;
        loops += 1;
    }
    println!("spin: burned {ms} ms ({loops} loops); preempted {gaps} times");
    0
}
