//! What the guest kernel accepts as an executable, defined once: the
//! kernel's exec parses every program with [`parse`] before anything is
//! mapped, and the VMM calls the same function on each `--run` file on
//! the host, so a file the kernel would refuse is refused there (exit 2,
//! naming it) instead of failing inside the guest.
//!
//! The rules: ELF64 little-endian x86-64, ET_EXEC or ET_DYN (placed at
//! PIE_BASE), no PT_INTERP, program header entries of at least 56 bytes,
//! at most [`MAX_SEGMENTS`] PT_LOADs (empty ones included), in address
//! order and not overlapping, each with filesz <= memsz, its bytes inside
//! the file, and its pages inside [[`LOAD_MIN`], IMAGE_END); the entry
//! point inside an executable (PF_X) segment.

use crate::msg::{PROT_R, PROT_W, PROT_X};
use crate::syscall::{IMAGE_END, PIE_BASE};

const PAGE: u64 = 4096;

fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

fn page_up(a: u64) -> Option<u64> {
    Some(a.checked_add(PAGE - 1)? & !(PAGE - 1))
}

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
/// Most PT_LOAD segments a program may have (static programs have 2-5).
pub const MAX_SEGMENTS: usize = 16;
/// Lowest address a segment may start at (Linux's mmap_min_addr).
pub const LOAD_MIN: u64 = 0x1_0000;

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// One PT_LOAD, load bias applied.
#[derive(Clone, Copy, Default)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub off: u64,
    pub filesz: u64,
    pub prot: u32,
}

/// What the loader and the start-up stack need to know.
pub struct Elf {
    pub entry: u64,
    /// Where the program headers are in the loaded image (AT_PHDR; 0 if
    /// no segment holds them).
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    pub segs: [Segment; MAX_SEGMENTS],
    pub nsegs: usize,
}

/// Parse and check `img`: ELF64 little-endian x86-64, ET_EXEC or ET_DYN
/// (placed at PIE_BASE), no PT_INTERP, PT_LOADs in address order, not
/// overlapping, filesz <= memsz, inside the file and the user image area,
/// entry in an executable segment.
pub fn parse(img: &[u8]) -> Result<Elf, &'static str> {
    parse_head(img, img.len() as u64)
}

/// Like [`parse`], from the first bytes of a file of `file_len` bytes
/// (the kernel reads a file's head into a buffer to exec it): the headers
/// must lie in `head`, the segments' bytes in the file.
pub fn parse_head(img: &[u8], file_len: u64) -> Result<Elf, &'static str> {
    const SHORT: &str = "ELF headers run past the end of the file";
    if img.get(0..4) != Some(b"\x7fELF") {
        return Err("not an ELF file");
    }
    if img.get(4) != Some(&2) || img.get(5) != Some(&1) || u16_at(img, 18) != Some(62) {
        return Err("not a 64-bit little-endian x86-64 ELF");
    }
    let bias = match u16_at(img, 16).ok_or(SHORT)? {
        ET_EXEC => 0,
        ET_DYN => PIE_BASE,
        _ => return Err("not an executable (ET_EXEC or ET_DYN)"),
    };
    let entry = u64_at(img, 24)
        .ok_or(SHORT)?
        .checked_add(bias)
        .ok_or("entry point overflows")?;
    let phoff = u64_at(img, 32).ok_or(SHORT)?;
    let phent = u16_at(img, 54).ok_or(SHORT)? as u64;
    let phnum = u16_at(img, 56).ok_or(SHORT)? as u64;
    if phent < 56 {
        return Err("program header entries are too small");
    }
    let mut e = Elf {
        entry,
        phdr: 0,
        phnum,
        phent,
        segs: [Segment::default(); MAX_SEGMENTS],
        nsegs: 0,
    };
    let mut pt_phdr = None;
    for k in 0..phnum {
        let ph = phoff
            .checked_add(k * phent)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(SHORT)?;
        let ty = u32_at(img, ph).ok_or(SHORT)?;
        match ty {
            PT_INTERP => {
                return Err("dynamically linked (PT_INTERP): link it with -static or -static-pie");
            }
            PT_PHDR => pt_phdr = Some(u64_at(img, ph + 16).ok_or(SHORT)?.wrapping_add(bias)),
            PT_LOAD => {
                let s = segment(img, ph, bias, file_len)?;
                if let Some(prev) = e.segs[..e.nsegs].last()
                    && s.vaddr < prev.vaddr + prev.memsz
                {
                    return Err("PT_LOAD segments overlap or are out of address order");
                }
                if e.nsegs == MAX_SEGMENTS {
                    return Err("too many PT_LOAD segments");
                }
                e.segs[e.nsegs] = s;
                e.nsegs += 1;
            }
            _ => {}
        }
    }
    let segs = &e.segs[..e.nsegs];
    if segs.is_empty() {
        return Err("no PT_LOAD segment");
    }
    if !segs
        .iter()
        .any(|s| s.prot & PROT_X != 0 && s.vaddr <= entry && entry < s.vaddr + s.memsz)
    {
        return Err("entry point is not in an executable segment");
    }
    // The headers as loaded: PT_PHDR says where, else the segment whose
    // file bytes hold them (gcc -static has no PT_PHDR).
    e.phdr = pt_phdr.unwrap_or_else(|| {
        segs.iter()
            .find(|s| {
                s.off <= phoff
                    && phoff
                        .checked_add(phnum * phent)
                        .is_some_and(|end| end <= s.off + s.filesz)
            })
            .map_or(0, |s| s.vaddr + (phoff - s.off))
    });
    Ok(e)
}

fn segment(img: &[u8], ph: usize, bias: u64, file_len: u64) -> Result<Segment, &'static str> {
    const SHORT: &str = "ELF headers run past the end of the file";
    let flags = u32_at(img, ph + 4).ok_or(SHORT)?;
    let s = Segment {
        off: u64_at(img, ph + 8).ok_or(SHORT)?,
        vaddr: u64_at(img, ph + 16)
            .ok_or(SHORT)?
            .checked_add(bias)
            .ok_or("segment address overflows")?,
        filesz: u64_at(img, ph + 32).ok_or(SHORT)?,
        memsz: u64_at(img, ph + 40).ok_or(SHORT)?,
        prot: (if flags & 4 != 0 { PROT_R } else { 0 })
            | (if flags & 2 != 0 { PROT_W } else { 0 })
            | (if flags & 1 != 0 { PROT_X } else { 0 }),
    };
    if s.filesz > s.memsz {
        return Err("a segment's file size exceeds its memory size");
    }
    match s.off.checked_add(s.filesz) {
        Some(end) if end <= file_len => {}
        _ => return Err("a segment's bytes lie past the end of the file"),
    }
    let end = s.vaddr.checked_add(s.memsz).and_then(page_up);
    if page_down(s.vaddr) < LOAD_MIN || end.is_none_or(|e| e > IMAGE_END) {
        return Err("a segment lies outside the user image area");
    }
    Ok(s)
}
