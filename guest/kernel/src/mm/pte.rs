//! x86-64 page tables, 4- or 5-level as the CPU runs (`arch::levels`),
//! walked and edited through the kernel window; leaves map 4 KiB, or 2 MiB
//! in PD entries with PS set (user huge pages, the kernel window).
//!
//! A virtual address, 4-level:
//! ```text
//!  63    48 47    39 38    30 29    21 20    12 11        0
//! | sign   | PML4   | PDPT   | PD     | PT     | offset    |
//! ```
//! 5-level (CR4.LA57, set by the VMM or the PVH entry when the vCPU has it):
//! ```text
//!  63    57 56    48 47    39 38    30 29    21 20    12 11        0
//! | sign   | PML5   | PML4   | PDPT   | PD     | PT     | offset    |
//! ```
//! Entries are written with plain integer stores: under shadow paging the
//! host write-protects live tables and emulates each store, and its emulator
//! has no SSE.

use crate::memlayout::{Pa, Va, p2v};

// The hardware bits, by the kernel's names; defined once in abi::pte,
// which the VMM's walker uses too.
pub const P: u64 = abi::pte::P;
pub const W: u64 = abi::pte::RW;
pub const U: u64 = abi::pte::US;
pub const A: u64 = abi::pte::A;
pub const D: u64 = abi::pte::D;
pub const PS: u64 = abi::pte::PS;
pub const NX: u64 = abi::pte::NX;
/// Software bit (ignored by the CPU): a user page mprotect()ed to
/// PROT_NONE keeps its frame with P clear, so its bytes survive until the
/// program makes it accessible again.
pub const NONE: u64 = 1 << 9;
/// Software bit (ignored by the CPU, and by the VMM's walker, which reads
/// only hardware bits): a private page whose frame fork shared, kept
/// read-only so the first write faults and gets a copy of its own (or takes
/// the frame back, if no other mapping is left). See cow.rs. Set with P
/// (read-only) or NONE; never on a 2 MiB page (fork splits those).
pub const COW: u64 = 1 << 10;
/// Software bit: a page of a MAP_SHARED mapping (a file's, or anonymous):
/// its frame is meant to be shared, so fork shares it writable as it is
/// (no COW) and mprotect gives it exactly the protection asked.
pub const SHARED: u64 = 1 << 11;
pub const ADDR: u64 = abi::pte::ADDR;
/// Frame address in a PD entry with PS set (a 2 MiB page): bit 12 is PAT there.
pub const HUGE_ADDR: u64 = abi::pte::ADDR_2M;

pub fn index(va: Va, level: u32) -> usize {
    ((va.get() >> (12 + 9 * (level - 1))) & 511) as usize
}

/// The frame or table entry `e` points at.
pub fn addr(e: u64) -> Pa {
    Pa(e & ADDR)
}

/// An entry pointing at `pa` with `flags`.
pub fn entry(pa: Pa, flags: u64) -> u64 {
    pa.get() | flags
}

pub fn read(table: Pa, i: usize) -> u64 {
    // SAFETY: table is a page-table frame we own; i < 512.
    unsafe { core::ptr::read_volatile(p2v::<u64>(table).add(i)) }
}

pub fn write(table: Pa, i: usize, v: u64) {
    // SAFETY: as in read.
    unsafe { core::ptr::write_volatile(p2v::<u64>(table).add(i), v) }
}

/// Return the physical address of the PT entry for `va` under `root`
/// (4- or 5-level, as the CPU runs). If `alloc`, create missing tables with `mid` flags; the
/// callback hears of every PML4 entry created (pv_kpti mirrors it).
pub fn walk(
    root: Pa,
    va: Va,
    alloc: bool,
    mid: u64,
    on_new_top: &mut dyn FnMut(usize, u64),
) -> Option<(Pa, usize)> {
    walk_to(root, va, 1, alloc, mid, on_new_top)
}

/// As `walk`, but stop at `level` (2: the PD entry, which maps a 2 MiB
/// page when PS is set) and return that entry's table and index. None if
/// a page larger than that level's maps `va` on the way.
pub fn walk_to(
    root: Pa,
    va: Va,
    level: u32,
    alloc: bool,
    mid: u64,
    on_new_top: &mut dyn FnMut(usize, u64),
) -> Option<(Pa, usize)> {
    let top = crate::arch::levels();
    let stop = level;
    let mut table = root;
    for level in (stop + 1..=top).rev() {
        let i = index(va, level);
        let e = read(table, i);
        if e & P == 0 {
            if !alloc {
                return None;
            }
            let pa = crate::mm::frame::alloc()?;
            write(table, i, entry(pa, mid));
            if level == top {
                on_new_top(i, entry(pa, mid));
            }
            table = pa;
        } else {
            if e & PS != 0 {
                return None;
            }
            table = addr(e);
        }
    }
    Some((table, index(va, stop)))
}

/// The 2 MiB page entry mapping `va` (P or NONE set), with its table and
/// index.
pub fn huge_entry(root: Pa, va: Va) -> Option<(Pa, usize, u64)> {
    let (t, i) = walk_to(root, va, 2, false, 0, &mut |_, _| {})?;
    let e = read(t, i);
    (e & PS != 0 && e & (P | NONE) != 0).then_some((t, i, e))
}

/// The 2 MiB frame a PD entry with PS points at.
pub fn huge_addr(e: u64) -> Pa {
    Pa(e & HUGE_ADDR)
}

/// The leaf entry mapping `va`, if present. For a 2 MiB page, the entry a
/// 4 KiB page at `va` would have: its frame is the 4 KiB part of the big
/// one that holds `va`, so callers add only `va`'s offset in the page.
pub fn lookup(root: Pa, va: Va) -> Option<u64> {
    if let Some((_, _, e)) = huge_entry(root, va) {
        let frame = huge_addr(e).add(va.get() & (crate::mm::frame::HUGE - 1) & ADDR);
        return (e & P != 0).then_some(entry(frame, e & !HUGE_ADDR & !PS & !(1 << 12)));
    }
    let (t, i) = walk(root, va, false, 0, &mut |_, _| {})?;
    let e = read(t, i);
    (e & P != 0).then_some(e)
}

/// Free every table and (if `leaves`) drop every mapping of a 4 KiB frame
/// (`frame::put`: a frame fork shared goes back with its last mapping) and
/// free every 2 MiB page (never shared) below PML4 index `top_end`; return
/// how many frames went back.
pub fn free_tree(root: Pa, top_end: usize, leaves: bool) -> u64 {
    fn free_level(table: Pa, level: u32, leaves: bool) -> u64 {
        let mut n = 0;
        for i in 0..512 {
            let e = read(table, i);
            if e & (P | NONE) == 0 {
                continue;
            }
            if level == 1 {
                if leaves && crate::mm::frame::put(addr(e)) {
                    n += 1;
                }
            } else if e & PS == 0 {
                n += free_level(addr(e), level - 1, leaves);
            } else if leaves {
                // A 2 MiB user page goes back whole.
                crate::mm::frame::free_huge(huge_addr(e));
                n += crate::mm::frame::HUGE / crate::memlayout::PAGE;
            }
        }
        crate::mm::frame::free(table);
        n + 1
    }
    let mut n = 0;
    for i in 0..top_end {
        let e = read(root, i);
        if e & P != 0 {
            n += free_level(addr(e), crate::arch::levels() - 1, leaves);
            write(root, i, 0);
        }
    }
    n
}

/// Leaf pages mapped (P, or NONE for PROT_NONE) under `root` that overlap
/// [lo, hi): each 4 KiB page and each 2 MiB page counts one, as each took
/// one fault. Absent tables are skipped, so a sparse range costs little.
pub fn count_mapped(root: Pa, lo: u64, hi: u64) -> u64 {
    fn count(table: Pa, level: u32, base: u64, lo: u64, hi: u64) -> u64 {
        let span = 1u64 << (12 + 9 * (level - 1));
        let mut n = 0;
        for i in 0..512u64 {
            let s = base + i * span;
            if s + span <= lo || s >= hi {
                continue;
            }
            let e = read(table, i as usize);
            if e & (P | NONE) == 0 {
                continue;
            }
            n += if level == 1 || e & PS != 0 {
                1
            } else {
                count(addr(e), level - 1, s, lo, hi)
            };
        }
        n
    }
    count(root, crate::arch::levels(), 0, lo, hi)
}
