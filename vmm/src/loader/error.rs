//! Everything that can be wrong with a guest kernel file, each as a one-line
//! sentence naming the problem. "Segment N" is program header N, numbered
//! as `readelf -l` numbers them.

use std::io;
use std::path::PathBuf;

use abi::layout::{KERNEL_BASE, RESERVED_END};
use vm_memory::GuestMemoryError;

use super::MAX_GUEST_FILE;
use crate::addr::{Gpa, Gva};
use crate::size::format_size;

/// Why the guest kernel could not be read, accepted or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    #[error("cannot open {}: {}", .path.display(), os_text(.error))]
    Open { path: PathBuf, error: io::Error },
    #[error("{} is not a regular file (it is {kind})", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("cannot read {}: {}", .path.display(), os_text(.error))]
    Read { path: PathBuf, error: io::Error },
    #[error("{} is too large for a kernel image ({}; the limit is {})",
        .path.display(), format_size(*.size), format_size(MAX_GUEST_FILE))]
    TooLarge { path: PathBuf, size: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("not an ELF file: it does not start with \\x7fELF")]
    NotElf,
    #[error("truncated ELF header: the file has {len} bytes, an ELF64 header needs 64")]
    Truncated { len: usize },
    #[error("32-bit ELF: microvmm needs ELF64 x86-64")]
    Elf32,
    #[error("big-endian ELF: microvmm needs little-endian ELF64 x86-64")]
    BigEndian,
    #[error("unknown ELF {field} {value}: microvmm needs little-endian ELF64 x86-64")]
    BadIdent { field: &'static str, value: u8 },
    #[error("ELF machine {machine} ({}), not x86-64", machine_name(*.machine))]
    Machine { machine: u16 },
    #[error("ELF type {e_type} ({}), not ET_EXEC: microvmm needs a statically linked, \
        non-PIE kernel executable", type_name(*.e_type))]
    NotExec { e_type: u16 },
    #[error("program header entry size is {0} bytes, ELF64 needs 56")]
    PhdrEntSize(u16),
    #[error("program header table at file offset {offset:#x} overlaps the 64-byte ELF header")]
    PhdrOverlapsHeader { offset: u64 },
    #[error(
        "program header table ({count} entries of 56 bytes at file offset {offset:#x}) \
        lies outside the file ({len} bytes)"
    )]
    PhdrOutside { offset: u64, count: u16, len: usize },
    #[error("no PT_LOAD segment: the file has nothing to load")]
    NoLoad,
    #[error(
        "segment {index}: file bytes at offset {offset:#x} ({size:#x} long) lie outside \
        the file ({len} bytes)"
    )]
    FileRange {
        index: usize,
        offset: u64,
        size: u64,
        len: usize,
    },
    #[error("segment {index}: file size {filesz:#x} is larger than its memory size {memsz:#x}")]
    FileszOverMemsz {
        index: usize,
        filesz: u64,
        memsz: u64,
    },
    #[error("segment {index}: address {addr:#x} + size {size:#x} overflows 64 bits")]
    AddressOverflow { index: usize, addr: u64, size: u64 },
    #[error("segment {index} at GPA {start} - {end} lies outside guest RAM ({})",
        format_size(*.ram_size))]
    OutsideRam {
        index: usize,
        start: Gpa,
        end: Gpa,
        ram_size: u64,
    },
    #[error(
        "segment {index} at GPA {start} - {end} overlaps the VMM's boot structures \
        below {RESERVED_END:#x}"
    )]
    Reserved { index: usize, start: Gpa, end: Gpa },
    #[error(
        "segment {index}: virtual {vaddr} is not mapped by the boot page tables \
        (needs VA == PA or VA == {KERNEL_BASE:#x} + PA; PA is {paddr})"
    )]
    Unmapped {
        index: usize,
        vaddr: Gva,
        paddr: Gpa,
    },
    #[error(
        "segment {index} at GPA {start} - {end} is linked at {KERNEL_BASE:#x} + PA, \
        which the boot page tables map only for the first 2 GiB of RAM"
    )]
    PastKernelWindow { index: usize, start: Gpa, end: Gpa },
    #[error("segments {first} and {second} overlap in guest-physical memory at GPA {at}")]
    Overlap {
        first: usize,
        second: usize,
        at: Gpa,
    },
    #[error("entry point {entry} is outside every loaded segment")]
    EntryOutside { entry: Gva },
    #[error("segment {index}: malformed ELF note at file offset {offset:#x}")]
    BadNote { index: usize, offset: u64 },
    #[error(
        "segment {index}: the Xen PVH entry note (type 18) has a {size}-byte descriptor, \
        not 4 or 8"
    )]
    PvhNoteSize { index: usize, size: u32 },
    #[error("PVH entry point {entry} is outside every loaded segment")]
    PvhEntryOutside { entry: Gpa },
    #[error("cannot load the kernel into guest memory: {0}")]
    Load(linux_loader::loader::Error),
    #[error("cannot zero the bss of segment {index} at GPA {start}: {error}")]
    ZeroBss {
        index: usize,
        start: Gpa,
        error: GuestMemoryError,
    },
}

/// The OS's words for an I/O error, without Rust's " (os error N)" tail, so
/// messages read like the shell's: "No such file or directory".
pub(super) fn os_text(error: &io::Error) -> String {
    let text = error.to_string();
    match (error.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(cut)) => text[..cut].to_string(),
        _ => text,
    }
}

/// The name of an ELF e_machine value, for messages.
fn machine_name(machine: u16) -> &'static str {
    match machine {
        0 => "none",
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        43 => "SPARC V9",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "unknown",
    }
}

/// The name of an ELF e_type value, for messages.
pub(super) fn type_name(e_type: u16) -> &'static str {
    match e_type {
        0 => "ET_NONE",
        1 => "ET_REL, a relocatable object",
        2 => "ET_EXEC",
        3 => "ET_DYN, a shared object or PIE",
        4 => "ET_CORE, a core dump",
        _ => "unknown",
    }
}
