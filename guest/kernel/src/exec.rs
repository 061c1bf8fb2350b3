//! Load a user program (an ELF64 image embedded in the kernel) into a fresh
//! address space, as xv6's exec does. The image is checked first: it comes
//! from the build, but a kernel does not trust a file format.

use abi::msg::{PROT_R, PROT_W, PROT_X, REGION_CODE, REGION_DATA};

use crate::memlayout::{PAGE, USER_BASE, p2v, page_down, page_up};
use crate::mm::frame;
use crate::mm::uvm::AddrSpace;

/// Highest address a program's segments may reach.
const IMAGE_LIMIT: u64 = 0x1000_0000;

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

struct Segment {
    vaddr: u64,
    memsz: u64,
    off: u64,
    filesz: u64,
    prot: u32,
}

fn segment(img: &[u8], ph: usize) -> Option<Option<Segment>> {
    if u32_at(img, ph)? != 1 {
        return Some(None); // not PT_LOAD
    }
    let flags = u32_at(img, ph + 4)?;
    let s = Segment {
        off: u64_at(img, ph + 8)?,
        vaddr: u64_at(img, ph + 16)?,
        filesz: u64_at(img, ph + 32)?,
        memsz: u64_at(img, ph + 40)?,
        prot: (if flags & 4 != 0 { PROT_R } else { 0 })
            | (if flags & 2 != 0 { PROT_W } else { 0 })
            | (if flags & 1 != 0 { PROT_X } else { 0 }),
    };
    let end = s.vaddr.checked_add(s.memsz)?;
    let fend = s.off.checked_add(s.filesz)?;
    if s.filesz > s.memsz || s.vaddr < USER_BASE || end > IMAGE_LIMIT || fend > img.len() as u64 {
        return None;
    }
    Some(Some(s))
}

/// Load `img` into `aspace`; return the entry point. None if the image is
/// malformed or memory runs out.
pub fn load(aspace: &mut AddrSpace, img: &[u8]) -> Option<u64> {
    if img.get(0..4)? != b"\x7fELF" || *img.get(4)? != 2 || u16_at(img, 18)? != 62 {
        return None;
    }
    let entry = u64_at(img, 24)?;
    let phoff = u64_at(img, 32)? as usize;
    let phentsize = u16_at(img, 54)? as usize;
    let phnum = u16_at(img, 56)? as usize;
    if phentsize < 56 {
        return None;
    }
    let mut image_end = USER_BASE;
    let mut entry_ok = false;
    for k in 0..phnum {
        let Some(s) = segment(img, phoff.checked_add(k.checked_mul(phentsize)?)?)? else {
            continue;
        };
        let end = s.vaddr + s.memsz;
        entry_ok |= s.prot & PROT_X != 0 && s.vaddr <= entry && entry < end;
        let kind = if s.prot & PROT_X != 0 {
            REGION_CODE
        } else {
            REGION_DATA
        };
        let (start, stop) = (page_down(s.vaddr), page_up(end)?);
        if !aspace.add_region(kind, s.prot, start, stop) {
            return None;
        }
        let mut va = start;
        while va < stop {
            let pa = frame::alloc()?;
            // Copy the part of the file that lands in this page.
            let lo = va.max(s.vaddr);
            let hi = (va + PAGE).min(s.vaddr + s.filesz);
            if lo < hi {
                let src = (s.off + (lo - s.vaddr)) as usize;
                let n = (hi - lo) as usize;
                // SAFETY: the frame is ours; src..src+n was bounds-checked in segment().
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        img.as_ptr().add(src),
                        p2v::<u8>(pa + (lo - va)),
                        n,
                    )
                };
            }
            if !aspace.map(va, pa, s.prot) {
                frame::free(pa);
                return None;
            }
            va += PAGE;
        }
        image_end = image_end.max(stop);
    }
    (entry_ok && aspace.set_layout(image_end)).then_some(entry)
}
