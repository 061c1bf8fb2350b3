//! A process's address space: a root pair whose kernel half is shared and
//! whose user half is private, its regions, break, 2 MiB wishes and mapped
//! files' names; every operation on it (demand paging, the checked copies
//! between user and kernel, brk, mmap, munmap, mprotect, madvise, fork).
//!
//! The helpers below it (mod.rs lists them) are free functions and small
//! tables that never see the whole space, and none imports this file: it
//! ties them together and keeps the count of resident pages.

use abi::msg::{
    KIND_SLOTS, PROT_R, PROT_W, REGION_FILE, REGION_GUARD, REGION_HEAP, REGION_MMAP, REGION_STACK,
    Region,
};
use abi::syscall::{EACCES, EINVAL, ENODEV, ENOMEM, MAP_ANONYMOUS, MAP_PRIVATE};

use crate::memlayout::{PAGE, Pa, STACK_MAX, USER_STACK_TOP, Va, page_down, page_up};
use crate::mm::cow::{self, Broken};
use crate::mm::fault::{self, Fault, Step, Why};
use crate::mm::filemap::{self, FileNames};
use crate::mm::frame;
use crate::mm::huge::{self, HugeRanges};
use crate::mm::mmap::{self, fixed_layout};
use crate::mm::region::Regions;
use crate::mm::usercopy::{self, Access};
use crate::mm::userpages::{self, prot_flags};
use crate::mm::{carve, kspace, pte};

pub struct AddrSpace {
    /// Kernel PGD; the user PGD is root + 0x1000 under PVM.
    pub root: Pa,
    /// 4 KiB pages mapped in the user half (a 2 MiB page counts 512).
    pub resident: u64,
    pub regions: Regions,
    pub heap_start: u64,
    pub brk: u64,
    /// Demand-paging faults served per region kind (index: the kind),
    /// kept when regions go: the totals the verdict line reports.
    pub faults_by_kind: [u64; KIND_SLOTS],
    /// Aligned ranges that asked for 2 MiB pages (madvise).
    pub huge: HugeRanges,
    /// Which file the first file mappings show, by call.
    pub files: FileNames,
}

impl AddrSpace {
    /// An empty address space sharing the kernel half.
    pub fn new() -> Option<AddrSpace> {
        let root = frame::alloc_pair()?;
        kspace::share_kernel_half(root);
        Some(AddrSpace {
            root,
            resident: 0,
            regions: Regions::default(),
            heap_start: 0,
            brk: 0,
            faults_by_kind: [0; KIND_SLOTS],
            huge: HugeRanges::default(),
            files: FileNames::default(),
        })
    }

    /// Demand-paging faults served so far in regions of `kind`.
    pub fn kind_faults(&self, kind: u32) -> u64 {
        self.faults_by_kind.get(kind as usize).copied().unwrap_or(0)
    }

    /// Map `va` -> `pa` for user access with `prot`; false if a page is
    /// there already or frames ran out for the tables.
    pub fn map(&mut self, va: Va, pa: Pa, prot: u32) -> bool {
        let ok = userpages::map(self.root, va, pa, prot_flags(prot));
        self.resident += u64::from(ok);
        ok
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
        let r = &mut self.regions;
        r.add(REGION_HEAP, PROT_R | PROT_W, heap, heap + PAGE)
            && r.add(REGION_GUARD, 0, stack_low - PAGE, stack_low)
            && r.add(REGION_STACK, PROT_R | PROT_W, stack_low, USER_STACK_TOP)
    }

    /// Serve a user page fault at `addr` with error code `err`, and
    /// record it in the trace (`--trace`).
    pub fn fault(&mut self, addr: u64, err: u64) -> Fault {
        let t0 = crate::trace::now();
        let got = self.serve(addr, err);
        if crate::trace::on() {
            fault::record(t0, addr, err, &got, self.root, &self.regions);
        }
        got
    }

    /// Serve a user page fault at `addr` with error code `err`: judge it
    /// (fault.rs), then break the copy-on-write page or page one in.
    fn serve(&mut self, addr: u64, err: u64) -> Fault {
        if kspace::is_kernel(addr) {
            return Fault::Kill(Why::MapErr, "touched kernel memory");
        }
        let Some(i) = self.regions.index_of(addr) else {
            return Fault::Kill(Why::MapErr, "address outside every region of this process");
        };
        if fault::paged_in_since(self.root, addr, err) {
            return Fault::Served;
        }
        let r = self.regions.list[i];
        match fault::judge(&r, addr, err, self.brk) {
            Err(kill) => kill,
            Ok(Step::Cow) => match cow::break_cow(self.root, Va(page_down(addr))) {
                Broken::TookBack | Broken::Copied => {
                    self.regions.count_fault(i, true);
                    Fault::Served
                }
                Broken::Stale => Fault::Served,
                Broken::NoMemory => Fault::Kill(Why::NoMemory, "out of memory"),
                Broken::NotCow => Fault::Kill(Why::AccErr, fault::refused(true, false)),
            },
            Ok(Step::Demand) => self.demand(i, &r, addr),
        }
    }

    /// Page in the page at `addr` of region `r` (index `i`): a 2 MiB page
    /// if its block wants one, else a fresh 4 KiB page.
    fn demand(&mut self, i: usize, r: &Region, addr: u64) -> Fault {
        if huge::fault(self.root, &self.huge, addr, r, self.brk) {
            self.resident += huge::PAGES;
        } else {
            let Some(pa) = frame::alloc() else {
                return Fault::Kill(Why::NoMemory, "out of memory");
            };
            if !self.map(Va(page_down(addr)), pa, r.prot) {
                frame::free(pa);
                return Fault::Kill(Why::NoMemory, "out of memory for page tables");
            }
        }
        self.regions.count_fault(i, false);
        if let Some(n) = self.faults_by_kind.get_mut(r.kind as usize) {
            *n += 1;
        }
        Fault::Served
    }

    /// Physical address behind user `va` for `access`, demand-paging it in
    /// if the region allows. None if the process may not access it.
    fn translate(&mut self, va: Va, access: Access) -> Option<Pa> {
        let r = self.regions.of(va.get())?;
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

    /// Is every byte of [va, va+len) in a region of this process but the guard?
    pub fn check(&self, va: u64, len: u64) -> bool {
        va.checked_add(len)
            .is_some_and(|end| self.regions.covers(va, end, |r| r.kind != REGION_GUARD))
    }

    /// Copy user bytes at `va` into `dst`; false if any is not ours to read.
    pub fn copy_in(&mut self, dst: &mut [u8], va: u64) -> bool {
        self.check(va, dst.len() as u64)
            && usercopy::copy_in(dst, va, |a| self.translate(a, Access::Read))
    }

    /// Copy `src` to user `va`; false if any byte is not ours to write.
    pub fn copy_out(&mut self, va: u64, src: &[u8]) -> bool {
        self.check(va, src.len() as u64)
            && usercopy::copy_out(va, src, |a| self.translate(a, Access::Write))
    }

    /// madvise(2): 0 or -errno; the advice itself is huge.rs's.
    pub fn madvise(&mut self, addr: u64, len: u64, advice: u64) -> i64 {
        match mmap::range(addr, len, EINVAL) {
            Err(e) => e,
            Ok(None) => 0,
            Ok(Some(end)) if !self.check(addr, end - addr) => ENOMEM,
            Ok(Some(end)) => self.huge.advise(addr, end, advice),
        }
    }

    /// Linux brk(2): move the break to `addr` if it can; return the break.
    pub fn set_brk(&mut self, addr: u64) -> u64 {
        let old = self.brk;
        let Some((cur_end, new_end)) = mmap::brk_ends(self.heap_start, old, addr) else {
            return old;
        };
        let heap = |r: &Region| r.kind == REGION_HEAP;
        if new_end > cur_end {
            // Growing must not run into anything but the heap itself (the
            // one-page heap region kept while the break is at its start).
            if self.regions.overlaps(cur_end, new_end, heap)
                || !self.carve(cur_end, new_end, heap)
                || !self
                    .regions
                    .add(REGION_HEAP, PROT_R | PROT_W, cur_end, new_end)
            {
                return old;
            }
        } else if new_end < cur_end {
            if !self.carve(new_end, cur_end, heap) {
                return old;
            }
            // Keep one heap page in the table, as at start-up, so reports
            // always show where the heap is.
            let h = self.heap_start;
            if new_end == h && !self.regions.overlaps(h, h + PAGE, |_| false) {
                self.regions.add(REGION_HEAP, PROT_R | PROT_W, h, h + PAGE);
            }
        }
        self.brk = addr;
        addr
    }

    /// Linux mmap(2) for anonymous memory; the address or -errno. Shared
    /// anonymous memory is a file with no name, as Linux makes it: a file
    /// region whose frames are mapped now (filemap.rs `map_fresh`).
    pub fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> Result<u64, i64> {
        if flags & MAP_ANONYMOUS == 0 {
            return Err(ENODEV); // files: mmap_file
        }
        // MAP_SHARED, and MAP_SHARED_VALIDATE (3), are shared.
        if flags & 3 == MAP_PRIVATE {
            return self.mmap_in(addr, len, prot, flags, REGION_MMAP);
        }
        let start = self.mmap_in(addr, len, prot, flags, REGION_FILE)?;
        let page_flags = prot_flags((prot & 7) as u32) | pte::SHARED;
        self.populate(start, u64::MAX, |root, va, _| {
            filemap::map_fresh(root, va, page_flags)
        })
    }

    /// mmap(2) of `file_pages` pages of a file (those from the mapping's
    /// offset to the file's end; `frame_of(i)` gives the frame of the
    /// i-th), mapped now (filemap.rs): the address, or -errno (nothing left
    /// mapped).
    pub fn mmap_file(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        file_pages: u64,
        mut frame_of: impl FnMut(u64) -> Result<Pa, i64>,
    ) -> Result<u64, i64> {
        let start = self.mmap_in(addr, len, prot, flags, REGION_FILE)?;
        let page_flags = filemap::page_flags(prot, flags);
        self.populate(start, file_pages, |root, va, i| {
            filemap::map_page(root, va, page_flags, frame_of(i))
        })
    }

    /// Map the first `pages` pages (at most all) of the file region just
    /// made at `start` with `map_one(root, va, i)`: `start`, or the first
    /// -errno (the region and the pages mapped so far then go again).
    fn populate(
        &mut self,
        start: u64,
        pages: u64,
        mut map_one: impl FnMut(Pa, u64, u64) -> Result<(), i64>,
    ) -> Result<u64, i64> {
        let Some(r) = self.regions.of(start) else {
            return Err(ENOMEM);
        };
        for i in 0..((r.end - r.start) / PAGE).min(pages) {
            if let Err(e) = map_one(self.root, start + i * PAGE, i) {
                self.carve(r.start, r.end, |q| {
                    q.start == r.start && q.kind == REGION_FILE
                });
                return Err(e);
            }
            self.resident += 1;
        }
        Ok(start)
    }

    /// Make the region of one mmap call, of `kind` (REGION_MMAP, or
    /// REGION_FILE, which never joins a neighbour), where mmap.rs places
    /// it: its start, or -errno.
    fn mmap_in(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        kind: u32,
    ) -> Result<u64, i64> {
        let at = mmap::place(&self.regions, addr, len, flags)?;
        if at.replace && !self.carve(at.start, at.end, |_| true) {
            return Err(ENOMEM);
        }
        let prot = (prot & 7) as u32;
        let added = if at.asked && kind == REGION_MMAP {
            self.regions.extend(kind, prot, at.start, at.end)
        } else {
            self.regions.add(kind, prot, at.start, at.end)
        };
        if added { Ok(at.start) } else { Err(ENOMEM) }
    }

    /// Linux munmap(2): 0 or -errno. The stack and its guard stay.
    pub fn munmap(&mut self, addr: u64, len: u64) -> i64 {
        let Some(len) = page_up(len).filter(|&l| l != 0) else {
            return EINVAL;
        };
        match mmap::user_range(addr, len) {
            Ok(end) if self.carve(addr, end, |r| !fixed_layout(r)) => 0,
            Ok(_) => ENOMEM,
            Err(e) => e,
        }
    }

    /// Linux mprotect(2): 0 or -errno. The heap, stack and guard keep their
    /// protection (asking for the one they have succeeds). A page whose
    /// frame fork shared stays read-only and COW (cow.rs).
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> i64 {
        let end = match mmap::range(addr, len, ENOMEM) {
            Err(e) => return e,
            Ok(None) => return 0,
            Ok(Some(end)) => end,
        };
        let prot = (prot & 7) as u32;
        let fixed = |r: &Region| (fixed_layout(r) || r.kind == REGION_HEAP) && r.prot != prot;
        if self.regions.overlaps(addr, end, |r| !fixed(r)) {
            return EACCES;
        }
        // A region that already has `prot` need not be split.
        if !self.regions.covers(addr, end, |_| true)
            || !carve::split_range(self.root, &mut self.regions, addr, end, |r| r.prot != prot)
        {
            return ENOMEM;
        }
        self.regions.set_prot(addr, end, prot);
        cow::protect(self.root, addr, end, prot);
        0
    }

    /// Remove [start, end) from the regions `which` picks with their pages
    /// (carve.rs), counted out. False if splitting would overflow the table.
    fn carve(&mut self, start: u64, end: u64, which: impl Fn(&Region) -> bool) -> bool {
        let (root, regions, wishes) = (self.root, &mut self.regions, &mut self.huge);
        let freed = carve::carve(root, regions, wishes, start, end, which);
        self.resident -= freed.unwrap_or(0);
        freed.is_some()
    }

    /// A forked child's copy of this (running) address space: the same
    /// regions (fault counts at 0), break, 2 MiB wishes and file names, and
    /// every user page shared copy-on-write (cow.rs; the TLB is flushed).
    /// None when frames run out (the partial child is destroyed).
    pub fn fork(&mut self) -> Option<AddrSpace> {
        let mut child = AddrSpace {
            regions: self.regions.forked(),
            heap_start: self.heap_start,
            brk: self.brk,
            huge: self.huge,
            files: self.files,
            ..AddrSpace::new()?
        };
        if cow::share(self.root, child.root, &mut child.resident) {
            Some(child)
        } else {
            child.destroy();
            None
        }
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
