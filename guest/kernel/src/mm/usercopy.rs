//! Copies between user memory and the kernel, a frame at a time: the range
//! is cut where it crosses a page, and each page is translated first by
//! the caller's `translate` (addrspace.rs: the region's protection checked,
//! the page demanded in, a copy-on-write page broken before a write).

use crate::memlayout::{PAGE, Pa, Va, p2v};

/// What a copy does to the user's page: the kernel reads it (copy_in) or
/// writes it (copy_out).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Read,
    Write,
}

/// Call `f(pa, offset, n)` for each piece of [va, va+len) that lies in one
/// frame, its frame from `translate`. False at the first page it refuses.
fn chunks(
    va: u64,
    len: usize,
    mut translate: impl FnMut(Va) -> Option<Pa>,
    mut f: impl FnMut(Pa, usize, usize),
) -> bool {
    let mut done = 0;
    while done < len {
        let a = va + done as u64;
        let n = ((PAGE - (a & (PAGE - 1))) as usize).min(len - done);
        let Some(pa) = translate(Va(a)) else {
            return false;
        };
        f(pa, done, n);
        done += n;
    }
    true
}

/// Copy the user bytes at `va` into `dst`. False if `translate` refuses a
/// page (some bytes may have been copied).
pub fn copy_in(dst: &mut [u8], va: u64, translate: impl FnMut(Va) -> Option<Pa>) -> bool {
    let len = dst.len();
    chunks(va, len, translate, |pa, off, n| {
        // SAFETY: `translate` gave pa for a page the process may read;
        // pa..pa+n lies in that one frame; off+n <= len.
        unsafe { core::ptr::copy_nonoverlapping(p2v::<u8>(pa), dst[off..].as_mut_ptr(), n) };
    })
}

/// Copy `src` to user `va`. False if `translate` refuses a page (some
/// bytes may have been copied).
pub fn copy_out(va: u64, src: &[u8], translate: impl FnMut(Va) -> Option<Pa>) -> bool {
    chunks(va, src.len(), translate, |pa, off, n| {
        // SAFETY: as in copy_in, for a page the process may write.
        unsafe { core::ptr::copy_nonoverlapping(src[off..].as_ptr(), p2v::<u8>(pa), n) };
    })
}
