//! Cutting the region table and the pages under it together: splitting a
//! region at an address (a 2 MiB page there is split into 4 KiB pages
//! first, so no 2 MiB page ever spans two regions) and carving a range out
//! of the regions (its pages unmapped, its 2 MiB wishes forgotten). What
//! munmap, MAP_FIXED, brk and mprotect share; free functions of the root,
//! the region table and the 2 MiB ranges, called by addrspace.rs.

use abi::msg::Region;

use crate::memlayout::{PAGE, Pa, Va};
use crate::mm::frame::HUGE;
use crate::mm::huge::{self, HugeRanges};
use crate::mm::region::Regions;
use crate::mm::{pte, userpages};

/// Split the region that `at` falls strictly inside into two at `at`,
/// splitting a 2 MiB page under `root` that spans `at` (region.rs shares
/// out the faults). False if the table is full or no frame is left for
/// that split.
fn split_at(root: Pa, regions: &mut Regions, at: u64) -> bool {
    let Some(i) = regions.index_of(at) else {
        return true;
    };
    let r = regions.list[i];
    if r.start == at {
        return true;
    }
    if !regions.room(1) || !huge::split(root, at) {
        return false;
    }
    regions.split(i, at, pte::count_mapped(root, at, r.end));
    true
}

/// Split the regions that `cut` picks where `start` and `end` fall
/// strictly inside them. False if the table has no room for both (nothing
/// changed) or no frame is left to split a 2 MiB page.
pub fn split_range(
    root: Pa,
    regions: &mut Regions,
    start: u64,
    end: u64,
    cut: impl Fn(&Region) -> bool,
) -> bool {
    let splits = [start, end]
        .iter()
        .filter(|&&a| regions.cut_at(a, &cut))
        .count();
    if !regions.room(splits) {
        return false;
    }
    for a in [start, end] {
        if regions.cut_at(a, &cut) && !split_at(root, regions, a) {
            return false;
        }
    }
    true
}

/// Remove [start, end) from every region `which` picks, unmapping its
/// pages under `root` (a frame goes back with its last mapping) and
/// dropping the range from the 2 MiB wishes: the number of 4 KiB pages
/// unmapped, or None (nothing changed) if splitting would overflow the
/// table.
pub fn carve(
    root: Pa,
    regions: &mut Regions,
    wishes: &mut HugeRanges,
    start: u64,
    end: u64,
    which: impl Fn(&Region) -> bool,
) -> Option<u64> {
    if !split_range(root, regions, start, end, &which) {
        return None;
    }
    let mut freed = 0;
    while let Some(r) = regions.take_within(start, end, &which) {
        let mut va = r.start;
        while va < r.end {
            if huge::unmap(root, va) {
                freed += huge::PAGES;
                va += HUGE;
                continue;
            }
            freed += u64::from(userpages::unmap(root, Va(va)));
            va += PAGE;
        }
    }
    wishes.forget(start, end);
    // One flush for the lot: under PVM a flush is a CR3 reload.
    if freed > 0 {
        crate::arch::flush_tlb_range(start, end.saturating_sub(start) / PAGE);
    }
    Some(freed)
}
