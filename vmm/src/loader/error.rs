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
    /// The kernel file could not be opened.
    #[error("cannot open {}: {}", .path.display(), os_text(.error))]
    Open {
        /// The kernel file as given on the command line.
        path: PathBuf,
        /// What the OS said.
        error: io::Error,
    },
    /// The path names a directory, FIFO or device, not a file of bytes.
    #[error("{} is not a regular file (it is {kind})", .path.display())]
    NotRegular {
        /// The kernel file as given on the command line.
        path: PathBuf,
        /// What it is instead, in `ls -l` words ("a directory").
        kind: &'static str,
    },
    /// Reading the opened kernel file failed.
    #[error("cannot read {}: {}", .path.display(), os_text(.error))]
    Read {
        /// The kernel file as given on the command line.
        path: PathBuf,
        /// What the OS said.
        error: io::Error,
    },
    /// The kernel file is on a pseudo file system, or changed while read.
    #[error("{}: {error}", .path.display())]
    File {
        /// The kernel file as given on the command line.
        path: PathBuf,
        /// What is wrong with it.
        error: super::file::FileError,
    },
    /// The file is larger than any kernel we load (`MAX_GUEST_FILE`).
    #[error("{} is too large for a kernel image ({}; the limit is {})",
        .path.display(), format_size(*.size), format_size(MAX_GUEST_FILE))]
    TooLarge {
        /// The kernel file as given on the command line.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The file has no bytes.
    #[error("the file is empty")]
    Empty,
    /// The file does not start with the ELF magic.
    #[error("not an ELF file: it does not start with \\x7fELF")]
    NotElf,
    /// The file ends inside the 64-byte ELF64 header.
    #[error("truncated ELF header: the file has {len} bytes, an ELF64 header needs 64")]
    Truncated {
        /// The file's length in bytes.
        len: usize,
    },
    /// An ELFCLASS32 file.
    #[error("32-bit ELF: microvmm needs ELF64 x86-64")]
    Elf32,
    /// An ELFDATA2MSB file.
    #[error("big-endian ELF: microvmm needs little-endian ELF64 x86-64")]
    BigEndian,
    /// An e_ident byte (class, data or version) with a value ELF does not define.
    #[error("unknown ELF {field} {value}: microvmm needs little-endian ELF64 x86-64")]
    BadIdent {
        /// Which e_ident byte, for the message ("class").
        field: &'static str,
        /// The byte's value.
        value: u8,
    },
    /// An ELF for another architecture.
    #[error("ELF machine {machine} ({}), not x86-64", machine_name(*.machine))]
    Machine {
        /// The header's e_machine.
        machine: u16,
    },
    /// A relocatable object, shared object, PIE or core dump: we load only at link addresses.
    #[error("ELF type {e_type} ({}), not ET_EXEC: microvmm needs a statically linked, \
        non-PIE kernel executable", type_name(*.e_type))]
    NotExec {
        /// The header's e_type.
        e_type: u16,
    },
    /// The header's e_phentsize (the field) is not the ELF64 program header size.
    #[error("program header entry size is {0} bytes, ELF64 needs 56")]
    PhdrEntSize(u16),
    /// e_phoff points into the ELF header itself.
    #[error("program header table at file offset {offset:#x} overlaps the 64-byte ELF header")]
    PhdrOverlapsHeader {
        /// The header's e_phoff.
        offset: u64,
    },
    /// The program header table does not fit in the file.
    #[error(
        "program header table ({count} entries of 56 bytes at file offset {offset:#x}) \
        lies outside the file ({len} bytes)"
    )]
    PhdrOutside {
        /// The header's e_phoff.
        offset: u64,
        /// The header's e_phnum.
        count: u16,
        /// The file's length in bytes.
        len: usize,
    },
    /// No PT_LOAD program header.
    #[error("no PT_LOAD segment: the file has nothing to load")]
    NoLoad,
    /// A segment's file bytes (p_offset, p_filesz) run past the end of the file.
    #[error(
        "segment {index}: file bytes at offset {offset:#x} ({size:#x} long) lie outside \
        the file ({len} bytes)"
    )]
    FileRange {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's p_offset.
        offset: u64,
        /// The segment's p_filesz.
        size: u64,
        /// The file's length in bytes.
        len: usize,
    },
    /// A segment claims more file bytes than memory to hold them.
    #[error("segment {index}: file size {filesz:#x} is larger than its memory size {memsz:#x}")]
    FileszOverMemsz {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's p_filesz.
        filesz: u64,
        /// The segment's p_memsz.
        memsz: u64,
    },
    /// A segment's address plus its memory size wraps around.
    #[error("segment {index}: address {addr:#x} + size {size:#x} overflows 64 bits")]
    AddressOverflow {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's p_paddr.
        addr: u64,
        /// The segment's p_memsz.
        size: u64,
    },
    /// A segment's physical range is not inside guest RAM.
    #[error("segment {index} at GPA {start} - {end} lies outside guest RAM ({})",
        format_size(*.ram_size))]
    OutsideRam {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's first guest-physical byte.
        start: Gpa,
        /// One past its last guest-physical byte.
        end: Gpa,
        /// Guest RAM in bytes.
        ram_size: u64,
    },
    /// A segment would overwrite the boot structures the VMM lays out below `RESERVED_END`.
    #[error(
        "segment {index} at GPA {start} - {end} overlaps the VMM's boot structures \
        below {RESERVED_END:#x}"
    )]
    Reserved {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's first guest-physical byte.
        start: Gpa,
        /// One past its last guest-physical byte.
        end: Gpa,
    },
    /// A segment is linked at a virtual address the boot page tables do not map.
    #[error(
        "segment {index}: virtual {vaddr} is not mapped by the boot page tables \
        (needs VA == PA or VA == {KERNEL_BASE:#x} + PA; PA is {paddr})"
    )]
    Unmapped {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's p_vaddr.
        vaddr: Gva,
        /// The segment's p_paddr.
        paddr: Gpa,
    },
    /// A higher-half segment lies beyond the 2 GiB the boot tables map at KERNEL_BASE.
    #[error(
        "segment {index} at GPA {start} - {end} is linked at {KERNEL_BASE:#x} + PA, \
        which the boot page tables map only for the first 2 GiB of RAM"
    )]
    PastKernelWindow {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The segment's first guest-physical byte.
        start: Gpa,
        /// One past its last guest-physical byte.
        end: Gpa,
    },
    /// Two segments would be loaded over each other.
    #[error("segments {first} and {second} overlap in guest-physical memory at GPA {at}")]
    Overlap {
        /// The earlier program header's number.
        first: usize,
        /// The later program header's number.
        second: usize,
        /// The first guest-physical byte both claim.
        at: Gpa,
    },
    /// e_entry is in no loaded segment, so the vCPU would start in nothing.
    #[error("entry point {entry} is outside every loaded segment")]
    EntryOutside {
        /// The header's e_entry.
        entry: Gva,
    },
    /// A PT_NOTE segment whose note headers or sizes run past the segment.
    #[error("segment {index}: malformed ELF note at file offset {offset:#x}")]
    BadNote {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// File offset of the bad note.
        offset: u64,
    },
    /// The XEN_ELFNOTE_PHYS32_ENTRY note holds no 32- or 64-bit address.
    #[error(
        "segment {index}: the Xen PVH entry note (type 18) has a {size}-byte descriptor, \
        not 4 or 8"
    )]
    PvhNoteSize {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The note's descriptor size in bytes.
        size: u32,
    },
    /// The PVH entry note points outside every loaded segment.
    #[error("PVH entry point {entry} is outside every loaded segment")]
    PvhEntryOutside {
        /// The guest-physical entry point the note names.
        entry: Gpa,
    },
    /// linux-loader refused or failed to copy the segments into guest memory.
    #[error("cannot load the kernel into guest memory: {0}")]
    Load(linux_loader::loader::Error),
    /// Zeroing a segment's bss (p_memsz past p_filesz) failed.
    #[error("cannot zero the bss of segment {index} at GPA {start}: {error}")]
    ZeroBss {
        /// The program header's number, as `readelf -l` numbers them.
        index: usize,
        /// The bss's first guest-physical byte.
        start: Gpa,
        /// What guest memory said.
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
