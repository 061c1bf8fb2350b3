//! File mappings (mmap of a file of the RAM file system): the process maps
//! the file's own frames, so nothing is copied until someone writes.
//!
//! - MAP_SHARED: the frames as they are, writable if PROT_WRITE: a store
//!   through the mapping is a write to the file, seen by read() and by
//!   every other mapper at once.
//! - MAP_PRIVATE: the same frames read-only; with PROT_WRITE they are
//!   marked copy-on-write (cow.rs), so the first store copies the page
//!   and the file never sees it. Until then the mapping sees the file's
//!   later writes, as on Linux.
//!
//! The pages are mapped when mmap is called, not on demand: the region
//! needs no record of which file and offset it maps, and a file mapping
//! never faults except past the file's end (the whole pages the file does
//! not reach), where Linux sends SIGBUS and this kernel kills the process
//! the same way as any access to a page it may not touch. Each mapped
//! frame counts one reference (`frame::share`); munmap and exit give it
//! back with `frame::put`, and the frame goes to the allocator when the
//! file has also let go of it (truncated or removed).
//!
//! Not Linux: a shared mapping that mprotect makes writable again, or that
//! fork copies, turns copy-on-write (cow.rs never lets a process write a
//! frame another maps except through a shared mapping made here).

use abi::msg::REGION_FILE;
use abi::syscall::{ENOMEM, MAP_SHARED};

use crate::memlayout::{PAGE, Pa, Va};
use crate::mm::uvm::{AddrSpace, prot_flags};
use crate::mm::{frame, pte};

impl AddrSpace {
    /// mmap(2) of `file_pages` pages of a file (those from the mapping's
    /// offset to the file's end; `frame(i)` gives the frame of the i-th):
    /// the address, or -errno (nothing left mapped).
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
        let Some(r) = self.region_of(start) else {
            return Err(ENOMEM);
        };
        let pages = ((r.end - r.start) / PAGE).min(file_pages);
        let shared = flags & 3 == MAP_SHARED || flags & 3 == 3;
        let mut flags_of_page = prot_flags((prot & 7) as u32);
        if shared {
            flags_of_page |= pte::SHARED;
        } else if flags_of_page & pte::W != 0 {
            flags_of_page = (flags_of_page & !pte::W) | pte::COW;
        }
        for i in 0..pages {
            if let Err(e) = self.map_file_page(start + i * PAGE, flags_of_page, frame_of(i)) {
                self.carve(r.start, r.end, |q| {
                    q.start == r.start && q.kind == REGION_FILE
                });
                return Err(e);
            }
        }
        Ok(start)
    }

    /// Map one file frame at `va` with page-table `flags`, one reference
    /// more on it.
    fn map_file_page(&mut self, va: u64, flags: u64, pa: Result<Pa, i64>) -> Result<(), i64> {
        let pa = pa?;
        let (t, i) = self.slot(Va(va), 1).ok_or(ENOMEM)?;
        if pte::read(t, i) & (pte::P | pte::NONE) != 0 || !frame::share(pa) {
            return Err(ENOMEM);
        }
        pte::write(t, i, pte::entry(pa, flags));
        self.resident += 1;
        Ok(())
    }
}
