//! The user half of a process's page tables, given its root pair: the
//! leaf flags for a protection, the entry slot for an address (new
//! top-level entries mirrored into PVM's user PGD), and mapping or
//! unmapping one 4 KiB page. Free functions of the root alone: the address
//! space (addrspace.rs) counts the pages they map; huge.rs, cow.rs and
//! filemap.rs build on them too.

use abi::msg::{PROT_R, PROT_W, PROT_X};

use crate::arch::{self, Mode};
use crate::memlayout::{PAGE, Pa, Va};
use crate::mm::{frame, pte};

/// Leaf flags for a user page with `prot`. PROT_NONE pages are kept
/// not-present (pte::NONE marks that they still own their frame).
pub fn prot_flags(prot: u32) -> u64 {
    if prot & (PROT_R | PROT_W | PROT_X) == 0 {
        return pte::U | pte::NONE;
    }
    let mut f = pte::P | pte::U;
    if prot & PROT_W != 0 {
        f |= pte::W;
    }
    if prot & PROT_X == 0 && crate::arch::has_nx() {
        f |= pte::NX;
    }
    f
}

/// The user PGD of root pair `root` (under PVM the page after it), or 0
/// where there is none (x86: one root for both halves).
pub fn user_pgd(root: Pa) -> u64 {
    if arch::mode() == Mode::Pvm {
        root.get() + PAGE
    } else {
        0
    }
}

/// The entry slot for `va` at `level` (1: PT, 2: PD) under `root`,
/// creating the tables above it; None if frames ran out or a larger page
/// is there.
pub fn slot(root: Pa, va: Va, level: u32) -> Option<(Pa, usize)> {
    let pvm = arch::mode() == Mode::Pvm;
    let mut mirror = |i: usize, e: u64| {
        // pv_kpti: the user PGD shares the user half's top-level entries.
        if pvm {
            pte::write(root.add(PAGE), i, e);
        }
    };
    pte::walk_to(root, va, level, true, pte::P | pte::W | pte::U, &mut mirror)
}

/// The existing 4 KiB entry slot for `va`, if its tables are there (None
/// also for a 2 MiB page).
pub fn find(root: Pa, va: Va) -> Option<(Pa, usize)> {
    pte::walk(root, va, false, 0, &mut |_, _| {})
}

/// Does entry `e` hold a page (present, or PROT_NONE keeping its frame)?
pub fn holds(e: u64) -> bool {
    e & (pte::P | pte::NONE) != 0
}

/// Map `va` -> `pa` with leaf `flags`; false if a page is there already
/// (its frame would leak) or frames ran out for the tables.
pub fn map(root: Pa, va: Va, pa: Pa, flags: u64) -> bool {
    let Some((t, i)) = slot(root, va, 1) else {
        return false;
    };
    if holds(pte::read(t, i)) {
        return false;
    }
    pte::write(t, i, pte::entry(pa, flags));
    true
}

/// Unmap `va` and drop its frame (freed with its last mapping; the
/// caller flushes the TLB); true if a page was mapped there.
pub fn unmap(root: Pa, va: Va) -> bool {
    let Some((t, i)) = find(root, va) else {
        return false;
    };
    let e = pte::read(t, i);
    if !holds(e) {
        return false;
    }
    pte::write(t, i, 0);
    frame::put(pte::addr(e));
    true
}
