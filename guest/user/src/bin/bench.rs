//! Costs seen from user mode, in TSC cycles and microseconds: a null system
//! call, a demand-paged heap fault, and a yield (a process switch when
//! another process is runnable).
#![no_std]
#![no_main]

use ulib::{getpid, println, rdtsc, sbrk, stats, yield_now};

ulib::entry!(main);

fn report(what: &str, cycles: u64, n: u64, khz: u64) {
    let per = cycles / n;
    println!(
        "bench: {what}: {per} cycles = {}.{:03} us (mean of {n})",
        per * 1000 / khz / 1000,
        per * 1000 / khz % 1000
    );
}

fn main(_arg: u64) -> i64 {
    let khz = stats().tsc_khz.max(1);
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

    let n = 2_000;
    let t = rdtsc();
    for _ in 0..n {
        yield_now();
    }
    report(
        "yield (switches when another process is runnable)",
        rdtsc() - t,
        n,
        khz,
    );
    0
}
