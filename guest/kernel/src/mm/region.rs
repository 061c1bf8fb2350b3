//! The region table of an address space: adding (one region per call;
//! the heap and extended mappings join), splitting (fault counts shared
//! out), carving a range out, and changing protection. Regions never overlap;
//! mprotect and MAP_FIXED split them, so one program segment may become
//! several regions (glibc's RELRO turns the start of its data read-only).

use abi::msg::{MAX_REGIONS, REGION_HEAP, REGION_MMAP, Region};

use crate::memlayout::{PAGE, USER_END, Va};
use crate::mm::addrspace::{AddrSpace, prot_flags};
use crate::mm::frame::HUGE;
use crate::mm::{cow, pte};

/// Kinds that join a neighbour of the same protection when the table is
/// full, rather than fail (brk and mmap must not fail for want of a slot).
fn mergeable(kind: u32) -> bool {
    kind == REGION_HEAP || kind == REGION_MMAP
}

impl AddrSpace {
    /// Add [start, end) as the region of a call of its own, of `kind` with
    /// `prot`; it must not overlap another. The heap joins the heap next to
    /// it (each brk extends it). False if malformed or the table is full.
    pub fn add_region(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        self.add(kind, prot, start, end, kind == REGION_HEAP)
    }

    /// As `add_region`, but joining a region of the same kind and
    /// protection that [start, end) extends: a mapping the program asked
    /// for right next to one it has.
    pub fn extend_region(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        self.add(kind, prot, start, end, true)
    }

    fn add(&mut self, kind: u32, prot: u32, start: u64, end: u64, join: bool) -> bool {
        if start >= end
            || end > USER_END
            || !start.is_multiple_of(PAGE)
            || !end.is_multiple_of(PAGE)
        {
            return false;
        }
        let full = self.nregions == MAX_REGIONS;
        if (join || (full && mergeable(kind))) && self.join(kind, prot, start, end) {
            return true;
        }
        if full {
            return false;
        }
        let call = self.next_call;
        self.next_call = call.wrapping_add(1).max(1);
        self.regions[self.nregions] = Region {
            kind,
            prot,
            start,
            end,
            faults: 0,
            call,
            cow_faults: 0,
        };
        self.nregions += 1;
        true
    }

    /// Grow the region of `kind` and `prot` that ends at `start` or begins
    /// at `end` over [start, end), with the one on the other side too when
    /// both touch (the lower one's call and both counts stay). False if
    /// none touches.
    fn join(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        let n = self.nregions;
        let same = |r: &Region| r.kind == kind && r.prot == prot;
        let below = self.regions[..n]
            .iter()
            .position(|r| same(r) && r.end == start);
        let above = self.regions[..n]
            .iter()
            .position(|r| same(r) && r.start == end);
        match (below, above) {
            (Some(i), Some(j)) => {
                self.regions[i].end = self.regions[j].end;
                self.regions[i].faults += self.regions[j].faults;
                self.remove(j);
            }
            (Some(i), None) => self.regions[i].end = end,
            (None, Some(j)) => self.regions[j].start = start,
            (None, None) => return false,
        }
        true
    }

    /// Join neighbouring pieces of one call with the same protection again
    /// (mprotect can make them alike again).
    fn coalesce(&mut self) {
        let mut i = 0;
        while i < self.nregions {
            let a = self.regions[i];
            let next = self.regions[..self.nregions].iter().position(|r| {
                r.kind == a.kind && r.call == a.call && r.prot == a.prot && r.start == a.end
            });
            match next {
                Some(j) => {
                    self.regions[i].end = self.regions[j].end;
                    self.regions[i].faults += self.regions[j].faults;
                    self.remove(j);
                    i = 0;
                }
                None => i += 1,
            }
        }
    }

    /// Drop region `i`, keeping the others in order.
    fn remove(&mut self, i: usize) {
        self.regions.copy_within(i + 1..self.nregions, i);
        self.nregions -= 1;
    }

    /// Split the region that `at` falls strictly inside into two at `at`,
    /// splitting a 2 MiB page that spans `at`. Its faults are shared as
    /// `Region::faults` says: the upper part one per page it has mapped
    /// (at most all), the lower part the rest, so the sum stays. False if
    /// the table is full or no frame is left for that split.
    pub fn split_at(&mut self, at: u64) -> bool {
        let Some(i) = self.index_of(at) else {
            return true;
        };
        if self.regions[i].start == at {
            return true;
        }
        if self.nregions == MAX_REGIONS || !self.split_huge(at) {
            return false;
        }
        let mut hi = self.regions[i];
        hi.start = at;
        hi.faults = pte::count_mapped(self.root, at, hi.end).min(hi.faults);
        self.regions[i].end = at;
        self.regions[i].faults -= hi.faults;
        self.regions.copy_within(i + 1..self.nregions, i + 2);
        self.regions[i + 1] = hi;
        self.nregions += 1;
        true
    }

    /// Do regions other than those `keep` allows overlap [start, end)?
    pub fn overlaps(&self, start: u64, end: u64, keep: impl Fn(&Region) -> bool) -> bool {
        // [a, b) and [c, d) intersect iff a < d && c < b.
        self.regions[..self.nregions]
            .iter()
            .any(|r| !keep(r) && r.start < end && start < r.end)
    }

    /// Remove [start, end) from every region `which` picks, unmapping its
    /// pages (a frame goes back with its last mapping). False (nothing changed) if splitting would
    /// overflow the table.
    pub fn carve(&mut self, start: u64, end: u64, which: impl Fn(&Region) -> bool) -> bool {
        let splits = [start, end]
            .iter()
            .filter(|&&a| self.region_of(a).is_some_and(|r| which(&r) && r.start < a))
            .count();
        if self.nregions + splits > MAX_REGIONS {
            return false;
        }
        for a in [start, end] {
            if self.region_of(a).is_some_and(|r| which(&r)) && !self.split_at(a) {
                return false;
            }
        }
        let mut i = 0;
        let mut any = false;
        while i < self.nregions {
            let r = self.regions[i];
            if which(&r) && start <= r.start && r.end <= end {
                let mut va = r.start;
                while va < r.end {
                    if self.unmap_huge(va) {
                        any = true;
                        va += HUGE;
                        continue;
                    }
                    any |= self.unmap(Va(va));
                    va += PAGE;
                }
                self.remove(i);
            } else {
                i += 1;
            }
        }
        self.forget_huge(start, end);
        // One flush for the lot: under PVM a flush is a CR3 reload.
        if any {
            crate::arch::flush_tlb_range(start, end.saturating_sub(start) / PAGE);
        }
        true
    }

    /// Give every page of [start, end) protection `prot` (a page whose
    /// frame fork shared stays read-only and COW: cow.rs). The range must be
    /// covered by regions `may` allows (else Err(false): ENOMEM-like);
    /// Err(true) if the table is too full to split.
    pub fn protect(
        &mut self,
        start: u64,
        end: u64,
        prot: u32,
        may: impl Fn(&Region) -> bool,
    ) -> Result<(), bool> {
        let mut at = start;
        while at < end {
            match self.region_of(at) {
                Some(r) if may(&r) => at = r.end,
                _ => return Err(false),
            }
        }
        // A region that already has `prot` need not be split.
        let cut = |s: &Self, a: u64| {
            s.region_of(a)
                .is_some_and(|r| r.start < a && r.prot != prot)
        };
        let splits = [start, end].iter().filter(|&&a| cut(self, a)).count();
        if self.nregions + splits > MAX_REGIONS {
            return Err(true);
        }
        for a in [start, end] {
            if cut(self, a) && !self.split_at(a) {
                return Err(true);
            }
        }
        for i in 0..self.nregions {
            if start <= self.regions[i].start && self.regions[i].end <= end {
                self.regions[i].prot = prot;
            }
        }
        self.coalesce();
        let mut va = start;
        while va < end {
            // A 2 MiB page here lies wholly inside the range, or (when not
            // split at `start`/`end`) its region already had `prot`.
            if pte::huge_entry(self.root, Va(va)).is_some() {
                self.protect_huge(va, prot);
                va = (va & !(HUGE - 1)) + HUGE;
                continue;
            }
            if let Some((t, i)) = pte::walk(self.root, Va(va), false, 0, &mut |_, _| {}) {
                let e = pte::read(t, i);
                if e & (pte::P | pte::NONE) != 0 {
                    let flags = cow::private_flags(e, prot_flags(prot));
                    pte::write(t, i, pte::entry(pte::addr(e), flags));
                }
            }
            va += PAGE;
        }
        crate::arch::flush_tlb_range(start, end.saturating_sub(start) / PAGE);
        Ok(())
    }
}
