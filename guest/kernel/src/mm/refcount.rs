//! How many address spaces map each 4 KiB frame: fork shares a process's
//! pages with its child instead of copying them, so a user page's frame
//! goes back to the allocator only when its last mapping goes (`put`).
//!
//! One u16 per frame of RAM, indexed by `pa / PAGE` from address 0 (boot
//! modules' frames, below the first free one, are handed over later), in
//! frames `frame::init` reserves: 2 bytes per 4 KiB, 0.05% of RAM (1 MiB
//! at the 2 GiB maximum). A u16 is simpler than a u8 with an overflow
//! table and cannot be outgrown by the sharing fork makes: a frame has at
//! most one mapping per address space, and there are `proc::NPROC` (64) of
//! those; `share` still refuses to wrap, so a caller can fail cleanly.
//!
//! Counts mean something only for allocated frames: every allocation sets
//! its frames' counts to 1 (so nothing needs zeroing at boot), and page
//! tables, which are never shared, are freed without looking at theirs.

use crate::memlayout::{PAGE, Pa, p2v};
use crate::mm::frame;
use crate::sync::KCell;

struct Counts {
    /// The table, in the kernel window.
    at: *mut u16,
    /// Frames it covers: [0, len * PAGE).
    len: u64,
}

/// Shared-frame reference counts. Protected by the big kernel lock; taken
/// once per count change by `counts()`.
static COUNTS: KCell<Counts> = KCell::new(Counts {
    at: core::ptr::null_mut(),
    len: 0,
});

fn counts() -> &'static mut Counts {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry; each function here takes it once.
    unsafe { COUNTS.get() }
}

/// Frames the table for RAM ending at `end` takes.
pub fn frames_for(end: Pa) -> u64 {
    (end.get() / PAGE * 2).div_ceil(PAGE)
}

/// Keep the counts for frames below `end` at `table` (`frames_for(end)`
/// frames that the allocator no longer hands out).
pub fn init(table: Pa, end: Pa) {
    let c = counts();
    c.at = p2v::<u16>(table);
    c.len = end.get() / PAGE;
}

/// The count's slot for `pa`, if the table covers it.
fn slot(pa: Pa) -> Option<*mut u16> {
    let c = counts();
    let i = pa.get() / PAGE;
    // SAFETY: i < len: inside the table init was given.
    (i < c.len).then(|| unsafe { c.at.add(i as usize) })
}

/// Set `pa`'s count to 1: a frame just handed out.
pub fn set_one(pa: Pa) {
    if let Some(s) = slot(pa) {
        // SAFETY: a slot of the table, reserved for it at init.
        unsafe { s.write(1) };
    }
}

/// How many mappings `pa` has (0: free, or outside the table).
pub fn count(pa: Pa) -> u32 {
    // SAFETY: as in set_one.
    slot(pa).map_or(0, |s| u32::from(unsafe { s.read() }))
}

/// One more mapping of the allocated frame `pa`. False (nothing changed)
/// if its count is at its maximum or it is not a counted frame.
#[must_use]
pub fn share(pa: Pa) -> bool {
    let Some(s) = slot(pa) else { return false };
    // SAFETY: as in set_one.
    let n = unsafe { s.read() };
    if n == 0 || n == u16::MAX {
        return false;
    }
    // SAFETY: as in set_one.
    unsafe { s.write(n + 1) };
    true
}

/// One mapping of user page frame `pa` fewer: free it when that was the
/// last. True if it was freed. A frame the table does not cover is freed
/// (it cannot have been shared); a count already 0 is left alone, never
/// freed twice.
pub fn put(pa: Pa) -> bool {
    let Some(s) = slot(pa) else {
        frame::free(pa);
        return true;
    };
    // SAFETY: as in set_one.
    let n = unsafe { s.read() };
    match n {
        0 => false,
        1 => {
            // SAFETY: as in set_one.
            unsafe { s.write(0) };
            frame::free(pa);
            true
        }
        _ => {
            // SAFETY: as in set_one.
            unsafe { s.write(n - 1) };
            false
        }
    }
}
