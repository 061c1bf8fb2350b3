//! A process's address space: a root pair whose kernel half is shared and
//! whose user half is private, the regions of the OSTEP layout, demand
//! paging, and the checked copies between user and kernel.

use abi::msg::{
    MAX_REGIONS, PROT_R, PROT_W, PROT_X, REGION_GUARD, REGION_HEAP, REGION_STACK, Region,
};

use crate::arch::{self, Mode};
use crate::memlayout::{
    HEAP_MAX, PAGE, STACK_MAX, USER_END, USER_STACK_TOP, p2v, page_down, page_up,
};
use crate::mm::{frame, kvm, pte};

pub struct AddrSpace {
    /// Kernel PGD; the user PGD is root + 0x1000 under PVM.
    pub root: u64,
    pub regions: [Region; MAX_REGIONS],
    pub nregions: usize,
    pub heap_start: u64,
    pub brk: u64,
    pub heap_faults: u64,
    pub stack_faults: u64,
    pub resident: u64,
}

/// How a user access may fail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Read,
    Write,
}

/// What to do with a user page fault.
pub enum Fault {
    /// Mapped a fresh page: resume.
    Served,
    /// Not ours to fix: kill, with this reason.
    Kill(&'static str),
}

fn prot_flags(prot: u32) -> u64 {
    let mut f = pte::P | pte::U;
    if prot & PROT_W != 0 {
        f |= pte::W;
    }
    if prot & PROT_X == 0 && crate::cpu_has_nx() {
        f |= pte::NX;
    }
    f
}

impl AddrSpace {
    /// An empty address space sharing the kernel half.
    pub fn new() -> Option<AddrSpace> {
        let root = frame::alloc_pair()?;
        kvm::share_kernel_half(root);
        Some(AddrSpace {
            root,
            regions: [Region::default(); MAX_REGIONS],
            nregions: 0,
            heap_start: 0,
            brk: 0,
            heap_faults: 0,
            stack_faults: 0,
            resident: 0,
        })
    }

    pub fn user_pgd(&self) -> u64 {
        if arch::mode() == Mode::Pvm {
            self.root + PAGE
        } else {
            0
        }
    }

    pub fn add_region(&mut self, kind: u32, prot: u32, start: u64, end: u64) -> bool {
        if self.nregions == MAX_REGIONS || start >= end || end > USER_END {
            return false;
        }
        self.regions[self.nregions] = Region {
            kind,
            prot,
            start,
            end,
            faults: 0,
        };
        self.nregions += 1;
        true
    }

    /// Map `va` -> `pa` for user access with `prot`.
    pub fn map(&mut self, va: u64, pa: u64, prot: u32) -> bool {
        let root = self.root;
        let pvm = arch::mode() == Mode::Pvm;
        let mut mirror = |i: usize, e: u64| {
            // pv_kpti: the user PGD shares the user half's top-level entries.
            if pvm {
                pte::write(root + PAGE, i, e);
            }
        };
        let Some((t, i)) = pte::walk(root, va, true, pte::P | pte::W | pte::U, &mut mirror) else {
            return false;
        };
        // Never map over a page: its frame would leak (overlapping segments).
        if pte::read(t, i) & pte::P != 0 {
            return false;
        }
        pte::write(t, i, pa | prot_flags(prot));
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

    fn heap_region(&mut self) -> Option<&mut Region> {
        self.regions[..self.nregions]
            .iter_mut()
            .find(|r| r.kind == REGION_HEAP)
    }

    /// Move the break by `delta`; return the old break. Pages are not
    /// mapped here (demand paging); shrinking unmaps and frees them.
    pub fn sbrk(&mut self, delta: i64) -> Option<u64> {
        let old = self.brk;
        let new = old.checked_add_signed(delta)?;
        if new < self.heap_start || new > self.heap_start + HEAP_MAX {
            return None;
        }
        if new < old {
            let mut va = page_up(new)?;
            let mut any = false;
            while va < old {
                any |= self.unmap(va);
                va += PAGE;
            }
            // One flush for the lot: under PVM a flush is a CR3 reload.
            if any {
                crate::arch::flush_tlb_all();
            }
        }
        self.brk = new;
        let end = page_up(new)?.max(self.heap_start + PAGE);
        if let Some(r) = self.heap_region() {
            r.end = end;
        }
        Some(old)
    }

    /// Unmap `va` and free its frame (the caller flushes the TLB); true if
    /// a page was mapped there.
    fn unmap(&mut self, va: u64) -> bool {
        let Some((t, i)) = pte::walk(self.root, va, false, 0, &mut |_, _| {}) else {
            return false;
        };
        let e = pte::read(t, i);
        if e & pte::P == 0 {
            return false;
        }
        pte::write(t, i, 0);
        frame::free(e & pte::ADDR);
        self.resident -= 1;
        true
    }

    /// The region holding `va`, if any.
    pub fn region_of(&self, va: u64) -> Option<Region> {
        self.regions[..self.nregions]
            .iter()
            .copied()
            .find(|r| r.start <= va && va < r.end)
    }

    /// Serve a user page fault at `addr` with error code `err`.
    pub fn fault(&mut self, addr: u64, err: u64) -> Fault {
        let present = err & 1 != 0;
        let write = err & 2 != 0;
        let fetch = err & 16 != 0;
        if kvm::is_kernel(addr) {
            return Fault::Kill("touched kernel memory");
        }
        let Some(r) = self.region_of(addr) else {
            return Fault::Kill("address outside every region of this process");
        };
        if r.kind == REGION_GUARD {
            return Fault::Kill("stack overflow into the guard page");
        }
        if present {
            return Fault::Kill(if write {
                "write to a read-only page"
            } else if fetch {
                "execute from a non-executable page"
            } else {
                "protection violation"
            });
        }
        if fetch && r.prot & PROT_X == 0 {
            return Fault::Kill("execute from a non-executable region");
        }
        let demand = r.kind == REGION_HEAP && addr < self.brk || r.kind == REGION_STACK;
        if !demand {
            return Fault::Kill("not-present page outside the heap and stack");
        }
        let Some(pa) = frame::alloc() else {
            return Fault::Kill("out of memory");
        };
        if !self.map(page_down(addr), pa, r.prot) {
            frame::free(pa);
            return Fault::Kill("out of memory for page tables");
        }
        if r.kind == REGION_HEAP {
            self.heap_faults += 1;
        } else {
            self.stack_faults += 1;
        }
        Fault::Served
    }

    /// Physical address behind user `va` for `access`, demand-paging it in
    /// if the region allows. None if the process may not access it.
    fn user_pa(&mut self, va: u64, access: Access) -> Option<u64> {
        let r = self.region_of(va)?;
        if r.kind == REGION_GUARD
            || (access == Access::Write && r.prot & PROT_W == 0)
            || r.prot & PROT_R == 0
        {
            return None;
        }
        if pte::lookup(self.root, va).is_none() {
            let err = if access == Access::Write { 2 } else { 0 };
            if !matches!(self.fault(va, err | 4), Fault::Served) {
                return None;
            }
        }
        let e = pte::lookup(self.root, va)?;
        Some((e & pte::ADDR) + (va & (PAGE - 1)))
    }

    /// Is [va, va+len) inside one region of this process?
    pub fn check(&self, va: u64, len: u64) -> bool {
        let Some(end) = va.checked_add(len) else {
            return false;
        };
        match self.region_of(va) {
            Some(r) => end <= r.end && r.kind != REGION_GUARD,
            None => len == 0,
        }
    }

    /// Call `f(pa, offset, n)` for each piece of [va, va+len) that lies in
    /// one frame, after checking the whole range belongs to one region of
    /// this process and each page may be accessed so. False if not.
    fn chunks(
        &mut self,
        va: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(u64, usize, usize),
    ) -> bool {
        if !self.check(va, len as u64) {
            return false;
        }
        let mut done = 0;
        while done < len {
            let a = va + done as u64;
            let n = ((PAGE - (a & (PAGE - 1))) as usize).min(len - done);
            let Some(pa) = self.user_pa(a, access) else {
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

    /// Return every frame: user pages, user tables, the root pair. The
    /// caller has already switched CR3 away from this space.
    pub fn destroy(&mut self) -> u64 {
        let n = pte::free_tree(self.root, 256, true);
        frame::free_pair(self.root);
        self.root = 0;
        self.resident = 0;
        n + 2
    }
}
