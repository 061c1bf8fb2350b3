//! 2 MiB pages for user memory. A heap or mmap area gets them where a
//! program asked (`madvise(MADV_HUGEPAGE)`) or, with the boot-time
//! `--guest-pages 2m`, everywhere; a fault in an aligned 2 MiB block that
//! lies wholly inside its region (and below the break, for the heap) maps
//! one zeroed 2 MiB frame with a PD entry (PS set; U set as PVM needs on
//! every level): one fault per 2 MiB. munmap of a whole 2 MiB page frees it
//! whole; cutting one (munmap, mprotect or brk across it) first splits it
//! into 512 4 KiB pages, so no 2 MiB page ever spans two regions. fork
//! splits every 2 MiB page of the parent too (cow.rs): only 4 KiB pages
//! are ever shared.
//!
//! The ranges a program asked for are `HugeRanges`; the rest are free
//! functions of the page-table root, which addrspace.rs calls (and keeps
//! the count of resident pages for).

use core::sync::atomic::{AtomicBool, Ordering};

use abi::msg::{REGION_HEAP, REGION_MMAP, Region};
use abi::syscall::{EINVAL, ENOMEM, MADV_HUGEPAGE, MADV_NOHUGEPAGE};

use crate::memlayout::{PAGE, Pa, Va, page_up};
use crate::mm::frame::{self, HUGE};
use crate::mm::pte;
use crate::mm::userpages::{self, prot_flags};

/// Ranges per address space that asked for 2 MiB pages.
pub const MAX_HUGE_RANGES: usize = 16;

/// `--guest-pages 2m`: every heap and mmap area gets 2 MiB pages.
static EVERYWHERE: AtomicBool = AtomicBool::new(false);

/// Set at boot from BootInfo.
pub fn set_everywhere(on: bool) {
    EVERYWHERE.store(on, Ordering::Relaxed);
}

pub fn everywhere() -> bool {
    EVERYWHERE.load(Ordering::Relaxed)
}

fn down(a: u64) -> u64 {
    a & !(HUGE - 1)
}

/// 4 KiB pages in one 2 MiB page: what mapping or freeing one changes the
/// resident count by.
pub const PAGES: u64 = HUGE / PAGE;

/// The aligned ranges of one address space that asked for 2 MiB pages
/// (madvise).
#[derive(Clone, Copy)]
pub struct HugeRanges {
    list: [(u64, u64); MAX_HUGE_RANGES],
    n: usize,
}

impl Default for HugeRanges {
    fn default() -> HugeRanges {
        HugeRanges {
            list: [(0, 0); MAX_HUGE_RANGES],
            n: 0,
        }
    }
}

impl HugeRanges {
    /// madvise(2) over [addr, end) (page-aligned, not empty, all the
    /// process's): 0 or -errno. MADV_HUGEPAGE/NOHUGEPAGE change which
    /// aligned 2 MiB blocks get 2 MiB pages at their next fault (pages
    /// already mapped stay as they are, as in Linux); the pure hints
    /// (normal, random, sequential, willneed) are accepted and change
    /// nothing; advice that would change contents (dontneed, free, ...) is
    /// EINVAL rather than silently ignored.
    pub fn advise(&mut self, addr: u64, end: u64, advice: u64) -> i64 {
        match advice {
            0..=3 => 0,
            MADV_HUGEPAGE => {
                let (s, e) = (
                    addr.checked_next_multiple_of(HUGE).unwrap_or(end),
                    down(end),
                );
                if s >= e {
                    return 0;
                }
                self.forget(s, e);
                if self.n == MAX_HUGE_RANGES {
                    return ENOMEM;
                }
                self.list[self.n] = (s, e);
                self.n += 1;
                0
            }
            MADV_NOHUGEPAGE => {
                self.forget(addr, end);
                0
            }
            _ => EINVAL,
        }
    }

    /// Drop [start, end) from the ranges that want 2 MiB pages (a range
    /// cut in the middle becomes two; with no slot for the second, the
    /// upper part is forgotten too: it then gets 4 KiB pages, never wrong).
    pub fn forget(&mut self, start: u64, end: u64) {
        let mut i = 0;
        while i < self.n {
            let (s, e) = self.list[i];
            // [s, e) and [start, end) intersect iff s < end && start < e.
            if !(s < end && start < e) {
                i += 1;
                continue;
            }
            let lo = (s, start.min(e));
            let hi = (end.max(s), e);
            let mut keep = [lo, hi].into_iter().filter(|(a, b)| a < b);
            match keep.next() {
                Some(r) => {
                    self.list[i] = r;
                    if let Some(r2) = keep.next()
                        && self.n < MAX_HUGE_RANGES
                    {
                        self.list[self.n] = r2;
                        self.n += 1;
                    }
                    i += 1;
                }
                None => {
                    self.list.copy_within(i + 1..self.n, i);
                    self.n -= 1;
                }
            }
        }
    }

    /// Does the 2 MiB block at `block` of region `r` get a 2 MiB page,
    /// with the break at `brk`?
    fn want(&self, block: u64, r: &Region, brk: u64) -> bool {
        let inside = r.start <= block && block + HUGE <= r.end;
        let below_brk = r.kind != REGION_HEAP || page_up(brk).is_some_and(|b| block + HUGE <= b);
        let kind = r.kind == REGION_HEAP || r.kind == REGION_MMAP;
        let asked = everywhere()
            || self.list[..self.n]
                .iter()
                .any(|&(s, e)| s <= block && block + HUGE <= e);
        inside && below_brk && kind && asked
    }
}

/// Serve a not-present fault at `addr` in region `r` (break at `brk`)
/// with a 2 MiB page under `root` if that block wants one (`ranges`) and
/// nothing is mapped in it yet; the caller counts its PAGES. False: use a
/// 4 KiB page (not wanted, a page table already there, or no free 2 MiB
/// run).
pub fn fault(root: Pa, ranges: &HugeRanges, addr: u64, r: &Region, brk: u64) -> bool {
    let block = down(addr);
    if !ranges.want(block, r, brk) {
        return false;
    }
    let Some((t, i)) = userpages::slot(root, Va(block), 2) else {
        return false;
    };
    let e = pte::read(t, i);
    if userpages::holds(e) {
        // A page table left empty by an earlier munmap (tables are kept
        // when their pages go) gives way; one with pages does not.
        let pt = pte::addr(e);
        if e & pte::PS != 0 || (0..512).any(|j| userpages::holds(pte::read(pt, j))) {
            return false;
        }
        pte::write(t, i, 0);
        // The paging-structure caches may still hold the old PD entry.
        crate::arch::flush_tlb_all();
        frame::free(pt);
    }
    let Some(pa) = frame::alloc_huge() else {
        return false;
    };
    pte::write(t, i, pte::entry(pa, prot_flags(r.prot) | pte::PS));
    true
}

/// If `va` lies in a 2 MiB page under `root` but not at its start, split
/// that page into 512 4 KiB pages with the same frames and flags (the
/// caller is about to cut a region there). False if no frame is left for
/// the page table.
pub fn split(root: Pa, va: u64) -> bool {
    if va == down(va) {
        return true;
    }
    let Some((t, i, e)) = pte::huge_entry(root, Va(va)) else {
        return true;
    };
    if !split_entry(t, i, e) {
        return false;
    }
    crate::arch::flush_tlb_all();
    true
}

/// Unmap the 2 MiB page starting at `va` under `root` and free it whole
/// (2 MiB pages are never shared: fork splits them first) (the caller
/// flushes the TLB and counts its PAGES); false if no 2 MiB page starts
/// there.
pub fn unmap(root: Pa, va: u64) -> bool {
    if va != down(va) {
        return false;
    }
    let Some((t, i, e)) = pte::huge_entry(root, Va(va)) else {
        return false;
    };
    pte::write(t, i, 0);
    frame::free_huge(pte::huge_addr(e));
    true
}

/// Give the 2 MiB page starting at `va` under `root` protection `prot`;
/// false if no 2 MiB page starts there.
pub fn protect(root: Pa, va: u64, prot: u32) -> bool {
    if va != down(va) {
        return false;
    }
    let Some((t, i, e)) = pte::huge_entry(root, Va(va)) else {
        return false;
    };
    pte::write(
        t,
        i,
        pte::entry(pte::huge_addr(e), prot_flags(prot) | pte::PS),
    );
    true
}

/// Replace the 2 MiB page entry `e` at index `i` of PD `t` with a page
/// table of 512 4 KiB pages with the same frames and flags (the caller
/// flushes the TLB). The frames keep the count of 1 each that
/// `frame::alloc_huge` gave them, so they are shared and put back page by
/// page from now on. False if no frame is left for the page table.
pub fn split_entry(t: Pa, i: usize, e: u64) -> bool {
    let Some(pt) = frame::alloc() else {
        return false;
    };
    // PS is bit 7 in a PD entry and PAT in a PT entry; bit 12 is PAT
    // in a PD entry and part of the address in a PT entry.
    let flags = e & !pte::HUGE_ADDR & !pte::PS & !(1 << 12);
    for j in 0..512u64 {
        pte::write(
            pt,
            j as usize,
            pte::entry(pte::huge_addr(e).add(j * PAGE), flags),
        );
    }
    pte::write(t, i, pte::entry(pt, pte::P | pte::W | pte::U));
    true
}
