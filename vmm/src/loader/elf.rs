//! The kernel ELF's headers, read straight from the file bytes and checked
//! against the guest-physical layout before anything is copied.
//!
//! ```text
//! file: [ELF header, 64 B][program headers, 56 B each] ... [segment bytes]
//! GPA:  0 .. RESERVED_END: VMM boot structures | PT_LOAD segments | free .. ram_size
//! VA:   the boot page tables map VA == GPA, and VA == KERNEL_BASE + GPA for
//!       GPA < 2 GiB, so a segment must be linked at one of the two.
//! ```

use super::LoaderError;
use crate::addr::{Gpa, Gva, PAGE};
use abi::layout::{KERNEL_BASE, RESERVED_END};

mod headers;

use headers::u32_at;
pub(super) use headers::{Ehdr, Phdr, contains, file_part, file_range, ident, phdr, table};

pub(super) const ET_EXEC: u16 = 2;
pub(super) const ET_DYN: u16 = 3;
pub(super) const PT_LOAD: u32 = 1;
pub(super) const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
/// Xen's note type for the PVH boot protocol's 32-bit physical entry point.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// GPAs the KERNEL_BASE window covers: KERNEL_BASE + 2 GiB wraps to 0.
const KERNEL_WINDOW: u64 = KERNEL_BASE.wrapping_neg();

/// What the loader learned from a valid kernel ELF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfSummary {
    /// e_entry: where the boot vCPU starts, through the boot page tables.
    pub entry: Gva,
    /// Each PT_LOAD segment's first GPA and p_memsz, in program header order.
    pub segments: Vec<(Gpa, u64)>,
    /// First page-aligned GPA past every segment: free frames start here.
    pub end: Gpa,
    /// The PVH entry point (Xen note XEN_ELFNOTE_PHYS32_ENTRY), if present.
    pub pvh_entry: Option<Gpa>,
}

/// One PT_LOAD segment that occupies memory.
pub(super) struct Load {
    pub index: usize,
    pub paddr: Gpa,
    pub vaddr: Gva,
    pub filesz: u64,
    pub memsz: u64,
}

impl Load {
    /// First GPA past the segment; check_load proved the sum fits.
    fn end(&self) -> u64 {
        self.paddr.raw().saturating_add(self.memsz)
    }
}

/// A checked image: the summary, plus what load needs to zero each bss.
pub(super) struct Checked {
    pub summary: ElfSummary,
    pub loads: Vec<Load>,
}

/// Check that `bytes` is an x86-64 kernel ELF whose segments fit a guest of
/// `ram_size` bytes and the boot page tables, and summarize it.
pub fn validate(bytes: &[u8], ram_size: u64) -> Result<ElfSummary, LoaderError> {
    check(bytes, ram_size).map(|c| c.summary)
}

/// validate, keeping the per-segment detail load needs.
pub(super) fn check(bytes: &[u8], ram_size: u64) -> Result<Checked, LoaderError> {
    let ehdr = header(bytes)?;
    let mut loads = Vec::new();
    let mut pvh_entry = None;
    for index in 0..usize::from(ehdr.phnum) {
        let ph = phdr(bytes, &ehdr, index)?;
        match ph.p_type {
            PT_LOAD => loads.extend(check_load(bytes, ram_size, index, &ph)?),
            PT_NOTE => pvh_entry = pvh_entry.or(pvh_note(bytes, index, &ph)?),
            _ => {}
        }
    }
    if loads.is_empty() {
        return Err(LoaderError::NoLoad);
    }
    no_overlap(&loads)?;
    let entry = Gva(ehdr.entry);
    if !loads
        .iter()
        .any(|l| contains(l.vaddr.raw(), l.memsz, entry.raw()))
    {
        return Err(LoaderError::EntryOutside { entry });
    }
    if let Some(entry) = pvh_entry
        && !loads
            .iter()
            .any(|l| contains(l.paddr.raw(), l.memsz, entry.raw()))
    {
        return Err(LoaderError::PvhEntryOutside { entry });
    }
    let top = loads
        .iter()
        .max_by_key(|l| l.end())
        .ok_or(LoaderError::NoLoad)?;
    let end = top
        .end()
        .checked_next_multiple_of(PAGE)
        .ok_or(LoaderError::AddressOverflow {
            index: top.index,
            addr: top.paddr.raw(),
            size: top.memsz,
        })?;
    let summary = ElfSummary {
        entry,
        segments: loads.iter().map(|l| (l.paddr, l.memsz)).collect(),
        end: Gpa(end),
        pvh_entry,
    };
    Ok(Checked { summary, loads })
}

/// Check the identification bytes and the ELF header, and locate the
/// program header table inside the file: the kernel must be ET_EXEC.
fn header(bytes: &[u8]) -> Result<Ehdr, LoaderError> {
    let e_type = ident(bytes)?;
    if e_type != ET_EXEC {
        return Err(LoaderError::NotExec { e_type });
    }
    table(bytes)
}

/// Check one PT_LOAD against the file, guest RAM, the boot structures and
/// the boot page tables. Segments with no memory size load nothing: None.
fn check_load(
    bytes: &[u8],
    ram: u64,
    index: usize,
    ph: &Phdr,
) -> Result<Option<Load>, LoaderError> {
    file_part(bytes, index, ph)?;
    if ph.memsz == 0 {
        return Ok(None);
    }
    let overflow = LoaderError::AddressOverflow {
        index,
        addr: ph.paddr,
        size: ph.memsz,
    };
    let (start, end) = (
        Gpa(ph.paddr),
        Gpa(ph.paddr.checked_add(ph.memsz).ok_or(overflow)?),
    );
    if end.raw() > ram {
        return Err(LoaderError::OutsideRam {
            index,
            start,
            end,
            ram_size: ram,
        });
    }
    if start.raw() < RESERVED_END {
        return Err(LoaderError::Reserved { index, start, end });
    }
    let high = ph.paddr.checked_add(KERNEL_BASE) == Some(ph.vaddr);
    if ph.vaddr != ph.paddr && !high {
        return Err(LoaderError::Unmapped {
            index,
            vaddr: Gva(ph.vaddr),
            paddr: start,
        });
    }
    if high && end.raw() > KERNEL_WINDOW {
        return Err(LoaderError::PastKernelWindow { index, start, end });
    }
    let (vaddr, filesz, memsz) = (Gva(ph.vaddr), ph.filesz, ph.memsz);
    Ok(Some(Load {
        index,
        paddr: start,
        vaddr,
        filesz,
        memsz,
    }))
}

/// Segments must not share a guest-physical byte.
fn no_overlap(loads: &[Load]) -> Result<(), LoaderError> {
    let spans = loads.iter().map(|l| (l.index, l.paddr.raw(), l.end()));
    match first_overlap(spans) {
        Some((first, second, at)) => Err(LoaderError::Overlap {
            first,
            second,
            at: Gpa(at),
        }),
        None => Ok(()),
    }
}

/// The first two spans (index, start, end) that share a byte, as (lower
/// index, higher index, where the later-starting one starts). Two intervals
/// [a, b) and [c, d) with a <= c intersect iff c < b, so after sorting by
/// start only neighbours need comparing.
pub(super) fn first_overlap(
    spans: impl Iterator<Item = (usize, u64, u64)>,
) -> Option<(usize, usize, u64)> {
    let mut order: Vec<(usize, u64, u64)> = spans.collect();
    order.sort_by_key(|&(_, start, _)| start);
    order.windows(2).find_map(|pair| match *pair {
        [(i, _, end), (j, start, _)] if start < end => Some((i.min(j), i.max(j), start)),
        _ => None,
    })
}

/// Walk the notes of a PT_NOTE segment and return the PVH entry point from
/// the first "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY, if any.
fn pvh_note(bytes: &[u8], index: usize, ph: &Phdr) -> Result<Option<Gpa>, LoaderError> {
    let Some(notes) = file_range(bytes, ph.offset, ph.filesz) else {
        let (offset, size, len) = (ph.offset, ph.filesz, bytes.len());
        return Err(LoaderError::FileRange {
            index,
            offset,
            size,
            len,
        });
    };
    // Notes are 4-byte aligned on x86-64, except in segments aligned to 8
    // (GNU property notes), as readelf reads them.
    let align = if ph.align == 8 { 8 } else { 4 };
    let mut at = 0usize;
    let mut found = None;
    while at < notes.len() {
        // One note: namesz, descsz, type (u32 each), name, pad, desc, pad.
        let parse = || {
            let field = |off: usize| u32_at(notes, u64::try_from(at.checked_add(off)?).ok()?);
            let namesz = usize::try_from(field(0)?).ok()?;
            let descsz = usize::try_from(field(4)?).ok()?;
            let name_at = at.checked_add(12)?;
            let desc_at = name_at
                .checked_add(namesz)?
                .checked_next_multiple_of(align)?;
            let name = notes.get(name_at..name_at.checked_add(namesz)?)?;
            let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
            let next = desc_at
                .checked_add(descsz)?
                .checked_next_multiple_of(align)?;
            Some((field(8)?, name, desc, next))
        };
        let offset = ph.offset.saturating_add(at as u64);
        let (n_type, name, desc, next) = parse().ok_or(LoaderError::BadNote { index, offset })?;
        if n_type == XEN_ELFNOTE_PHYS32_ENTRY && name == b"Xen\0" && found.is_none() {
            let size = u32::try_from(desc.len()).unwrap_or(u32::MAX);
            let entry = match *desc {
                [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
                [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
                _ => return Err(LoaderError::PvhNoteSize { index, size }),
            };
            found = Some(Gpa(entry));
        }
        at = next;
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
