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
//!
//! addrspace.rs places the region (`mmap_file`) and counts the pages; here
//! are the page flags, the mapping of one file frame, and the names.

use abi::msg::{FILE_PATH_MAX, FileName, MAX_FILES, REGION_FILE, Region};
use abi::syscall::{ENOMEM, MAP_SHARED};

use crate::memlayout::{Pa, Va};
use crate::mm::userpages::{self, prot_flags};
use crate::mm::{frame, pte};

/// The leaf flags for the pages of a file mapping with mmap's `prot` and
/// `flags`: shared, or private (copy-on-write if writable).
pub fn page_flags(prot: u64, flags: u64) -> u64 {
    let shared = flags & 3 == MAP_SHARED || flags & 3 == 3;
    let f = prot_flags((prot & 7) as u32);
    if shared {
        f | pte::SHARED
    } else if f & pte::W != 0 {
        (f & !pte::W) | pte::COW
    } else {
        f
    }
}

/// Map one file frame (`pa`, or the -errno getting it gave) at `va` under
/// `root` with page-table `flags`, one reference more on it.
pub fn map_page(root: Pa, va: u64, flags: u64, pa: Result<Pa, i64>) -> Result<(), i64> {
    let pa = pa?;
    let (t, i) = userpages::slot(root, Va(va), 1).ok_or(ENOMEM)?;
    if userpages::holds(pte::read(t, i)) || !frame::share(pa) {
        return Err(ENOMEM);
    }
    pte::write(t, i, pte::entry(pa, flags));
    Ok(())
}

/// Map a fresh frame at `va` under `root` with page-table `flags` (with
/// SHARED): a page of MAP_SHARED|MAP_ANONYMOUS memory, which a process
/// shares with the children it forks (the classic parent-child shared
/// counter), so fork hands the very frame to the child, writable, rather
/// than a copy on demand. ENOMEM when frames run out.
pub fn map_fresh(root: Pa, va: u64, flags: u64) -> Result<(), i64> {
    let pa = frame::alloc().ok_or(ENOMEM)?;
    if userpages::map(root, Va(va), pa, flags) {
        Ok(())
    } else {
        frame::put(pa);
        Err(ENOMEM)
    }
}

/// The names of the files an address space maps, by call.
#[derive(Clone, Copy)]
pub struct FileNames {
    list: [FileName; MAX_FILES],
    n: usize,
}

impl Default for FileNames {
    fn default() -> FileNames {
        FileNames {
            list: [FileName::default(); MAX_FILES],
            n: 0,
        }
    }
}

impl FileNames {
    /// Name the file that call `call` mapped (`path`, its absolute path)
    /// if fewer than MAX_FILES mappings still mapped (in `regions`) are
    /// named; else it stays unnamed.
    pub fn name(&mut self, call: u32, path: &[u8], regions: &[Region]) {
        let (files, n) = self.named(regions);
        self.list = files;
        self.n = n;
        if n < MAX_FILES {
            self.list[n] = FileName {
                call,
                _pad: 0,
                path: fit(path),
            };
            self.n = n + 1;
        }
    }

    /// Whether `name` would keep a new name: fewer than MAX_FILES named
    /// mappings are still mapped.
    pub fn room(&self, regions: &[Region]) -> bool {
        self.named(regions).1 < MAX_FILES
    }

    /// The names of the file mappings still mapped (some region of their
    /// call is left in `regions`), in the order they were mapped, and how
    /// many.
    pub fn named(&self, regions: &[Region]) -> ([FileName; MAX_FILES], usize) {
        let mut out = [FileName::default(); MAX_FILES];
        let mut n = 0;
        for f in &self.list[..self.n.min(MAX_FILES)] {
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
