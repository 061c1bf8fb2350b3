//! How fast is the software page-table walker? Builds one synthetic 4-level
//! address space (1 GiB of 4K pages and 512 GiB of 2M pages, 262144 of each)
//! and times, in the same run:
//!
//! - baseline: one `read_u64` of the page's leaf entry per address, through
//!   the same memory reader and in the same random order. This is the one
//!   reference a walk cannot avoid (the leaf), so walk/baseline says what
//!   the other levels, checks and bookkeeping cost on top of it.
//! - HashMap: looking each page up in a `HashMap<page GVA, page GPA>` (std
//!   SipHash), i.e. what a translation costs when it is only a lookup.
//! - walk: `walk()` of every mapped page, in random order.
//! - mapped_pages: enumerating the whole space once.
//!
//! Each is run 5 times and the fastest kept. Two readers are measured:
//! `FlatMem` (a Vec) and `GuestMemoryMmap` (what the VMM reads guest RAM
//! through). Run: `cargo run --release --example walk_bench`.

use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use microvmm::addr::{Gpa, Gva};
use microvmm::paging::{
    FlatMem, PageSize, PagingMode, PhysMem, PteFlags, TableBuilder, mapped_pages, mapped_ranges,
    walk,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const PAGES: u64 = 262_144;
const RAM: u64 = (1 << 30) + (64 << 20);
/// Leaf frames start here; page tables live below, from 1 MiB.
const DATA: u64 = 64 << 20;
const BASE_4K: u64 = 0x4000_0000;
const BASE_2M: u64 = 0x80_0000_0000;
const ROUNDS: usize = 5;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mode = PagingMode::four_level();
    let (flat, cr3, used) = build(mode)?;
    let gm = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), RAM as usize)])?;
    for gpa in (used.start.raw()..used.end.raw()).step_by(8) {
        let v = flat.read_u64(Gpa(gpa)).ok_or("table copy out of RAM")?;
        gm.write_obj(v.to_le(), GuestAddress(gpa))?;
    }
    println!(
        "walk_bench: {PAGES} 4K pages (1 GiB) and {PAGES} 2M pages (512 GiB), 4-level, \
         {} KiB of tables; best of {ROUNDS}",
        (used.end.raw() - used.start.raw()) >> 10
    );
    println!(
        "{:<8} {:<4} {:<30} {:>12} {:>8} {:>9} {:>9}",
        "reader", "page", "operation", "per second", "ns/op", "vs read", "vs hash"
    );
    for size in [PageSize::Size4K, PageSize::Size2M] {
        bench("FlatMem", &flat, cr3, mode, size)?;
        bench("mmap", &gm, cr3, mode, size)?;
    }
    let runs = mapped_ranges(&flat, cr3, mode, Gva(0)..Gva(u64::MAX), u64::MAX);
    println!(
        "mapped_ranges: {} runs ({} faults) for {} pages",
        runs.ranges.len(),
        runs.faults.len(),
        runs.ranges.iter().map(|r| r.pages).sum::<u64>()
    );
    Ok(())
}

/// Map both halves of the benchmark space into a fresh FlatMem.
fn build(mode: PagingMode) -> Result<(FlatMem, u64, Range<Gpa>), Error> {
    let mem = FlatMem::new(Gpa(0), RAM);
    let mut b = TableBuilder::new(mem, mode, Gpa(1 << 20)..Gpa(DATA))?;
    let flags = PteFlags::RW.union(PteFlags::US).union(PteFlags::A);
    for i in 0..PAGES {
        b.map(
            Gva(BASE_4K + (i << 12)),
            Gpa(DATA + (i << 12)),
            PageSize::Size4K,
            flags,
        )?;
        // 2M frames wrap around the 1 GiB of data: aliasing is legal.
        let frame = DATA + ((i % 512) << 21);
        b.map(
            Gva(BASE_2M + (i << 21)),
            Gpa(frame),
            PageSize::Size2M,
            flags,
        )?;
    }
    let (cr3, used) = (b.cr3(), b.tables_used());
    Ok((b.into_mem(), cr3, used))
}

fn bench<M: PhysMem>(
    name: &str,
    mem: &M,
    cr3: u64,
    mode: PagingMode,
    size: PageSize,
) -> Result<(), Error> {
    let base = if size == PageSize::Size4K {
        BASE_4K
    } else {
        BASE_2M
    };
    let mut gvas: Vec<Gva> = (0..PAGES)
        .map(|i| Gva(base + i * size.bytes() + 0x123))
        .collect();
    shuffle(&mut gvas);
    // Untimed: the leaf entry of every address, and a check that all map.
    let mut leaves = Vec::with_capacity(gvas.len());
    let mut pages = Vec::with_capacity(gvas.len());
    for &gva in &gvas {
        let t = walk(mem, cr3, mode, gva)?;
        let leaf = t.levels().last().ok_or("empty walk")?;
        leaves.push(leaf.entry_gpa);
        pages.push(t.page_gpa());
    }

    let read = best(|| {
        let mut acc = 0u64;
        for &gpa in &leaves {
            acc ^= mem.read_u64(black_box(gpa)).unwrap_or(0);
        }
        black_box(acc);
    });
    let map: HashMap<u64, u64> = gvas
        .iter()
        .zip(&pages)
        .map(|(gva, gpa)| (gva.raw() & !(size.bytes() - 1), gpa.raw()))
        .collect();
    let mask = !(size.bytes() - 1);
    let hashed = best(|| {
        let mut acc = 0u64;
        for &gva in &gvas {
            acc ^= map
                .get(&(black_box(gva).raw() & mask))
                .copied()
                .unwrap_or(0);
        }
        black_box(acc);
    });
    let walked = best(|| {
        let mut acc = 0u64;
        for &gva in &gvas {
            if let Ok(t) = walk(mem, cr3, mode, black_box(gva)) {
                acc ^= t.gpa.raw();
            }
        }
        black_box(acc);
    });
    let range = Gva(base)..Gva(base + PAGES * size.bytes());
    let mut listed = 0u64;
    let listing = best(|| {
        listed = 0;
        for p in mapped_pages(mem, cr3, mode, range.clone(), u64::MAX).flatten() {
            black_box(p);
            listed += 1;
        }
    });
    if listed != PAGES {
        return Err(format!("mapped_pages listed {listed} pages, mapped {PAGES}").into());
    }
    let per = |d: Duration| d.as_nanos() as f64 / PAGES as f64;
    let row = |op: &str, d: Duration| {
        println!(
            "{name:<8} {size:<4} {op:<30} {:>12.0} {:>8.1} {:>8.2}x {:>8.2}x",
            1e9 / per(d),
            per(d),
            per(d) / per(read),
            per(d) / per(hashed)
        );
    };
    row("baseline: leaf-entry read", read);
    row("baseline: HashMap lookup", hashed);
    row("walk (random order)", walked);
    row("mapped_pages (whole space)", listing);
    Ok(())
}

/// The fastest of ROUNDS runs of `f`.
fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Fisher-Yates with xorshift64*, fixed seed: the same order every run.
fn shuffle<T>(v: &mut [T]) {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..v.len()).rev() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}
