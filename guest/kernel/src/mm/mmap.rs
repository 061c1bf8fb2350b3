//! Where the program break and mappings go, with Linux semantics, decided
//! from the region table alone: brk(0) asks, and a break that cannot move
//! stays; mmap places anonymous private memory top down below the stack,
//! takes a hint when that range is free, and MAP_FIXED replaces whatever
//! the process had there (but never the stack or its guard). addrspace.rs
//! carries the decisions out (brk, mmap, munmap, mprotect).

use abi::msg::{REGION_GUARD, REGION_STACK, Region};
use abi::syscall::{
    EEXIST, EINVAL, ENOMEM, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MMAP_BOTTOM,
    MMAP_TOP,
};

use crate::memlayout::{HEAP_MAX, PAGE, USER_END, page_up};
use crate::mm::region::Regions;

/// Lowest address a program may map at (Linux's default mmap_min_addr).
const MAP_MIN: u64 = 0x1_0000;

/// The stack and its guard belong to the kernel's layout: mappings may not
/// replace them.
pub fn fixed_layout(r: &Region) -> bool {
    r.kind == REGION_STACK || r.kind == REGION_GUARD
}

/// Linux brk(2) asking for `addr` with the heap at `heap_start` and the
/// break at `brk`: the heap's page-aligned end now and after, or None if
/// the break must stay (brk(0), or out of the heap's bounds).
pub fn brk_ends(heap_start: u64, brk: u64, addr: u64) -> Option<(u64, u64)> {
    if addr == 0 || addr < heap_start || addr > heap_start + HEAP_MAX {
        return None;
    }
    Some((page_up(brk)?, page_up(addr)?))
}

/// The page range of madvise or mprotect from `addr` and `len`: its end,
/// None if it is empty, EINVAL if `addr` is not page-aligned, `overflow`
/// if it wraps.
pub fn range(addr: u64, len: u64, overflow: i64) -> Result<Option<u64>, i64> {
    if !addr.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    match page_up(len).and_then(|l| addr.checked_add(l)) {
        None => Err(overflow),
        Some(end) => Ok((end != addr).then_some(end)),
    }
}

/// [addr, addr+len) as a page-aligned user range: its end, or -errno.
pub fn user_range(addr: u64, len: u64) -> Result<u64, i64> {
    if !addr.is_multiple_of(PAGE) || addr < MAP_MIN {
        return Err(EINVAL);
    }
    match addr.checked_add(len) {
        Some(end) if end <= USER_END => Ok(end),
        _ => Err(ENOMEM),
    }
}

/// Where one mmap call's region goes.
pub struct Place {
    pub start: u64,
    pub end: u64,
    /// The program asked for this address (a hint taken, or MAP_FIXED): a
    /// mapping may grow the one of the same protection next to it.
    pub asked: bool,
    /// MAP_FIXED: whatever is mapped there goes first.
    pub replace: bool,
}

/// Place one mmap call of `len` bytes (`addr`, `flags` as the program
/// gave them) among `regions`: where, or -errno.
pub fn place(regions: &Regions, addr: u64, len: u64, flags: u64) -> Result<Place, i64> {
    if flags & (MAP_SHARED | MAP_PRIVATE) == 0 || len == 0 {
        return Err(EINVAL);
    }
    let len = page_up(len).ok_or(ENOMEM)?;
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
        let end = user_range(addr, len)?;
        if regions.overlaps(addr, end, |r| !fixed_layout(r)) {
            return Err(ENOMEM);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && regions.overlaps(addr, end, |_| false) {
            return Err(EEXIST);
        }
        return Ok(Place {
            start: addr,
            end,
            asked: true,
            replace: true,
        });
    }
    // A hint is taken when that range is free, as Linux does.
    if let Ok(end) = user_range(addr, len)
        && end <= MMAP_TOP
        && !regions.overlaps(addr, end, |_| false)
    {
        return Ok(Place {
            start: addr,
            end,
            asked: true,
            replace: false,
        });
    }
    let at = find_free(regions, len).ok_or(ENOMEM)?;
    Ok(Place {
        start: at,
        end: at + len,
        asked: false,
        replace: false,
    })
}

/// The highest free `len` bytes below MMAP_TOP.
fn find_free(regions: &Regions, len: u64) -> Option<u64> {
    let mut top = MMAP_TOP;
    loop {
        let lo = top.checked_sub(len)?;
        if lo < MMAP_BOTTOM {
            return None;
        }
        let below = regions
            .all()
            .iter()
            .filter(|r| r.start < top && lo < r.end)
            .map(|r| r.start)
            .min();
        match below {
            Some(s) => top = s,
            None => return Some(lo),
        }
    }
}
