//! A node's bytes in 4 KiB frames, found through a radix tree of index
//! frames (512 frame addresses each), as deep as the size needs:
//!
//! ```text
//! depth 0: root = the one data frame            (bytes 0 .. 4 KiB)
//! depth 1: root = index -> 512 data frames      (.. 2 MiB)
//! depth 2: root = index -> 512 indexes -> ...   (.. 1 GiB: MAX_SIZE)
//! ```
//!
//! A zero entry is a hole: it reads as zeros and gets a frame when first
//! written. Bytes past the size in the last frame are always zero
//! (`truncate` clears them), so a file that grows never shows old bytes.
//!
//! A data frame may also be mapped into processes (mmap of a file): its
//! reference count (mm/refcount.rs) holds one for the file and one per
//! mapping, and the last to let go frees it.
//!
//! Every frame here (data and index alike) counts against the file
//! system's budget (`take`): a fixed share of the frames free at boot, so
//! files can never starve processes of memory; ENOSPC beyond it.

use core::sync::atomic::{AtomicU64, Ordering};

use abi::syscall::{EFBIG, ENOSPC};

use crate::memlayout::{PAGE, Pa, p2v};
use crate::mm::frame;

/// Entries of an index frame.
const FANOUT: u64 = 512;
/// The deepest tree.
const MAX_DEPTH: u8 = 2;
/// Largest node: what a depth-2 tree addresses (1 GiB).
pub const MAX_SIZE: u64 = PAGE * FANOUT * FANOUT;

/// Where a node's bytes are: the tree's root frame (0: no frame yet) and
/// its depth.
#[derive(Clone, Copy, Default)]
pub struct Data {
    pub root: u64,
    pub depth: u8,
}

/// Frames the file system holds now, and the most it may hold.
static HELD: AtomicU64 = AtomicU64::new(0);
static BUDGET: AtomicU64 = AtomicU64::new(0);

/// Let the file system hold at most `frames` frames.
pub fn set_budget(frames: u64) {
    BUDGET.store(frames, Ordering::Relaxed);
}

pub fn budget() -> u64 {
    BUDGET.load(Ordering::Relaxed)
}

/// Frames the file system holds (data and index frames of every node).
pub fn held() -> u64 {
    HELD.load(Ordering::Relaxed)
}

/// A zeroed frame for the file system, within its budget.
fn take() -> Result<Pa, i64> {
    if held() >= budget() {
        return Err(ENOSPC);
    }
    let pa = frame::alloc().ok_or(ENOSPC)?;
    HELD.fetch_add(1, Ordering::Relaxed);
    Ok(pa)
}

/// The file system lets go of a frame: an index frame goes back to the
/// allocator; a data frame (`level` 0) too, unless a process still maps
/// it (a file mapping: `frame::put` counts the mappings, and the last
/// one gives it back).
fn give(pa: Pa, level: u8) {
    if level == 0 {
        frame::put(pa);
    } else {
        frame::free(pa);
    }
    HELD.fetch_sub(1, Ordering::Relaxed);
}

/// Entry `i` of index frame `t`.
fn ent(t: Pa, i: u64) -> u64 {
    // SAFETY: t is an index frame this module allocated (reachable
    // through the kernel window) and i < FANOUT keeps the read inside it.
    unsafe { core::ptr::read(p2v::<u64>(t).add((i % FANOUT) as usize)) }
}

fn set_ent(t: Pa, i: u64, v: u64) {
    // SAFETY: as in ent.
    unsafe { core::ptr::write(p2v::<u64>(t).add((i % FANOUT) as usize), v) }
}

/// Pages a tree of `depth` covers.
fn span(depth: u8) -> u64 {
    FANOUT.pow(u32::from(depth))
}

/// The data frame of page `page`, if it has one (None: a hole).
pub fn frame_at(d: &Data, page: u64) -> Option<Pa> {
    if d.root == 0 || page >= span(d.depth) {
        return None;
    }
    let mut at = d.root;
    let mut level = d.depth;
    while level > 0 {
        let child = span(level - 1);
        at = ent(Pa(at), page / child % FANOUT);
        if at == 0 {
            return None;
        }
        level -= 1;
    }
    Some(Pa(at))
}

/// The data frame of page `page`, made (with the index frames above it)
/// if it has none: ENOSPC past the budget, EFBIG past MAX_SIZE.
pub fn frame_for(d: &mut Data, page: u64) -> Result<Pa, i64> {
    if page >= span(MAX_DEPTH) {
        return Err(EFBIG);
    }
    while page >= span(d.depth) {
        if d.root != 0 {
            let top = take()?;
            set_ent(top, 0, d.root);
            d.root = top.get();
        }
        d.depth += 1;
    }
    if d.root == 0 {
        d.root = take()?.get();
    }
    let mut at = Pa(d.root);
    let mut level = d.depth;
    while level > 0 {
        let child = span(level - 1);
        let i = page / child % FANOUT;
        let mut e = ent(at, i);
        if e == 0 {
            e = take()?.get();
            set_ent(at, i, e);
        }
        at = Pa(e);
        level -= 1;
    }
    Ok(at)
}

/// Free the tree `pa` of `level` whole.
fn free_tree(pa: Pa, level: u8) {
    if level > 0 {
        for i in 0..FANOUT {
            let e = ent(pa, i);
            if e != 0 {
                free_tree(Pa(e), level - 1);
            }
        }
    }
    give(pa, level);
}

/// Free the pages at or past `keep` under the tree `pa` of `level`, whose
/// first page is `base`; true if the whole tree went (the caller clears
/// its entry).
fn trim(pa: Pa, level: u8, base: u64, keep: u64) -> bool {
    if keep <= base {
        free_tree(pa, level);
        return true;
    }
    if level == 0 || keep >= base + span(level) {
        return false;
    }
    let child = span(level - 1);
    for i in 0..FANOUT {
        let e = ent(pa, i);
        if e != 0 && trim(Pa(e), level - 1, base + i * child, keep) {
            set_ent(pa, i, 0);
        }
    }
    false
}

/// Cut the bytes to `size` (which the caller has checked against
/// MAX_SIZE): frames past it go back, the tail of the last one is zeroed.
pub fn truncate(d: &mut Data, size: u64) {
    let keep = size.div_ceil(PAGE);
    if d.root != 0 && trim(Pa(d.root), d.depth, 0, keep) {
        *d = Data::default();
    }
    if d.root == 0 {
        *d = Data::default();
    }
    let tail = size % PAGE;
    if tail != 0
        && let Some(pa) = frame_at(d, size / PAGE)
    {
        // SAFETY: pa is a data frame of this node; tail < PAGE.
        unsafe {
            core::ptr::write_bytes(p2v::<u8>(pa).add(tail as usize), 0, (PAGE - tail) as usize)
        };
    }
}

/// Free every frame.
pub fn free_all(d: &mut Data) {
    if d.root != 0 {
        free_tree(Pa(d.root), d.depth);
    }
    *d = Data::default();
}

/// Copy bytes from `off` into `dst` (holes read as zeros); the caller
/// keeps `off + dst.len()` within the size.
pub fn read_at(d: &Data, off: u64, dst: &mut [u8]) {
    let mut done = 0;
    while done < dst.len() {
        let at = off + done as u64;
        let n = ((PAGE - at % PAGE) as usize).min(dst.len() - done);
        match frame_at(d, at / PAGE) {
            // SAFETY: a data frame of this node; at % PAGE + n <= PAGE.
            Some(pa) => unsafe {
                core::ptr::copy_nonoverlapping(
                    p2v::<u8>(pa).add((at % PAGE) as usize),
                    dst[done..].as_mut_ptr(),
                    n,
                );
            },
            None => dst[done..done + n].fill(0),
        }
        done += n;
    }
}

/// Copy `src` in at `off`, making frames as needed: the bytes written
/// (fewer than asked when the budget ran out), or -errno if none were.
pub fn write_at(d: &mut Data, off: u64, src: &[u8]) -> Result<usize, i64> {
    let mut done = 0;
    while done < src.len() {
        let at = off + done as u64;
        let n = ((PAGE - at % PAGE) as usize).min(src.len() - done);
        let pa = match frame_for(d, at / PAGE) {
            Ok(pa) => pa,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        // SAFETY: a data frame of this node; at % PAGE + n <= PAGE.
        unsafe {
            core::ptr::copy_nonoverlapping(
                src[done..].as_ptr(),
                p2v::<u8>(pa).add((at % PAGE) as usize),
                n,
            );
        }
        done += n;
    }
    Ok(done)
}

/// The `n` bytes of page `page` from `in_page`, as a kernel slice (None: a
/// hole). For copies straight to user memory.
pub fn page_bytes(d: &Data, page: u64, in_page: usize, n: usize) -> Option<&'static [u8]> {
    let pa = frame_at(d, page)?;
    if in_page + n > PAGE as usize {
        return None;
    }
    // SAFETY: a data frame of this node, in the kernel window; the range
    // lies inside it. The slice is used before the node can change (one
    // CPU, the caller copies it out at once).
    Some(unsafe { core::slice::from_raw_parts(p2v::<u8>(pa).add(in_page), n) })
}
