//! Where checked programs go in guest RAM, after the kernel image: `plan`
//! lays out each file and its argv on their own pages, `stage` checks
//! every program and plans them (sizes first, before any file is read),
//! and `place` copies them in, reading each file again and making sure it
//! is the one that was checked.

use std::hash::{BuildHasher, Hasher};
use std::io::{Seek, SeekFrom};

use abi::layout::Module;
use vm_memory::{Bytes, GuestAddress, GuestMemoryError, GuestMemoryMmap};

use super::super::file::{self, FileError};
use super::check::{args_block, check};
use super::{Checked, Program, ProgramError, Source};
use crate::addr::{Gpa, PAGE};

/// Lay the programs out in guest RAM from `start` (the first page past the
/// kernel image): each ELF file, then its argv, each on its own pages.
/// Returns the module table and the first free GPA past them, or the index
/// of the first program that does not fit with the memory its segments
/// will take once loaded.
pub fn plan(
    start: Gpa,
    programs: &[Checked],
    ram_size: u64,
) -> Result<(Vec<Module>, Gpa), (usize, ProgramError)> {
    let mut at = start.raw();
    let mut segments = 0u64;
    let mut modules = Vec::new();
    for (i, p) in programs.iter().enumerate() {
        let size = p.source.size();
        let args_len = u64::try_from(p.args.len()).unwrap_or(u64::MAX);
        segments = segments.saturating_add(p.memory);
        let placed = footprint(at, size, args_len);
        let need = placed.map_or(u64::MAX, |(_, _, end)| end.saturating_add(segments));
        let (Some((gpa, args_gpa, end)), true) = (placed, need <= ram_size) else {
            return Err((i, ProgramError::NoRoom { need, ram_size }));
        };
        modules.push(Module {
            gpa,
            size,
            args_gpa,
            // MODULE_ARGS_MAX (4096) was checked.
            args_len: u32::try_from(args_len).unwrap_or(u32::MAX),
            argc: p.argc,
        });
        at = end;
    }
    // `start` is page aligned (the kernel's end) and so is every `end`.
    Ok((modules, Gpa(at)))
}

/// Where a file of `size` bytes and an argv block of `args_len` bytes go
/// from `at`, each on its own pages: (file GPA, argv GPA, end).
pub(super) fn footprint(at: u64, size: u64, args_len: u64) -> Option<(u64, u64, u64)> {
    let gpa = at.checked_next_multiple_of(PAGE)?;
    let args_gpa = gpa.checked_add(size)?.checked_next_multiple_of(PAGE)?;
    let end = args_gpa
        .checked_add(args_len)?
        .checked_next_multiple_of(PAGE)?;
    Some((gpa, args_gpa, end))
}

/// Every program checked and laid out: what `place` copies into guest RAM
/// and what BootInfo lists.
pub struct Staged {
    /// The programs, in `--run` order.
    pub programs: Vec<Checked>,
    /// BootInfo's module table, one entry per program, in order.
    pub modules: Vec<Module>,
    /// The first free GPA past the last module (BootInfo.free_start).
    pub free: Gpa,
}

/// Check every program for a guest of `ram_size` bytes and lay them out
/// from `start`; an error comes with the index of the program it is about.
/// All the files' sizes are checked first, from their metadata, so files
/// that cannot fit together are refused before any is opened or read.
pub fn stage(
    programs: &[Program],
    start: Gpa,
    ram_size: u64,
) -> Result<Staged, (usize, ProgramError)> {
    fit_sizes(programs, start, ram_size)?;
    let programs = programs
        .iter()
        .enumerate()
        .map(|(i, p)| check(p, ram_size).map_err(|e| (i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let (modules, free) = plan(start, &programs, ram_size)?;
    Ok(Staged {
        programs,
        modules,
        free,
    })
}

/// The files and argv blocks, sizes from metadata alone, laid out from
/// `start` as `plan` will: each alone no larger than guest RAM, all
/// together inside it.
pub(super) fn fit_sizes(
    programs: &[Program],
    start: Gpa,
    ram_size: u64,
) -> Result<(), (usize, ProgramError)> {
    let mut at = start.raw();
    for (i, p) in programs.iter().enumerate() {
        let (args, _) = args_block(&p.argv).map_err(|e| (i, e))?;
        let size = file::size_of(&p.path).map_err(|e| (i, e.into()))?;
        if size > ram_size {
            return Err((i, ProgramError::TooLarge { size, ram_size }));
        }
        let args_len = u64::try_from(args.len()).unwrap_or(u64::MAX);
        let end = footprint(at, size, args_len).map_or(u64::MAX, |(_, _, end)| end);
        if end > ram_size {
            return Err((
                i,
                ProgramError::NoRoom {
                    need: end,
                    ram_size,
                },
            ));
        }
        at = end;
    }
    Ok(())
}

/// Why `place` could not copy the programs into guest RAM.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// Guest memory refused the write.
    #[error("{0}")]
    Memory(#[from] GuestMemoryError),
    /// Program `.0`'s file could not be read again, or is not what was checked.
    #[error("{1}")]
    Program(usize, ProgramError),
}

/// Bytes read from a file and written to guest RAM at a time.
pub(super) const CHUNK: usize = 1 << 20;

/// Copy each program's file and argv to where `stage` put them. A file
/// still on disk is streamed in `CHUNK`s, and must have the size and bytes
/// it had when checked.
pub fn place(mem: &GuestMemoryMmap, staged: &Staged) -> Result<(), PlaceError> {
    for (i, (p, m)) in staged.programs.iter().zip(&staged.modules).enumerate() {
        match &p.source {
            Source::Bytes(bytes) => mem.write_slice(bytes, GuestAddress(m.gpa))?,
            Source::File {
                file,
                size,
                digest,
                keys,
            } => {
                let err = |e: FileError| PlaceError::Program(i, e.into());
                let changed = || err(FileError::Changed { was: *size });
                let mut f = file;
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| err(FileError::Read(e)))?;
                let mut h = keys.build_hasher();
                let mut done = 0u64;
                while done < *size {
                    let want = usize::try_from(*size - done).map_or(CHUNK, |n| n.min(CHUNK));
                    let chunk = file::read_head(&mut f, *size - done, want).map_err(err)?;
                    if chunk.is_empty() {
                        return Err(changed());
                    }
                    h.write(&chunk);
                    mem.write_slice(&chunk, GuestAddress(m.gpa + done))?;
                    done += chunk.len() as u64;
                }
                file::expect_end(&mut f, *size).map_err(err)?;
                if h.finish() != *digest {
                    return Err(changed());
                }
            }
        }
        mem.write_slice(&p.args, GuestAddress(m.args_gpa))?;
    }
    Ok(())
}
