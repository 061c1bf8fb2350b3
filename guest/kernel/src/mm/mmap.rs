//! The program break and anonymous mappings, with Linux semantics: brk(0)
//! asks, a failed brk returns the old break; mmap places anonymous private
//! memory top down below the stack (demand paged), MAP_FIXED replaces
//! whatever the process had there; munmap and mprotect split regions.

use abi::msg::{
    PROT_R, PROT_W, REGION_FILE, REGION_GUARD, REGION_HEAP, REGION_MMAP, REGION_STACK, Region,
};
use abi::syscall::{
    EACCES, EEXIST, EINVAL, ENODEV, ENOMEM, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE,
    MAP_PRIVATE, MAP_SHARED, MMAP_BOTTOM, MMAP_TOP,
};

use crate::memlayout::{HEAP_MAX, PAGE, USER_END, page_up};
use crate::mm::addrspace::AddrSpace;

/// The stack and its guard belong to the kernel's layout: mappings may not
/// replace them.
fn fixed_layout(r: &Region) -> bool {
    r.kind == REGION_STACK || r.kind == REGION_GUARD
}

/// Lowest address a program may map at (Linux's default mmap_min_addr).
const MAP_MIN: u64 = 0x1_0000;

impl AddrSpace {
    /// Linux brk(2): move the break to `addr` if it can; return the break.
    pub fn set_brk(&mut self, addr: u64) -> u64 {
        let old = self.brk;
        let h = self.heap_start;
        if addr == 0 || addr < h || addr > h + HEAP_MAX {
            return old;
        }
        let (Some(cur_end), Some(new_end)) = (page_up(old), page_up(addr)) else {
            return old;
        };
        let heap = |r: &Region| r.kind == REGION_HEAP;
        if new_end > cur_end {
            // Growing must not run into anything but the heap itself (the
            // one-page heap region kept while the break is at its start).
            if self.overlaps(cur_end, new_end, heap)
                || !self.carve(cur_end, new_end, heap)
                || !self.add_region(REGION_HEAP, PROT_R | PROT_W, cur_end, new_end)
            {
                return old;
            }
        } else if new_end < cur_end {
            if !self.carve(new_end, cur_end, heap) {
                return old;
            }
            // Keep one heap page in the table, as at start-up, so reports
            // always show where the heap is.
            if new_end == h && !self.overlaps(h, h + PAGE, |_| false) {
                self.add_region(REGION_HEAP, PROT_R | PROT_W, h, h + PAGE);
            }
        }
        self.brk = addr;
        addr
    }

    /// Move the break by `delta` (the built-in programs' malloc): the old
    /// break, or None.
    pub fn sbrk(&mut self, delta: i64) -> Option<u64> {
        let old = self.brk;
        let new = old.checked_add_signed(delta)?;
        (self.set_brk(new) == new).then_some(old)
    }

    /// Linux mmap(2) for anonymous memory; the address or -errno.
    pub fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> Result<u64, i64> {
        if flags & MAP_ANONYMOUS == 0 {
            return Err(ENODEV); // files: mmap_file (filemap.rs)
        }
        // MAP_SHARED, and MAP_SHARED_VALIDATE (3), are shared.
        if flags & 3 == MAP_PRIVATE {
            return self.mmap_in(addr, len, prot, flags, REGION_MMAP);
        }
        // Shared anonymous memory is a file with no name, as Linux makes
        // it (/dev/zero, deleted): a file region, its frames shared.
        let start = self.mmap_in(addr, len, prot, flags, REGION_FILE)?;
        self.populate_shared(start, prot)?;
        Ok(start)
    }

    /// MAP_SHARED|MAP_ANONYMOUS: memory a process shares with the children
    /// it forks (the classic parent-child shared counter). Its frames are
    /// allocated and mapped now, marked shared, so fork hands the very
    /// frames to the child, writable, rather than copies on demand.
    /// ENOMEM (and no region) when there are not enough frames.
    fn populate_shared(&mut self, start: u64, prot: u64) -> Result<(), i64> {
        let Some(r) = self.region_of(start) else {
            return Err(ENOMEM);
        };
        let flags = crate::mm::addrspace::prot_flags((prot & 7) as u32) | crate::mm::pte::SHARED;
        let mut va = r.start;
        while va < r.end {
            let mapped = crate::mm::frame::alloc().is_some_and(|pa| {
                let ok = self
                    .slot(crate::memlayout::Va(va), 1)
                    .is_some_and(|(t, i)| {
                        crate::mm::pte::write(t, i, crate::mm::pte::entry(pa, flags));
                        true
                    });
                if !ok {
                    crate::mm::frame::put(pa);
                }
                ok
            });
            if !mapped {
                self.carve(r.start, r.end, |q| {
                    q.start == r.start && q.kind == REGION_FILE
                });
                return Err(ENOMEM);
            }
            self.resident += 1;
            va += PAGE;
        }
        Ok(())
    }

    /// Place the region of one mmap call, of `kind` (REGION_MMAP, or
    /// REGION_FILE for filemap.rs, which never joins a neighbour): its
    /// start, or -errno.
    pub(super) fn mmap_in(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        kind: u32,
    ) -> Result<u64, i64> {
        if flags & (MAP_SHARED | MAP_PRIVATE) == 0 || len == 0 {
            return Err(EINVAL);
        }
        let len = page_up(len).ok_or(ENOMEM)?;
        let prot = (prot & 7) as u32;
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            let end = self.user_range(addr, len)?;
            if self.overlaps(addr, end, |r| !fixed_layout(r)) {
                return Err(ENOMEM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && self.overlaps(addr, end, |_| false) {
                return Err(EEXIST);
            }
            if !self.carve(addr, end, |_| true) {
                return Err(ENOMEM);
            }
            return self.place(kind, addr, end, prot, true);
        }
        // A hint is taken when that range is free, as Linux does.
        if let Ok(end) = self.user_range(addr, len)
            && end <= MMAP_TOP
            && !self.overlaps(addr, end, |_| false)
        {
            return self.place(kind, addr, end, prot, true);
        }
        let at = self.find_free(len).ok_or(ENOMEM)?;
        self.place(kind, at, at + len, prot, false)
    }

    /// A region of its own for one mmap call, unless the program asked for
    /// this address (`asked`: a hint taken, or MAP_FIXED) next to a mapping
    /// of the same protection: then that mapping grows.
    fn place(
        &mut self,
        kind: u32,
        start: u64,
        end: u64,
        prot: u32,
        asked: bool,
    ) -> Result<u64, i64> {
        let added = if asked && kind == REGION_MMAP {
            self.extend_region(kind, prot, start, end)
        } else {
            self.add_region(kind, prot, start, end)
        };
        if added { Ok(start) } else { Err(ENOMEM) }
    }

    /// [addr, addr+len) as a page-aligned user range: its end, or -errno.
    fn user_range(&self, addr: u64, len: u64) -> Result<u64, i64> {
        if !addr.is_multiple_of(PAGE) || addr < MAP_MIN {
            return Err(EINVAL);
        }
        match addr.checked_add(len) {
            Some(end) if end <= USER_END => Ok(end),
            _ => Err(ENOMEM),
        }
    }

    /// The highest free `len` bytes below MMAP_TOP.
    fn find_free(&self, len: u64) -> Option<u64> {
        let mut top = MMAP_TOP;
        loop {
            let lo = top.checked_sub(len)?;
            if lo < MMAP_BOTTOM {
                return None;
            }
            let below = self.regions[..self.nregions]
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

    /// Linux munmap(2): 0 or -errno. The stack and its guard stay.
    pub fn munmap(&mut self, addr: u64, len: u64) -> i64 {
        if len == 0 {
            return EINVAL;
        }
        let Some(len) = page_up(len) else {
            return EINVAL;
        };
        match self.user_range(addr, len) {
            Ok(end) if self.carve(addr, end, |r| !fixed_layout(r)) => 0,
            Ok(_) => ENOMEM,
            Err(e) => e,
        }
    }

    /// Linux mprotect(2): 0 or -errno. The heap, stack and guard keep their
    /// protection (asking for the one they have succeeds).
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> i64 {
        if !addr.is_multiple_of(PAGE) {
            return EINVAL;
        }
        let Some(end) = page_up(len).and_then(|l| addr.checked_add(l)) else {
            return ENOMEM;
        };
        if end == addr {
            return 0;
        }
        let prot = (prot & 7) as u32;
        let layout = |r: &Region| fixed_layout(r) || r.kind == REGION_HEAP;
        if self.overlaps(addr, end, |r| !layout(r) || r.prot == prot) {
            return EACCES;
        }
        match self.protect(addr, end, prot, |_| true) {
            Ok(()) => 0,
            Err(_) => ENOMEM,
        }
    }
}
