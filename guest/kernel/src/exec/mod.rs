//! Load a program (an ELF64 image: a built-in program or a boot module)
//! into a fresh address space, as xv6's exec does, and lay out its
//! start-up stack. Segments become regions named for what they hold:
//! code (R+X), rodata (R), data (the file part of RW), data+bss (the page
//! where the file part of RW ends and its zero fill begins), bss (RW
//! beyond the file on pages of its own, zero, demand paged). A page two
//! segments share gets both segments' bytes and the union of their
//! protections.

pub mod elf;
pub mod stack;

use abi::msg::{
    PROT_W, PROT_X, REGION_BSS, REGION_CODE, REGION_DATA, REGION_DATA_BSS, REGION_RODATA,
};

use crate::memlayout::{PAGE, Pa, Va, p2v, page_down, page_up};
use crate::mm::addrspace::AddrSpace;
use crate::mm::frame;
use elf::{Elf, MAX_SEGMENTS, Segment};

/// Where an image's bytes come from: a slice in memory (a built-in
/// program, a boot module) or a file of the RAM file system.
pub trait Source {
    /// Copy the bytes at `off` into `dst`: false if they are not all there.
    fn read(&self, off: u64, dst: &mut [u8]) -> bool;
}

impl Source for &[u8] {
    fn read(&self, off: u64, dst: &mut [u8]) -> bool {
        let Some(src) = usize::try_from(off)
            .ok()
            .and_then(|o| self.get(o..o.checked_add(dst.len())?))
        else {
            return false;
        };
        dst.copy_from_slice(src);
        true
    }
}

/// A stretch of pages with one kind and protection.
#[derive(Clone, Copy, Default)]
struct Piece {
    kind: u32,
    prot: u32,
    start: u64,
    end: u64,
}

fn kind_of(prot: u32) -> u32 {
    if prot & PROT_X != 0 {
        REGION_CODE
    } else if prot & PROT_W != 0 {
        REGION_DATA
    } else {
        REGION_RODATA
    }
}

/// Cut the segments into pieces: each segment's file part, then its bss
/// (whole pages past the file bytes); a page shared with the previous
/// piece becomes a one-page piece of its own with both protections.
fn pieces(segs: &[Segment], out: &mut [Piece; 4 * MAX_SEGMENTS]) -> Option<usize> {
    let mut n = 0;
    for s in segs {
        let file_end = page_up(s.vaddr + s.filesz)?.max(page_down(s.vaddr));
        let mem_end = page_up(s.vaddr + s.memsz)?;
        let parts = [
            (kind_of(s.prot), page_down(s.vaddr), file_end),
            (REGION_BSS, file_end, mem_end),
        ];
        for (mut kind, mut start, end) in parts {
            // bss only where writable; read-only zero fill loads eagerly.
            if kind == REGION_BSS && s.prot & PROT_W == 0 {
                kind = kind_of(s.prot);
            }
            if n > 0 && out[n - 1].end > start {
                // The previous piece ends on this one's first page.
                let last = &mut out[n - 1];
                let prot = last.prot | s.prot;
                if last.start == start {
                    last.prot = prot;
                    last.kind = kind_of(prot);
                } else {
                    last.end = start;
                    out[n] = Piece {
                        kind: kind_of(prot),
                        prot,
                        start,
                        end: start + PAGE,
                    };
                    n += 1;
                }
                start += PAGE;
            }
            if start < end {
                out[n] = Piece {
                    kind,
                    prot: s.prot,
                    start,
                    end,
                };
                n += 1;
            }
            if kind == REGION_DATA {
                n = split_data_bss(s, out, n);
            }
        }
    }
    Some(n)
}

/// If the data piece just cut (the last of `out[..n]`) ends on a page where
/// `s`'s zero fill begins, make that page a data+bss piece of its own;
/// the new count.
fn split_data_bss(s: &Segment, out: &mut [Piece; 4 * MAX_SEGMENTS], n: usize) -> usize {
    let file_end = s.vaddr + s.filesz;
    let last = &mut out[n - 1];
    if s.memsz == s.filesz
        || file_end.is_multiple_of(PAGE)
        || last.kind != REGION_DATA
        || last.end != file_end.next_multiple_of(PAGE)
    {
        return n;
    }
    if last.end - last.start == PAGE {
        last.kind = REGION_DATA_BSS;
        return n;
    }
    last.end -= PAGE;
    out[n] = Piece {
        kind: REGION_DATA_BSS,
        start: last.end,
        end: last.end + PAGE,
        ..*last
    };
    n + 1
}

/// Load the checked image `e` of `img` into `aspace`: map every page that
/// holds file bytes (bss comes on demand), then place heap and stack.
/// Err when memory runs out or the regions do not fit the table.
pub fn load(aspace: &mut AddrSpace, img: &dyn Source, e: &Elf) -> Result<(), &'static str> {
    const NOMEM: &str = "out of memory loading the program";
    let segs = &e.segs[..e.nsegs];
    let mut ps = [Piece::default(); 4 * MAX_SEGMENTS];
    let n = pieces(segs, &mut ps).ok_or("segment end overflows")?;
    let mut image_end = 0;
    for p in &ps[..n] {
        if !aspace.regions.add(p.kind, p.prot, p.start, p.end) {
            return Err("too many regions");
        }
        image_end = p.end;
        if p.kind == REGION_BSS {
            continue;
        }
        let mut va = p.start;
        while va < p.end {
            let pa = frame::alloc().ok_or(NOMEM)?;
            if !fill(pa, va, img, segs) {
                frame::free(pa);
                return Err("the file is shorter than its segments");
            }
            if !aspace.map(Va(va), pa, p.prot) {
                frame::free(pa);
                return Err(NOMEM);
            }
            va += PAGE;
        }
    }
    if aspace.set_layout(image_end) {
        Ok(())
    } else {
        Err("too many regions")
    }
}

/// Copy into the (zeroed) frame `pa` the file bytes of every segment that
/// lands in the page at `va`; false if the source lacks some.
fn fill(pa: Pa, va: u64, img: &dyn Source, segs: &[Segment]) -> bool {
    for s in segs {
        let lo = va.max(s.vaddr);
        let hi = (va + PAGE).min(s.vaddr + s.filesz);
        if lo < hi {
            let src = s.off + (lo - s.vaddr);
            let n = (hi - lo) as usize;
            // SAFETY: the frame is ours, and lo-va+n <= PAGE.
            let dst = unsafe { core::slice::from_raw_parts_mut(p2v::<u8>(pa.add(lo - va)), n) };
            if !img.read(src, dst) {
                return false;
            }
        }
    }
    true
}
