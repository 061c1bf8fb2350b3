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
//! Which file a mapping shows is kept for the report only, by name: the
//! file's path when it was mapped (`fs::path::path_of`), keyed by the
//! mmap call that made the region (`Region::call`), so the pieces that
//! mprotect or munmap leave of it keep the name and a region that moves
//! its start does not lose it. At most MAX_FILES are kept, the first
//! mapped among those still mapped: a name goes when no region of its
//! call is left. fork copies them with the regions; exec starts a new
//! address space without any. A file renamed or removed after it was
//! mapped keeps the name it had.
//!
//! Not Linux: a shared mapping that mprotect makes writable again, or that
//! fork copies, turns copy-on-write (cow.rs never lets a process write a
//! frame another maps except through a shared mapping made here).

use abi::msg::{FILE_PATH_MAX, FileName, MAX_FILES, REGION_FILE};
use abi::syscall::{ENOMEM, MAP_SHARED};

use crate::memlayout::{PAGE, Pa, Va};
use crate::mm::addrspace::{AddrSpace, prot_flags};
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

    /// Name the file that call `call` mapped (`path`, its absolute path)
    /// if fewer than MAX_FILES mappings still mapped are named; else it
    /// stays unnamed.
    pub fn name_file(&mut self, call: u32, path: &[u8]) {
        let (files, n) = self.named_files();
        self.files = files;
        self.nfiles = n;
        if n < MAX_FILES {
            self.files[n] = FileName {
                call,
                _pad: 0,
                path: fit(path),
            };
            self.nfiles = n + 1;
        }
    }

    /// Whether `name_file` would keep a new name: fewer than MAX_FILES
    /// named mappings are still mapped.
    pub fn can_name_file(&self) -> bool {
        self.named_files().1 < MAX_FILES
    }

    /// The names of the file mappings still mapped (some region of their
    /// call is left), in the order they were mapped, and how many.
    pub fn named_files(&self) -> ([FileName; MAX_FILES], usize) {
        let mut out = [FileName::default(); MAX_FILES];
        let mut n = 0;
        let regions = &self.regions[..self.nregions];
        for f in &self.files[..self.nfiles.min(MAX_FILES)] {
            if regions
                .iter()
                .any(|r| r.kind == REGION_FILE && r.call == f.call)
            {
                out[n] = *f;
                n += 1;
            }
        }
        (out, n)
    }
}

/// `path` in FILE_PATH_MAX bytes, NUL-padded: as it is when it fits,
/// else "..." and its last bytes (the file's own name is the end).
fn fit(path: &[u8]) -> [u8; FILE_PATH_MAX] {
    let mut out = [0u8; FILE_PATH_MAX];
    if path.len() <= FILE_PATH_MAX {
        out[..path.len()].copy_from_slice(path);
    } else {
        out[..3].copy_from_slice(b"...");
        out[3..].copy_from_slice(&path[path.len() - (FILE_PATH_MAX - 3)..]);
    }
    out
}
