//! User programs (`--run 'FILE [ARG...]'`): the user's static Linux x86-64
//! executables, each read and checked on the host before KVM is opened,
//! then copied into guest RAM as a boot module with its argv, after the
//! kernel image:
//!
//! ```text
//! GPA: kernel image | ELF 0 | argv 0 | ELF 1 | argv 1 | ... | free_start ..
//!      each piece starts on a page; BootInfo.modules[i] points at ELF i and argv i
//! ```
//!
//! The checks are the kernel's (`elf.rs`) where the rule is the same: the
//! ELF identification, the program header table, each segment's file bytes.
//! What differs is where a program lives: at its virtual addresses in its
//! own user half, not at physical ones.

use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;

use abi::layout::{ARGC_MAX, MODULE_ARGS_MAX, Module, PIE_BIAS, USER_END};
use vm_memory::{Bytes, GuestAddress, GuestMemoryError, GuestMemoryMmap};

use super::LoaderError;
use super::elf::{self, ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD};
use super::error::type_name;
use super::file::{self, FileError};
use crate::addr::{Gpa, Gva, PAGE};
use crate::size::format_size;

/// One `--run`: the file and the argv its process gets (`argv[0]` is the
/// file's name as the user gave it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The file, as the user gave it.
    pub path: PathBuf,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
}

/// Why a `--run` value names no program.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The value's quoting is broken (an unclosed quote, a trailing backslash).
    #[error("--run {spec}: {error} (quote as in a shell: --run './prog \"an arg\"')")]
    Split {
        /// The `--run` value, quoted for the message.
        spec: String,
        /// What the splitter said.
        error: shell_words::ParseError,
    },
    #[error("--run {spec}: names no file (give --run 'FILE [ARG...]')")]
    /// The value has no words, or an empty first one.
    Empty {
        /// The `--run` value, quoted for the message.
        spec: String,
    },
}

impl Program {
    /// Split a `--run` value into words as a POSIX shell would (quotes and
    /// backslashes included, no expansion); the first word is the file.
    pub fn parse(spec: &str) -> Result<Program, SpecError> {
        // Debug quoting keeps the value on one line and shows its quotes.
        let shown = || format!("{spec:?}");
        let argv = shell_words::split(spec).map_err(|error| SpecError::Split {
            spec: shown(),
            error,
        })?;
        match argv.first() {
            Some(file) if !file.is_empty() => Ok(Program {
                path: PathBuf::from(file),
                argv,
            }),
            _ => Err(SpecError::Empty { spec: shown() }),
        }
    }

    /// The path for a one-line message: control characters escaped.
    pub fn shown(&self) -> String {
        printable(self.path.as_os_str().as_encoded_bytes())
    }
}

/// Why a user program cannot run; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The file cannot be opened or read, is not a regular file, or
    /// changed while it was read.
    #[error("{0}")]
    File(#[from] FileError),
    /// The file alone is larger than guest RAM.
    #[error("the file is {} and cannot fit in guest RAM (--mem {})",
        format_size(*.size), format_size(*.ram_size))]
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// Guest RAM in bytes.
        ram_size: u64,
    },
    /// The file is not an ELF executable we accept, or its segments are bad.
    #[error("{0}")]
    Elf(#[from] LoaderError),
    /// A relocatable object or core dump.
    #[error("ELF type {e_type} ({}), not ET_EXEC or ET_DYN: --run needs a static executable",
        type_name(*.e_type))]
    NotExecutable {
        /// The header's e_type.
        e_type: u16,
    },
    /// It has a PT_INTERP: the guest has no dynamic linker.
    #[error("dynamically linked (interpreter {interp}): build it with -static")]
    Dynamic {
        /// The interpreter it names, printable.
        interp: String,
    },
    /// A segment (after any PIE load bias) is not below USER_END.
    #[error("segment {index} at {start} - {end:#x} lies outside the user half \
        (0 - {USER_END:#x}){}", if *.biased { " with the PIE load bias 0x400000" } else { "" })]
    OutsideUser {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's first guest-virtual byte.
        start: Gva,
        /// One past its last byte; u128 so that an overflowing end still prints.
        end: u128,
        /// The PIE load bias was added.
        biased: bool,
    },
    /// Two segments would be loaded over each other.
    #[error("segments {first} and {second} overlap at {at}")]
    Overlap {
        /// The earlier program header's number.
        first: usize,
        /// The later program header's number.
        second: usize,
        /// The first guest-virtual byte both claim.
        at: Gva,
    },
    /// The guest kernel's exec would refuse the file (`abi::elf`, the
    /// kernel's own rules, checked on the host).
    #[error("the guest kernel would refuse it: {reason}")]
    GuestRefuses {
        /// The kernel's words.
        reason: &'static str,
    },
    /// An empty argv.
    #[error("no argv: argv[0] must be the file's name")]
    NoArgv,
    /// An argument cannot be passed as a C string.
    #[error("argument {index} contains a NUL byte")]
    Nul {
        /// Its position in argv.
        index: usize,
    },
    /// argv does not fit the boot module's argument area.
    #[error(
        "its arguments take {len} bytes as NUL-terminated strings; at most {MODULE_ARGS_MAX} fit"
    )]
    ArgsTooLong {
        /// argv's size as NUL-terminated strings, in bytes.
        len: usize,
    },
    /// More argv strings than the guest kernel passes to a process.
    #[error("it has {argc} arguments (argv[0] included); the guest passes at most {ARGC_MAX}")]
    TooManyArgs {
        /// How many strings argv has.
        argc: usize,
    },
    /// The kernel and the programs so far leave no room for this one.
    #[error("does not fit in guest RAM: the kernel and the programs up to this one need {} \
        (files, argv and segments), --mem is {}", format_size(*.need), format_size(*.ram_size))]
    NoRoom {
        /// Bytes needed up to and including this program.
        need: u64,
        /// Guest RAM in bytes.
        ram_size: u64,
    },
}

/// Where a checked program's bytes are until `place` copies them.
pub enum Source {
    /// In memory (`check_bytes`: the fuzzer, tests).
    Bytes(Vec<u8>),
    /// Still in the file, kept open: `check` read it once and let the bytes
    /// go, `place` reads it again straight into guest RAM and makes sure it
    /// is the same (its size, and a keyed hash of its bytes).
    File {
        /// The opened file.
        file: File,
        /// Its size when checked.
        size: u64,
        /// The hash of the bytes that were checked.
        digest: u64,
        /// The hash's random keys.
        keys: RandomState,
    },
}

impl Source {
    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Source::Bytes(b) => u64::try_from(b.len()).unwrap_or(u64::MAX),
            Source::File { size, .. } => *size,
        }
    }
}

/// A program that passed every check, ready to be placed in guest RAM.
pub struct Checked {
    /// The ELF file's bytes, or where to read them again.
    pub source: Source,
    /// argv as NUL-terminated strings, `argv[0]` first.
    pub args: Vec<u8>,
    /// Number of arguments in `args`.
    pub argc: u32,
    /// Bytes of guest RAM its segments take once loaded (whole pages).
    pub memory: u64,
}

/// `bytes` as one printable line: printable ASCII as is, anything else
/// (control characters, non-ASCII bytes) as \xNN; at most 256 bytes shown.
pub fn printable(bytes: &[u8]) -> String {
    const MAX: usize = 256;
    let mut out = String::new();
    for &b in bytes.iter().take(MAX) {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > MAX {
        out.push_str("...");
    }
    out
}

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
fn checked(
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
fn fits(size: u64, ram_size: u64) -> Result<(), ProgramError> {
    if size > ram_size {
        return Err(ProgramError::TooLarge { size, ram_size });
    }
    Ok(())
}

/// The e_type of an x86-64 ELF whose header starts `bytes`, if it is one
/// that --run can start (ET_EXEC or ET_DYN).
fn executable_type(bytes: &[u8]) -> Result<u16, ProgramError> {
    let e_type = elf::ident(bytes)?;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ProgramError::NotExecutable { e_type });
    }
    Ok(e_type)
}

/// argv as the kernel reads it: each string NUL-terminated, in order.
fn args_block(argv: &[String]) -> Result<(Vec<u8>, u32), ProgramError> {
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
fn read(program: &Program, ram_size: u64) -> Result<(File, Vec<u8>, u16), ProgramError> {
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
fn check_elf(bytes: &[u8], e_type: u16) -> Result<u64, ProgramError> {
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
fn footprint(at: u64, size: u64, args_len: u64) -> Option<(u64, u64, u64)> {
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
fn fit_sizes(programs: &[Program], start: Gpa, ram_size: u64) -> Result<(), (usize, ProgramError)> {
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
const CHUNK: usize = 1 << 20;

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

#[cfg(test)]
mod tests;
