//! x86-64 page tables, 4- or 5-level as the CPU runs (`arch::levels`),
//! walked and edited through the kernel window.
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

pub const P: u64 = 1;
pub const W: u64 = 2;
pub const U: u64 = 4;
pub const A: u64 = 1 << 5;
pub const D: u64 = 1 << 6;
pub const PS: u64 = 1 << 7;
pub const NX: u64 = 1 << 63;
/// Software bit (ignored by the CPU): a user page mprotect()ed to
/// PROT_NONE keeps its frame with P clear, so its bytes survive until the
/// program makes it accessible again.
pub const NONE: u64 = 1 << 9;
pub const ADDR: u64 = 0x000f_ffff_ffff_f000;

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
    let top = crate::arch::levels();
    let mut table = root;
    for level in (2..=top).rev() {
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
    Some((table, index(va, 1)))
}

/// The leaf entry mapping `va` (4 KiB pages only), if present.
pub fn lookup(root: Pa, va: Va) -> Option<u64> {
    let (t, i) = walk(root, va, false, 0, &mut |_, _| {})?;
    let e = read(t, i);
    (e & P != 0).then_some(e)
}

/// Free every table and (if `leaves`) every mapped 4 KiB frame below PML4
/// index `top_end`; return how many frames went back.
pub fn free_tree(root: Pa, top_end: usize, leaves: bool) -> u64 {
    fn free_level(table: Pa, level: u32, leaves: bool) -> u64 {
        let mut n = 0;
        for i in 0..512 {
            let e = read(table, i);
            if e & (P | NONE) == 0 {
                continue;
            }
            if level == 1 {
                if leaves && e & (P | NONE) != 0 {
                    crate::mm::frame::free(addr(e));
                    n += 1;
                }
            } else if e & PS == 0 {
                n += free_level(addr(e), level - 1, leaves);
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
