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
use std::hash::RandomState;
use std::path::PathBuf;

use abi::layout::{ARGC_MAX, MODULE_ARGS_MAX, USER_END};

use super::LoaderError;
use super::error::type_name;
use super::file::FileError;
use crate::addr::Gva;
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

mod check;
mod place;

pub use check::{check, check_bytes};
pub use place::{PlaceError, Staged, place, plan, stage};

#[cfg(test)]
mod tests;
