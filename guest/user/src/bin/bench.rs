//! Costs seen from user mode, in TSC cycles and microseconds. `bench` alone:
//! a null system call and a demand-paged heap fault. `bench:1 bench:1`: a
//! process switch (two processes yielding to each other). Timer ticks
//! (250 Hz, ≈30 us each) fall into every measurement; they add under 1 %.
//! `bench:2`: the exit round trip (the kernel's `out` to the VMM's null
//! port, back to back), what `scripts/bench.sh` compares with its floor.
#![no_std]
#![no_main]

use ulib::{exitloop, getpid, println, rdtsc, sbrk, tsc_khz, yield_now};

ulib::entry!(main);

fn report(what: &str, cycles: u64, n: u64, khz: u64) {
    let per = cycles / n;
    let ns = per * 1_000_000 / khz;
    println!(
        "bench: {what}: {per} cycles = {}.{:03} us (mean of {n})",
        ns / 1000,
        ns % 1000
    );
}

fn main(arg: u64) -> i64 {
    let khz = tsc_khz();
    if arg == 2 {
        let n = 1_000;
        let Some(cycles) = exitloop(n) else {
            println!("bench: the kernel refused the exit loop");
            return 1;
        };
        report(
            "port exit round trip (kernel out to a null port)",
            cycles,
            n,
            khz,
        );
        return 0;
    }
    if arg == 1 {
        // Run as two processes ("bench:1 bench:1"): each yield hands the CPU
        // to the other, so one round of this loop is two process switches.
        // sched_yield says 0 whether or not another process ran (Linux):
        // a yield that switched took at least two switches and the other
        // process's own yield, so it takes far longer than a null call.
        // The fastest of a few null calls: a timer tick inflates any mean.
        let null = (0..50)
            .map(|_| {
                let t = rdtsc();
                core::hint::black_box(getpid());
                rdtsc() - t
            })
            .min()
            .unwrap_or(0);
        let n = 2_000;
        let mut switched = 0;
        let mut cycles = 0;
        for _ in 0..n {
            let t = rdtsc();
            yield_now();
            let c = rdtsc() - t;
            if c > 2 * null {
                switched += 1;
                cycles += c;
            }
        }
        // The timer switches them too, so the partner may finish a few
        // yields early; those last yields switch to no one. Count the two
        // switches of each yield that did switch.
        if switched < n / 2 {
            println!(
                "bench: only {switched} of {n} yields switched: run it as two processes, bench:1 bench:1"
            );
            return 1;
        }
        report(
            "process switch (yield to the other process)",
            cycles,
            2 * switched,
            khz,
        );
        return 0;
    }
    // Run alone ("bench"), so no other process's time is counted.
    let n = 20_000;
    let t = rdtsc();
    for _ in 0..n {
        core::hint::black_box(getpid());
    }
    report("null syscall (getpid)", rdtsc() - t, n, khz);

    let pages = 512u64;
    let Some(base) = sbrk((pages * 4096) as i64) else {
        return 1;
    };
    let t = rdtsc();
    for i in 0..pages {
        // SAFETY: inside the heap just grown by sbrk.
        unsafe { ((base + i * 4096) as *mut u8).write_volatile(1) };
    }
    report("demand-paged heap fault", rdtsc() - t, pages, khz);
    0
}
