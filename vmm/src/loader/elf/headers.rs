//! Reading ELF64 headers straight from file bytes, every offset and size
//! checked against the file: the identification (ELF64, little-endian,
//! x86-64), the ELF header's program header table, one program header, a
//! PT_LOAD's file part. Shared by the kernel's checks (elf.rs) and the
//! `--run` programs' (program/).

use super::super::LoaderError;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: u64 = 56;
const ELFCLASS32: u8 = 1;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ELFDATA2MSB: u8 = 2;
const EM_X86_64: u16 = 62;

/// The ELF header fields the loader uses.
pub(in crate::loader) struct Ehdr {
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u16,
}

/// A program header as read from the file.
#[derive(Clone, Copy)]
pub(in crate::loader) struct Phdr {
    pub p_type: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// N bytes at file offset `at`, if the file has them.
fn read<const N: usize>(bytes: &[u8], at: u64) -> Option<[u8; N]> {
    let start = usize::try_from(at).ok()?;
    bytes.get(start..start.checked_add(N)?)?.try_into().ok()
}

fn u16_at(bytes: &[u8], at: u64) -> Option<u16> {
    read(bytes, at).map(u16::from_le_bytes)
}

pub(super) fn u32_at(bytes: &[u8], at: u64) -> Option<u32> {
    read(bytes, at).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], at: u64) -> Option<u64> {
    read(bytes, at).map(u64::from_le_bytes)
}

/// The file bytes [offset, offset + size), if the file has them all.
pub(in crate::loader) fn file_range(bytes: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    bytes.get(start..start.checked_add(usize::try_from(size).ok()?)?)
}

/// Whether `addr` lies in [base, base + size), without computing the end.
pub(in crate::loader) fn contains(base: u64, size: u64, addr: u64) -> bool {
    addr.checked_sub(base).is_some_and(|off| off < size)
}

/// Check what the first 64 bytes say: an ELF64, little-endian, x86-64
/// file. Returns e_type for the caller to judge. Needs only the header, so
/// a caller can refuse a large file before reading it whole.
pub(in crate::loader) fn ident(bytes: &[u8]) -> Result<u16, LoaderError> {
    let truncated = LoaderError::Truncated { len: bytes.len() };
    if bytes.is_empty() {
        return Err(LoaderError::Empty);
    }
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(LoaderError::NotElf);
    }
    match bytes.get(4) {
        None => return Err(truncated),
        Some(&ELFCLASS64) => {}
        Some(&ELFCLASS32) => return Err(LoaderError::Elf32),
        Some(&value) => {
            return Err(LoaderError::BadIdent {
                field: "class",
                value,
            });
        }
    }
    match bytes.get(5) {
        None => return Err(truncated),
        Some(&ELFDATA2LSB) => {}
        Some(&ELFDATA2MSB) => return Err(LoaderError::BigEndian),
        Some(&value) => {
            return Err(LoaderError::BadIdent {
                field: "data encoding",
                value,
            });
        }
    }
    if bytes.len() < EHDR_SIZE {
        return Err(truncated);
    }
    let field16 = |at| u16_at(bytes, at).ok_or(LoaderError::Truncated { len: bytes.len() });
    let machine = field16(18)?;
    if machine != EM_X86_64 {
        return Err(LoaderError::Machine { machine });
    }
    field16(16)
}

/// The ELF header's entry point and program header table, checked to lie
/// inside the file (ident() has accepted the file).
pub(in crate::loader) fn table(bytes: &[u8]) -> Result<Ehdr, LoaderError> {
    let field16 = |at| u16_at(bytes, at).ok_or(LoaderError::Truncated { len: bytes.len() });
    let field64 = |at| u64_at(bytes, at).ok_or(LoaderError::Truncated { len: bytes.len() });
    let ehdr = Ehdr {
        entry: field64(24)?,
        phoff: field64(32)?,
        phnum: field16(56)?,
    };
    if ehdr.phnum == 0 {
        return Err(LoaderError::NoLoad);
    }
    let phentsize = field16(54)?;
    if u64::from(phentsize) != PHDR_SIZE {
        return Err(LoaderError::PhdrEntSize(phentsize));
    }
    if ehdr.phoff < EHDR_SIZE as u64 {
        return Err(LoaderError::PhdrOverlapsHeader { offset: ehdr.phoff });
    }
    let table = u64::from(ehdr.phnum) * PHDR_SIZE; // At most 0xffff * 56: no overflow.
    if file_range(bytes, ehdr.phoff, table).is_none() {
        return Err(outside_table(bytes, &ehdr));
    }
    Ok(ehdr)
}

fn outside_table(bytes: &[u8], ehdr: &Ehdr) -> LoaderError {
    LoaderError::PhdrOutside {
        offset: ehdr.phoff,
        count: ehdr.phnum,
        len: bytes.len(),
    }
}

/// Read program header `index` (header() proved the table is in the file).
pub(in crate::loader) fn phdr(
    bytes: &[u8],
    ehdr: &Ehdr,
    index: usize,
) -> Result<Phdr, LoaderError> {
    let read = || {
        let at = ehdr
            .phoff
            .checked_add(u64::try_from(index).ok()?.checked_mul(PHDR_SIZE)?)?;
        Some(Phdr {
            p_type: u32_at(bytes, at)?,
            offset: u64_at(bytes, at.checked_add(8)?)?,
            vaddr: u64_at(bytes, at.checked_add(16)?)?,
            paddr: u64_at(bytes, at.checked_add(24)?)?,
            filesz: u64_at(bytes, at.checked_add(32)?)?,
            memsz: u64_at(bytes, at.checked_add(40)?)?,
            align: u64_at(bytes, at.checked_add(48)?)?,
        })
    };
    read().ok_or_else(|| outside_table(bytes, ehdr))
}

/// A PT_LOAD's file part: no more file bytes than memory bytes, and all
/// of them inside the file.
pub(in crate::loader) fn file_part(
    bytes: &[u8],
    index: usize,
    ph: &Phdr,
) -> Result<(), LoaderError> {
    if ph.filesz > ph.memsz {
        return Err(LoaderError::FileszOverMemsz {
            index,
            filesz: ph.filesz,
            memsz: ph.memsz,
        });
    }
    if ph.filesz > 0 && file_range(bytes, ph.offset, ph.filesz).is_none() {
        let (offset, size, len) = (ph.offset, ph.filesz, bytes.len());
        return Err(LoaderError::FileRange {
            index,
            offset,
            size,
            len,
        });
    }
    Ok(())
}
