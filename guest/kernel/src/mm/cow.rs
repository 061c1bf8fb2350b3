//! Copy-on-write: fork gives the child the parent's frames instead of
//! copies, and a write to a shared page copies it then.
//!
//! At fork every present writable page becomes read-only in both address
//! spaces and is marked `pte::COW`; its frame's count goes up by one
//! (refcount.rs). Read-only and PROT_NONE pages are shared as they are.
//! The first write to a COW page faults (`break_cow`): with other mappings
//! left it gets a copy of its own; as the last mapping it takes the frame
//! back by setting W again. Whatever later rewrites a shared page's flags
//! (mprotect) keeps it read-only and COW (`private_flags`), so no process
//! ever writes a frame another one maps.
//!
//! 2 MiB pages are split into 4 KiB pages in the parent before they are
//! shared (one page-table frame each), rather than shared whole or copied
//! eagerly: the child then costs no 2 MiB of copying up front, a write
//! copies 4 KiB rather than 2 MiB, and every shared page goes through the
//! one 4 KiB path. The parent loses the 2 MiB TLB reach of those blocks.
//!
//! Free functions of the page-table roots: addrspace.rs copies the rest of
//! the address space (regions, break, names) for fork and counts the
//! faults.

use crate::arch::{self, Mode};
use crate::memlayout::{PAGE, Pa, Va, p2v};
use crate::mm::pte::{self, COW, NONE, P, PS, W};
use crate::mm::{frame, huge, userpages};

/// What a write fault on a present page found.
pub enum Broken {
    /// Not a copy-on-write page: the write is not allowed.
    NotCow,
    /// The last mapping of its frame: made writable in place.
    TookBack,
    /// Shared: copied to a frame of its own.
    Copied,
    /// Shared, and no frame left for the copy.
    NoMemory,
    /// Already writable: the fault came through a stale translation, now
    /// flushed.
    Stale,
}

/// The flags to give a private page whose entry is `e` when its protection
/// becomes `flags`: while its frame may be shared (COW, or mapped more than
/// once) it stays read-only and COW, so a write still breaks the sharing.
/// (A MAP_SHARED mapping, which should write the shared frame, must not
/// come through here.)
pub fn private_flags(e: u64, flags: u64) -> u64 {
    if e & pte::SHARED != 0 {
        return flags | pte::SHARED;
    }
    if e & COW != 0 || frame::count(pte::addr(e)) > 1 {
        (flags & !W) | COW
    } else {
        flags
    }
}

/// Give every page of [start, end) under `root` protection `prot`, a
/// private page whose frame may be shared staying read-only and COW
/// (`private_flags`), and flush. Each 2 MiB page met lies wholly inside the
/// range (mprotect split any that `start` or `end` cut), or its region
/// already had `prot`.
pub fn protect(root: Pa, start: u64, end: u64, prot: u32) {
    let mut va = start;
    while va < end {
        if pte::huge_entry(root, Va(va)).is_some() {
            huge::protect(root, va, prot);
            va = (va & !(frame::HUGE - 1)) + frame::HUGE;
            continue;
        }
        if let Some((t, i)) = userpages::find(root, Va(va)) {
            let e = pte::read(t, i);
            if userpages::holds(e) {
                let flags = private_flags(e, userpages::prot_flags(prot));
                pte::write(t, i, pte::entry(pte::addr(e), flags));
            }
        }
        va += PAGE;
    }
    arch::flush_tlb_range(start, end.saturating_sub(start) / PAGE);
}

/// Copy one frame with integer moves: `dst` may have been a page table the
/// host still write-protects, and its emulator has no SSE (as frame::zero).
fn copy_frame(dst: Pa, src: Pa) {
    // SAFETY: both are whole frames in the kernel window; src is mapped by
    // a live process, dst is ours alone; they differ.
    unsafe {
        core::arch::asm!("rep movsq", inout("rdi") p2v::<u8>(dst) => _,
                         inout("rsi") p2v::<u8>(src) => _, inout("rcx") PAGE / 8 => _,
                         options(nostack, preserves_flags));
    }
}

/// Share every user page under `parent` with the fresh root pair `child`
/// copy-on-write (see the module doc), counting the child's pages in
/// `resident`. Call it on the running address space (its TLB is flushed).
/// False when frames ran out: the caller destroys the partial child; the
/// parent's pages already made COW still work (the last mapping takes its
/// frame back at the next write).
pub fn share(parent: Pa, child: Pa, resident: &mut u64) -> bool {
    let mut fork = Fork {
        child,
        resident: 0,
        touched: false,
    };
    let ok = fork.level(parent, arch::levels(), 0);
    if fork.touched {
        arch::flush_tlb_all();
    }
    *resident += fork.resident;
    ok
}

/// One fork's walk of the parent's user half.
struct Fork {
    /// The child's root pair.
    child: Pa,
    /// Pages the child maps so far.
    resident: u64,
    /// A parent entry changed: the TLB needs a flush.
    touched: bool,
}

impl Fork {
    /// Share the user pages that `table` (at `level`, mapping from `base`)
    /// leads to with the child, splitting 2 MiB pages on the way. False if
    /// frames ran out.
    fn level(&mut self, table: Pa, level: u32, base: u64) -> bool {
        let span = 1u64 << (12 + 9 * (level - 1));
        // The top level's upper half is the kernel's.
        let n = if level == arch::levels() { 256 } else { 512 };
        for i in 0..n {
            let mut e = pte::read(table, i);
            let va = base + i as u64 * span;
            if level == 2 && e & PS != 0 && e & (P | NONE) != 0 {
                if !huge::split_entry(table, i, e) {
                    return false;
                }
                self.touched = true;
                e = pte::read(table, i);
            }
            if e & P == 0 {
                continue;
            }
            let ok = if level == 2 {
                self.table(pte::addr(e), va)
            } else {
                self.level(pte::addr(e), level - 1, va)
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Share the pages of page table `pt` (mapping from `base`) with the
    /// child: the same entry in both, a writable one made read-only and
    /// COW first. The child's page table is made at its first page.
    fn table(&mut self, pt: Pa, base: u64) -> bool {
        let mut child_pt = None;
        for i in 0..512 {
            let e = pte::read(pt, i);
            if e & (P | NONE) == 0 {
                continue;
            }
            let cpt = match child_pt {
                Some(t) => t,
                None => match userpages::slot(self.child, Va(base), 1) {
                    Some((t, _)) => *child_pt.insert(t),
                    None => return false,
                },
            };
            if !frame::share(pte::addr(e)) {
                return false;
            }
            // A MAP_SHARED page stays writable in both: that is its point.
            let shared = if e & P != 0 && e & W != 0 && e & pte::SHARED == 0 {
                (e & !W) | COW
            } else {
                e
            };
            if shared != e {
                pte::write(pt, i, shared);
                self.touched = true;
            }
            pte::write(cpt, i, shared);
            self.resident += 1;
        }
        true
    }
}

/// Serve a write fault on the present page at `va` under `root` if it is
/// copy-on-write (the caller has checked that its region is writable).
pub fn break_cow(root: Pa, va: Va) -> Broken {
    // None also for a 2 MiB page: those are never COW.
    let Some((t, i)) = userpages::find(root, va) else {
        return Broken::NotCow;
    };
    let e = pte::read(t, i);
    if e & P != 0 && e & W != 0 {
        // Writable already: a stale read-only translation (see below)
        // faulted. Flush it for good and let the write go again.
        arch::flush_tlb_all();
        return Broken::Stale;
    }
    if e & P == 0 || e & COW == 0 {
        return Broken::NotCow;
    }
    let old = pte::addr(e);
    let flags = (e & !pte::ADDR & !COW) | W;
    // 0: a frame the count table does not cover, never shared.
    let how = if frame::count(old) <= 1 {
        pte::write(t, i, pte::entry(old, flags));
        Broken::TookBack
    } else {
        let Some(new) = frame::alloc() else {
            return Broken::NoMemory;
        };
        copy_frame(new, old);
        pte::write(t, i, pte::entry(new, flags));
        frame::put(old);
        Broken::Copied
    };
    // A new frame must not be reached through the old translation (a
    // read would see the old frame, which another process may write:
    // under PVM a stale shadow entry does exactly that, measured). A
    // frame taken back needs no flush under PVM: the stale entry reads
    // the same frame, and the write it refuses makes the host walk the
    // table again and see W (a fault that still reached us would be
    // `Stale`); skipping the CR3 reload roughly halves that fault's
    // cost on the Intel PVM host (≈ 400 → 200 µs). On x86 `invlpg` is
    // cheap and spares the spurious fault.
    if matches!(how, Broken::Copied) || arch::mode() == Mode::X86 {
        arch::flush_page(va.get());
    }
    how
}
