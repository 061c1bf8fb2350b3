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

use std::io::Read;
use std::path::PathBuf;

use abi::layout::{ARGC_MAX, MODULE_ARGS_MAX, Module, PIE_BIAS, USER_END};
use vm_memory::{Bytes, GuestAddress, GuestMemoryError, GuestMemoryMmap};

use super::elf::{self, ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD};
use super::error::{os_text, type_name};
use super::{LoaderError, OpenError, open_regular};
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
    /// The file could not be opened.
    #[error("cannot open: {}", os_text(.0))]
    Open(std::io::Error),
    /// The path names a directory, FIFO or device (what it is, in `ls -l` words).
    #[error("not a regular file (it is {0})")]
    NotRegular(&'static str),
    /// Reading the opened file failed.
    #[error("cannot read: {}", os_text(.0))]
    Read(std::io::Error),
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

/// A program that passed every check, ready to be placed in guest RAM.
pub struct Checked {
    /// The ELF file, whole.
    pub bytes: Vec<u8>,
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

/// Read and check `program` for a guest of `ram_size` bytes.
pub fn check(program: &Program, ram_size: u64) -> Result<Checked, ProgramError> {
    let (args, argc) = args_block(&program.argv)?;
    let (bytes, e_type) = read(program, ram_size)?;
    let memory = check_elf(&bytes, e_type)?;
    Ok(Checked {
        bytes,
        args,
        argc,
        memory,
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
    let (args, argc) = args_block(argv)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > ram_size {
        return Err(ProgramError::TooLarge { size, ram_size });
    }
    let e_type = executable_type(&bytes)?;
    let memory = check_elf(&bytes, e_type)?;
    Ok(Checked {
        bytes,
        args,
        argc,
        memory,
    })
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

/// The file's bytes and e_type. The ELF header is read and judged first,
/// so a large file that is not an x86-64 executable is never read whole;
/// nothing larger than guest RAM is read at all.
fn read(program: &Program, ram_size: u64) -> Result<(Vec<u8>, u16), ProgramError> {
    let (file, size) = open_regular(&program.path).map_err(|e| match e {
        OpenError::Open(e) => ProgramError::Open(e),
        OpenError::NotRegular(kind) => ProgramError::NotRegular(kind),
        OpenError::Read(e) => ProgramError::Read(e),
    })?;
    if size > ram_size {
        return Err(ProgramError::TooLarge { size, ram_size });
    }
    let mut file = file.take(ram_size.saturating_add(1));
    let mut bytes = Vec::new();
    (&mut file)
        .take(64)
        .read_to_end(&mut bytes)
        .map_err(ProgramError::Read)?;
    let e_type = executable_type(&bytes)?;
    file.read_to_end(&mut bytes).map_err(ProgramError::Read)?;
    // The file may have grown since fstat.
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > ram_size {
        return Err(ProgramError::TooLarge { size, ram_size });
    }
    Ok((bytes, e_type))
}

/// Check the program headers of an x86-64 ELF of type `e_type`: no
/// interpreter, every PT_LOAD inside the file and (after the PIE load bias)
/// inside the user half, no two sharing a byte, the entry point in one of
/// them. Returns the bytes of RAM the segments take, in whole pages.
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
        let size = u64::try_from(p.bytes.len()).unwrap_or(u64::MAX);
        let args_len = u64::try_from(p.args.len()).unwrap_or(u64::MAX);
        segments = segments.saturating_add(p.memory);
        let place = || {
            let gpa = at.checked_next_multiple_of(PAGE)?;
            let args_gpa = gpa.checked_add(size)?.checked_next_multiple_of(PAGE)?;
            let end = args_gpa
                .checked_add(args_len)?
                .checked_next_multiple_of(PAGE)?;
            Some((gpa, args_gpa, end))
        };
        let placed = place();
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
pub fn stage(
    programs: &[Program],
    start: Gpa,
    ram_size: u64,
) -> Result<Staged, (usize, ProgramError)> {
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

/// Copy each program's file and argv to where `stage` put them.
pub fn place(mem: &GuestMemoryMmap, staged: &Staged) -> Result<(), GuestMemoryError> {
    for (p, m) in staged.programs.iter().zip(&staged.modules) {
        mem.write_slice(&p.bytes, GuestAddress(m.gpa))?;
        mem.write_slice(&p.args, GuestAddress(m.args_gpa))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
