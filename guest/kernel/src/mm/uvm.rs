//! A process's address space: a root pair whose kernel half is shared and
//! whose user half is private, its regions (region.rs edits the table,
//! mmap.rs moves the break and places mappings), demand paging, and the
//! checked copies between user and kernel.

use abi::msg::{
    FileName, KIND_SLOTS, MAX_FILES, MAX_REGIONS, PROT_R, PROT_W, PROT_X, REGION_BSS, REGION_GUARD,
    REGION_HEAP, REGION_MMAP, REGION_STACK, Region,
};

use crate::arch::{self, Mode};
use crate::memlayout::{PAGE, Pa, STACK_MAX, USER_STACK_TOP, Va, p2v, page_down, page_up};
use crate::mm::cow::Broken;
use crate::mm::huge::MAX_HUGE_RANGES;
use crate::mm::{frame, kspace, pte};

pub struct AddrSpace {
    /// Kernel PGD; the user PGD is root + 0x1000 under PVM.
    pub root: Pa,
    pub regions: [Region; MAX_REGIONS],
    pub nregions: usize,
    pub heap_start: u64,
    pub brk: u64,
    /// Demand-paging faults served per region kind (index: the kind),
    /// kept when regions go: the totals the verdict line reports.
    pub faults_by_kind: [u64; KIND_SLOTS],
    /// The number the next region-making call gets (`Region::call`).
    pub next_call: u32,
    pub resident: u64,
    /// Aligned ranges that asked for 2 MiB pages (madvise), see huge.rs.
    pub huge: [(u64, u64); MAX_HUGE_RANGES],
    pub nhuge: usize,
    /// Which file the first file mappings show, by call (filemap.rs).
    pub files: [FileName; MAX_FILES],
    pub nfiles: usize,
}

/// How a user access may fail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Read,
    Write,
}

/// What to do with a user page fault.
pub enum Fault {
    /// Mapped a fresh page, or broke a copy-on-write one: resume.
    Served,
    /// Not ours to fix: a signal (or, out of memory, the end), with this
    /// reason.
    Kill(Why, &'static str),
}

/// What kind of bad access a fault was, as Linux tells a SIGSEGV handler
/// (si_code): no mapping there, or one that forbids the access. Out of
/// memory is neither: the process just ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// SEGV_MAPERR: nothing mapped at the address (Linux has no VMA).
    MapErr,
    /// SEGV_ACCERR: a mapping whose protection forbids the access.
    AccErr,
    NoMemory,
}

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

impl AddrSpace {
    /// An empty address space sharing the kernel half.
    pub fn new() -> Option<AddrSpace> {
        let root = frame::alloc_pair()?;
        kspace::share_kernel_half(root);
        Some(AddrSpace {
            root,
            regions: [Region::default(); MAX_REGIONS],
            nregions: 0,
            heap_start: 0,
            brk: 0,
            faults_by_kind: [0; KIND_SLOTS],
            next_call: 1,
            resident: 0,
            huge: [(0, 0); MAX_HUGE_RANGES],
            nhuge: 0,
            files: [FileName::default(); MAX_FILES],
            nfiles: 0,
        })
    }

    /// Demand-paging faults served so far in regions of `kind`.
    pub fn kind_faults(&self, kind: u32) -> u64 {
        self.faults_by_kind.get(kind as usize).copied().unwrap_or(0)
    }

    pub fn user_pgd(&self) -> u64 {
        if arch::mode() == Mode::Pvm {
            self.root.get() + PAGE
        } else {
            0
        }
    }

    /// The entry slot for `va` at `level` (1: PT, 2: PD), creating the
    /// tables above it; None if frames ran out or a larger page is there.
    pub fn slot(&mut self, va: Va, level: u32) -> Option<(Pa, usize)> {
        let root = self.root;
        let pvm = arch::mode() == Mode::Pvm;
        let mut mirror = |i: usize, e: u64| {
            // pv_kpti: the user PGD shares the user half's top-level entries.
            if pvm {
                pte::write(root.add(PAGE), i, e);
            }
        };
        pte::walk_to(root, va, level, true, pte::P | pte::W | pte::U, &mut mirror)
    }

    /// Map `va` -> `pa` for user access with `prot`.
    pub fn map(&mut self, va: Va, pa: Pa, prot: u32) -> bool {
        let Some((t, i)) = self.slot(va, 1) else {
            return false;
        };
        // Never map over a page: its frame would leak.
        if pte::read(t, i) & (pte::P | pte::NONE) != 0 {
            return false;
        }
        pte::write(t, i, pte::entry(pa, prot_flags(prot)));
        self.resident += 1;
        true
    }

    /// Place the heap right after the program's last segment, and the stack
    /// (with its guard page) at the top of the user half.
    pub fn set_layout(&mut self, image_end: u64) -> bool {
        let Some(heap) = page_up(image_end) else {
            return false;
        };
        self.heap_start = heap;
        self.brk = heap;
        let stack_low = USER_STACK_TOP - STACK_MAX;
        self.add_region(REGION_HEAP, PROT_R | PROT_W, heap, heap + PAGE)
            && self.add_region(REGION_GUARD, 0, stack_low - PAGE, stack_low)
            && self.add_region(REGION_STACK, PROT_R | PROT_W, stack_low, USER_STACK_TOP)
    }

    /// Unmap `va` and drop its frame (freed with its last mapping; the
    /// caller flushes the TLB); true if a page was mapped there.
    pub fn unmap(&mut self, va: Va) -> bool {
        let Some((t, i)) = pte::walk(self.root, va, false, 0, &mut |_, _| {}) else {
            return false;
        };
        let e = pte::read(t, i);
        if e & (pte::P | pte::NONE) == 0 {
            return false;
        }
        pte::write(t, i, 0);
        frame::put(pte::addr(e));
        self.resident -= 1;
        true
    }

    /// Index of the region holding `va`, if any.
    pub fn index_of(&self, va: u64) -> Option<usize> {
        self.regions[..self.nregions]
            .iter()
            .position(|r| r.start <= va && va < r.end)
    }

    /// The region holding `va`, if any.
    pub fn region_of(&self, va: u64) -> Option<Region> {
        self.index_of(va).map(|i| self.regions[i])
    }

    /// Serve a user page fault at `addr` with error code `err`, and
    /// record it in the trace (`--trace`).
    pub fn fault(&mut self, addr: u64, err: u64) -> Fault {
        let t0 = crate::trace::now();
        let got = self.serve(addr, err);
        if crate::trace::on() {
            use abi::trace::*;
            let present = err & 1 != 0;
            let kind = match (&got, present) {
                (Fault::Served, false) => FAULT_DEMAND,
                (Fault::Served, true) => FAULT_COW,
                (Fault::Kill(_, _), true) => FAULT_PROTECTION,
                (Fault::Kill(_, _), false) => FAULT_INVALID,
            };
            let frame = match got {
                Fault::Served => {
                    pte::lookup(self.root, Va(page_down(addr))).map_or(0, |e| e & pte::ADDR)
                }
                Fault::Kill(_, _) => 0,
            };
            let region = self.region_of(addr).map_or(0, |r| u64::from(r.kind));
            let took = crate::arch::cpu::rdtsc().wrapping_sub(t0);
            let pid = crate::running::pid();
            crate::trace::record(t0, EV_FAULT, kind, pid, addr, frame, took, region);
        }
        got
    }

    /// Serve a user page fault at `addr` with error code `err`.
    fn serve(&mut self, addr: u64, err: u64) -> Fault {
        let present = err & 1 != 0;
        let write = err & 2 != 0;
        let fetch = err & 16 != 0;
        if kspace::is_kernel(addr) {
            return Fault::Kill(Why::MapErr, "touched kernel memory");
        }
        let Some(i) = self.index_of(addr) else {
            return Fault::Kill(Why::MapErr, "address outside every region of this process");
        };
        let r = self.regions[i];
        if r.kind == REGION_GUARD {
            return Fault::Kill(Why::MapErr, "stack overflow into the guard page");
        }
        if present {
            if write && r.prot & PROT_W != 0 {
                match self.break_cow(Va(page_down(addr))) {
                    Broken::TookBack | Broken::Copied => {
                        let c = &mut self.regions[i].cow_faults;
                        *c = c.saturating_add(1);
                        return Fault::Served;
                    }
                    Broken::Stale => return Fault::Served,
                    Broken::NoMemory => return Fault::Kill(Why::NoMemory, "out of memory"),
                    Broken::NotCow => {}
                }
            }
            return Fault::Kill(
                Why::AccErr,
                if write {
                    "write to a read-only page"
                } else if fetch {
                    "execute from a non-executable page"
                } else {
                    "protection violation"
                },
            );
        }
        if r.prot == 0 {
            return Fault::Kill(Why::AccErr, "access to a PROT_NONE page");
        }
        if fetch && r.prot & PROT_X == 0 {
            return Fault::Kill(Why::AccErr, "execute from a non-executable region");
        }
        if write && r.prot & PROT_W == 0 {
            return Fault::Kill(Why::AccErr, "write to a read-only region");
        }
        let demand = match r.kind {
            REGION_HEAP => page_up(self.brk).is_some_and(|end| addr < end),
            REGION_STACK | REGION_MMAP | REGION_BSS => true,
            _ => false,
        };
        if !demand {
            return Fault::Kill(
                Why::MapErr,
                "not-present page outside the heap, stack, bss and mmap areas",
            );
        }
        if !self.fault_huge(addr, &r) {
            let Some(pa) = frame::alloc() else {
                return Fault::Kill(Why::NoMemory, "out of memory");
            };
            if !self.map(Va(page_down(addr)), pa, r.prot) {
                frame::free(pa);
                return Fault::Kill(Why::NoMemory, "out of memory for page tables");
            }
        }
        self.regions[i].faults += 1;
        if let Some(n) = self.faults_by_kind.get_mut(r.kind as usize) {
            *n += 1;
        }
        Fault::Served
    }

    /// Physical address behind user `va` for `access`, demand-paging it in
    /// if the region allows. None if the process may not access it.
    fn translate(&mut self, va: Va, access: Access) -> Option<Pa> {
        let r = self.region_of(va.get())?;
        if r.kind == REGION_GUARD
            || (access == Access::Write && r.prot & PROT_W == 0)
            || r.prot & PROT_R == 0
        {
            return None;
        }
        if pte::lookup(self.root, va).is_none() {
            let err = if access == Access::Write { 2 } else { 0 };
            if !matches!(self.fault(va.get(), err | 4), Fault::Served) {
                return None;
            }
        }
        let mut e = pte::lookup(self.root, va)?;
        if access == Access::Write && e & pte::W == 0 {
            // A copy-on-write page: the kernel's write must not reach the
            // frame other processes share, so break it as a user write would.
            if !matches!(self.fault(va.get(), 1 | 2 | 4), Fault::Served) {
                return None;
            }
            e = pte::lookup(self.root, va)?;
        }
        Some(pte::addr(e).add(va.page_offset()))
    }

    /// Is every byte of [va, va+len) in some region of this process (none
    /// of them the guard)? Regions may follow one another (data, then bss).
    pub fn check(&self, va: u64, len: u64) -> bool {
        let Some(end) = va.checked_add(len) else {
            return false;
        };
        let mut at = va;
        while at < end {
            match self.region_of(at) {
                Some(r) if r.kind != REGION_GUARD => at = r.end,
                _ => return false,
            }
        }
        true
    }

    /// Call `f(pa, offset, n)` for each piece of [va, va+len) that lies in
    /// one frame, after checking the whole range belongs to this process
    /// and each page may be accessed so. False if not.
    fn chunks(
        &mut self,
        va: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(Pa, usize, usize),
    ) -> bool {
        if !self.check(va, len as u64) {
            return false;
        }
        let mut done = 0;
        while done < len {
            let a = va + done as u64;
            let n = ((PAGE - (a & (PAGE - 1))) as usize).min(len - done);
            let Some(pa) = self.translate(Va(a), access) else {
                return false;
            };
            f(pa, done, n);
            done += n;
        }
        true
    }

    /// Copy user bytes at `va` into `dst`. False if any byte is not the
    /// process's to read.
    pub fn copy_in(&mut self, dst: &mut [u8], va: u64) -> bool {
        let len = dst.len();
        self.chunks(va, len, Access::Read, |pa, off, n| {
            // SAFETY: pa..pa+n lies in one frame the process owns; off+n <= len.
            unsafe { core::ptr::copy_nonoverlapping(p2v::<u8>(pa), dst[off..].as_mut_ptr(), n) };
        })
    }

    /// Copy `src` to user `va`. False if any byte is not the process's to write.
    pub fn copy_out(&mut self, va: u64, src: &[u8]) -> bool {
        self.chunks(va, src.len(), Access::Write, |pa, off, n| {
            // SAFETY: as in copy_in.
            unsafe { core::ptr::copy_nonoverlapping(src[off..].as_ptr(), p2v::<u8>(pa), n) };
        })
    }

    /// Return every frame: user pages (those fork shared, once their last
    /// mapping goes), user tables, the root pair. The caller has already
    /// switched CR3 away from this space.
    pub fn destroy(&mut self) -> u64 {
        let n = pte::free_tree(self.root, 256, true);
        frame::free_pair(self.root);
        self.root = Pa(0);
        self.resident = 0;
        n + 2
    }
}
