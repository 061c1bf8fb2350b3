//! The checks on a `--run` program, on the host before KVM is opened: its
//! argv fits what the guest passes, its size fits guest RAM, and its ELF
//! header and program headers are what the guest kernel's exec accepts
//! (the same rules, in the same words). `check` reads the file once and
//! keeps it open with a hash of its bytes; `check_bytes` judges bytes
//! already in memory.

use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};

use abi::layout::{ARGC_MAX, MODULE_ARGS_MAX, PIE_BIAS, USER_END};

use super::super::LoaderError;
use super::super::elf::{self, ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD};
use super::super::file::{self};
use super::{Checked, Program, ProgramError, Source, printable};
use crate::addr::{Gva, PAGE};

/// Read and check `program` for a guest of `ram_size` bytes. The file is
/// read once, whole, and its bytes dropped once checked: the check keeps
/// the file open and a hash of what it read, and `place` reads it again.
pub fn check(program: &Program, ram_size: u64) -> Result<Checked, ProgramError> {
    let args = args_block(&program.argv)?;
    let (file, bytes, e_type) = read(program, ram_size)?;
    checked(bytes, e_type, args, |bytes| {
        let keys = RandomState::new();
        let mut h = keys.build_hasher();
        h.write(&bytes);
        Source::File {
            file,
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            digest: h.finish(),
            keys,
        }
    })
}

/// `check` for a file already in memory: the same rules, in the same
/// order, without the file system (for the fuzzer and for callers that
/// hold the bytes).
pub fn check_bytes(
    bytes: Vec<u8>,
    argv: &[String],
    ram_size: u64,
) -> Result<Checked, ProgramError> {
    let args = args_block(argv)?;
    fits(u64::try_from(bytes.len()).unwrap_or(u64::MAX), ram_size)?;
    let e_type = executable_type(&bytes)?;
    checked(bytes, e_type, args, Source::Bytes)
}

/// The tail `check` and `check_bytes` share once the bytes are in hand and
/// their ELF type known: the program-header rules, then the result, whose
/// `source` is made from the bytes that passed.
pub(super) fn checked(
    bytes: Vec<u8>,
    e_type: u16,
    (args, argc): (Vec<u8>, u32),
    source: impl FnOnce(Vec<u8>) -> Source,
) -> Result<Checked, ProgramError> {
    let memory = check_elf(&bytes, e_type)?;
    Ok(Checked {
        source: source(bytes),
        args,
        argc,
        memory,
    })
}

/// A file of `size` bytes can be a program in `ram_size` bytes of guest
/// RAM only if it fits (its segments are judged later).
pub(super) fn fits(size: u64, ram_size: u64) -> Result<(), ProgramError> {
    if size > ram_size {
        return Err(ProgramError::TooLarge { size, ram_size });
    }
    Ok(())
}

/// The e_type of an x86-64 ELF whose header starts `bytes`, if it is one
/// that --run can start (ET_EXEC or ET_DYN).
pub(super) fn executable_type(bytes: &[u8]) -> Result<u16, ProgramError> {
    let e_type = elf::ident(bytes)?;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ProgramError::NotExecutable { e_type });
    }
    Ok(e_type)
}

/// argv as the kernel reads it: each string NUL-terminated, in order.
pub(super) fn args_block(argv: &[String]) -> Result<(Vec<u8>, u32), ProgramError> {
    if argv.is_empty() {
        return Err(ProgramError::NoArgv);
    }
    if argv.len() > ARGC_MAX {
        return Err(ProgramError::TooManyArgs { argc: argv.len() });
    }
    let mut block = Vec::new();
    for (index, arg) in argv.iter().enumerate() {
        if arg.as_bytes().contains(&0) {
            return Err(ProgramError::Nul { index });
        }
        block.extend_from_slice(arg.as_bytes());
        block.push(0);
    }
    let len = block.len();
    if u64::try_from(len).unwrap_or(u64::MAX) > MODULE_ARGS_MAX {
        return Err(ProgramError::ArgsTooLong { len });
    }
    // At most 4096 strings of at least one byte each: argc fits.
    let argc = u32::try_from(argv.len()).map_err(|_| ProgramError::ArgsTooLong { len })?;
    Ok((block, argc))
}

/// The opened file, its bytes and e_type. The size comes from the opened
/// file's metadata and is checked before a byte is read; the ELF header is
/// read and judged next, so a large file that is not an x86-64 executable
/// is never read whole; no more than its size and one byte is read.
pub(super) fn read(program: &Program, ram_size: u64) -> Result<(File, Vec<u8>, u16), ProgramError> {
    let (mut file, size) = file::open_regular(&program.path)?;
    fits(size, ram_size)?;
    let mut bytes = file::read_head(&mut file, size, 64)?;
    let e_type = executable_type(&bytes)?;
    file::read_rest(&mut file, &mut bytes, size)?;
    Ok((file, bytes, e_type))
}

/// Check the program headers of an x86-64 ELF of type `e_type`: no
/// interpreter, every PT_LOAD inside the file and (after the PIE load bias)
/// inside the user half, no two sharing a byte, the entry point in one of
/// them; then the guest kernel's own rules (`abi::elf::parse`: at most 16
/// PT_LOADs, in order, inside [64 KiB, 0x1000_0000_0000), the entry in an
/// executable one). Returns the bytes of RAM the segments take, in whole pages.
pub(super) fn check_elf(bytes: &[u8], e_type: u16) -> Result<u64, ProgramError> {
    let ehdr = elf::table(bytes)?;
    let phdrs = (0..usize::from(ehdr.phnum))
        .map(|i| elf::phdr(bytes, &ehdr, i))
        .collect::<Result<Vec<_>, _>>()?;
    // The interpreter first: it is the likeliest problem, with a clear fix.
    if let Some(ph) = phdrs.iter().find(|ph| ph.p_type == PT_INTERP) {
        let interp = match elf::file_range(bytes, ph.offset, ph.filesz) {
            Some(name) => printable(name.split(|&b| b == 0).next().unwrap_or_default()),
            None => "outside the file".to_string(),
        };
        return Err(ProgramError::Dynamic { interp });
    }
    let biased = e_type == ET_DYN;
    let bias = if biased { PIE_BIAS } else { 0 };
    let mut spans = Vec::new();
    let mut memory = 0u64;
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type != PT_LOAD {
            continue;
        }
        elf::file_part(bytes, index, ph)?;
        if ph.memsz == 0 {
            continue;
        }
        let start = u128::from(ph.vaddr) + u128::from(bias);
        let end = start + u128::from(ph.memsz);
        if end > u128::from(USER_END) {
            return Err(ProgramError::OutsideUser {
                index,
                start: Gva(u64::try_from(start).unwrap_or(u64::MAX)),
                end,
                biased,
            });
        }
        // Below USER_END, so every value here fits a u64.
        let (start, end) = (start as u64, end as u64);
        let pages = end.next_multiple_of(PAGE) - (start - start % PAGE);
        memory = memory.saturating_add(pages);
        spans.push((index, start, end));
    }
    if spans.is_empty() {
        return Err(LoaderError::NoLoad.into());
    }
    if let Some((first, second, at)) = elf::first_overlap(spans.iter().copied()) {
        return Err(ProgramError::Overlap {
            first,
            second,
            at: Gva(at),
        });
    }
    let entry = ehdr.entry.wrapping_add(bias);
    if !spans
        .iter()
        .any(|&(_, start, end)| elf::contains(start, end - start, entry))
    {
        return Err(LoaderError::EntryOutside { entry: Gva(entry) }.into());
    }
    // Last, exactly what the kernel's exec will check (one definition).
    abi::elf::parse(bytes).map_err(|reason| ProgramError::GuestRefuses { reason })?;
    Ok(memory)
}
