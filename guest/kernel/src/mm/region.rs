//! The region table of an address space, on its own (no page tables):
//! adding (one region per call; the heap and extended mappings join),
//! splitting (fault counts shared out), dropping, changing protection and
//! joining again. Regions never overlap; mprotect and MAP_FIXED split them,
//! so one program segment may become several regions (glibc's RELRO turns
//! the start of its data read-only). addrspace.rs does the page-table half
//! of each change.

use abi::msg::{MAX_REGIONS, REGION_HEAP, REGION_MMAP, Region};

use crate::memlayout::{PAGE, USER_END};

/// The regions of one address space, in the order they were made.
#[derive(Clone, Copy)]
pub struct Regions {
    /// `list[..n]` are in use.
    pub list: [Region; MAX_REGIONS],
    pub n: usize,
    /// The number the next region-making call gets (`Region::call`).
    next_call: u32,
}

/// Kinds that join a neighbour of the same protection when the table is
/// full, rather than fail (brk and mmap must not fail for want of a slot).
fn mergeable(kind: u32) -> bool {
    kind == REGION_HEAP || kind == REGION_MMAP
}

impl Default for Regions {
    fn default() -> Regions {
        Regions {
            list: [Region::default(); MAX_REGIONS],
            n: 0,
            next_call: 1,
        }
    }
}

impl Regions {
    /// The same regions with their fault counts at 0 (a forked child's).
    pub fn forked(&self) -> Regions {
        let mut c = *self;
        for r in &mut c.list {
            r.faults = 0;
            r.cow_faults = 0;
        }
        c
    }

    /// The regions in use.
    pub fn all(&self) -> &[Region] {
        &self.list[..self.n]
    }

    /// Index of the region holding `va`, if any.
    pub fn index_of(&self, va: u64) -> Option<usize> {
        self.all().iter().position(|r| r.start <= va && va < r.end)
    }

    /// The region holding `va`, if any.
    pub fn of(&self, va: u64) -> Option<Region> {
        self.index_of(va).map(|i| self.list[i])
    }

    /// Is every byte of [start, end) in some region that `may` allows?
    /// Regions may follow one another (data, then bss).
    pub fn covers(&self, start: u64, end: u64, may: impl Fn(&Region) -> bool) -> bool {
        let mut at = start;
        while at < end {
            match self.of(at) {
                Some(r) if may(&r) => at = r.end,
                _ => return false,
            }
        }
        true
    }

    /// Do regions other than those `keep` allows overlap [start, end)?
    pub fn overlaps(&self, start: u64, end: u64, keep: impl Fn(&Region) -> bool) -> bool {
        // [a, b) and [c, d) intersect iff a < d && c < b.
        self.all()
            .iter()
            .any(|r| !keep(r) && r.start < end && start < r.end)
    }

    /// Does `at` fall strictly inside a region that `cut` picks (so that
    /// cutting there splits it)?
    pub fn cut_at(&self, at: u64, cut: impl Fn(&Region) -> bool) -> bool {
        self.of(at).is_some_and(|r| cut(&r) && r.start < at)
    }

    /// Is there room for `more` regions?
    pub fn room(&self, more: usize) -> bool {
        self.n + more <= MAX_REGIONS
    }

    /// Add [start, end) as the region of a call of its own, of `kind` with
    /// `prot`; it must not overlap another. The heap joins the heap next to
    /// it (each brk extends it). False if malformed or the table is full.
    pub fn add(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        self.insert(kind, prot, start, end, kind == REGION_HEAP)
    }

    /// As `add`, but joining a region of the same kind and protection
    /// that [start, end) extends: a mapping the program asked for right
    /// next to one it has.
    pub fn extend(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        self.insert(kind, prot, start, end, true)
    }

    fn insert(&mut self, kind: u32, prot: u32, start: u64, end: u64, join: bool) -> bool {
        if start >= end
            || end > USER_END
            || !start.is_multiple_of(PAGE)
            || !end.is_multiple_of(PAGE)
        {
            return false;
        }
        let full = self.n == MAX_REGIONS;
        if (join || (full && mergeable(kind))) && self.join(kind, prot, start, end) {
            return true;
        }
        if full {
            return false;
        }
        let call = self.next_call;
        self.next_call = call.wrapping_add(1).max(1);
        self.list[self.n] = Region {
            kind,
            prot,
            start,
            end,
            faults: 0,
            call,
            cow_faults: 0,
        };
        self.n += 1;
        true
    }

    /// Grow the region of `kind` and `prot` that ends at `start` or begins
    /// at `end` over [start, end), with the one on the other side too when
    /// both touch (the lower one's call and both counts stay). False if
    /// none touches.
    fn join(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        let same = |r: &Region| r.kind == kind && r.prot == prot;
        let below = self.all().iter().position(|r| same(r) && r.end == start);
        let above = self.all().iter().position(|r| same(r) && r.start == end);
        match (below, above) {
            (Some(i), Some(j)) => {
                self.list[i].end = self.list[j].end;
                self.list[i].faults += self.list[j].faults;
                self.remove(j);
            }
            (Some(i), None) => self.list[i].end = end,
            (None, Some(j)) => self.list[j].start = start,
            (None, None) => return false,
        }
        true
    }

    /// Split region `i` in two at `at` (strictly inside it; the caller has
    /// checked `room(1)`). Its faults are shared as `Region::faults` says:
    /// the upper part one per page it has mapped (`mapped`, at most all),
    /// the lower part the rest, so the sum stays.
    pub fn split(&mut self, i: usize, at: u64, mapped: u64) {
        let mut hi = self.list[i];
        hi.start = at;
        hi.faults = mapped.min(hi.faults);
        self.list[i].end = at;
        self.list[i].faults -= hi.faults;
        self.list.copy_within(i + 1..self.n, i + 2);
        self.list[i + 1] = hi;
        self.n += 1;
    }

    /// Take out the first region (in table order) that `which` picks and
    /// that lies wholly inside [start, end).
    pub fn take_within(
        &mut self,
        start: u64,
        end: u64,
        which: impl Fn(&Region) -> bool,
    ) -> Option<Region> {
        let i = self
            .all()
            .iter()
            .position(|r| which(r) && start <= r.start && r.end <= end)?;
        let r = self.list[i];
        self.remove(i);
        Some(r)
    }

    /// Give the regions wholly inside [start, end) protection `prot`, then
    /// join neighbouring pieces of one call that are alike again.
    pub fn set_prot(&mut self, start: u64, end: u64, prot: u32) {
        for r in &mut self.list[..self.n] {
            if start <= r.start && r.end <= end {
                r.prot = prot;
            }
        }
        self.coalesce();
    }

    /// Join neighbouring pieces of one call with the same protection again
    /// (mprotect can make them alike again).
    fn coalesce(&mut self) {
        let mut i = 0;
        while i < self.n {
            let a = self.list[i];
            let next = self.all().iter().position(|r| {
                r.kind == a.kind && r.call == a.call && r.prot == a.prot && r.start == a.end
            });
            match next {
                Some(j) => {
                    self.list[i].end = self.list[j].end;
                    self.list[i].faults += self.list[j].faults;
                    self.remove(j);
                    i = 0;
                }
                None => i += 1,
            }
        }
    }

    /// Drop region `i`, keeping the others in order.
    fn remove(&mut self, i: usize) {
        self.list.copy_within(i + 1..self.n, i);
        self.n -= 1;
    }

    /// Count a fault served in region `i`: demand paging, or (`cow`) a
    /// copy-on-write break.
    pub fn count_fault(&mut self, i: usize, cow: bool) {
        let r = &mut self.list[i];
        if cow {
            r.cow_faults = r.cow_faults.saturating_add(1);
        } else {
            r.faults += 1;
        }
    }
}
