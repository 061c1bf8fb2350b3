//! Fuzz targets for the parts of microvmm that read what a hostile guest or
//! a hostile file controls. Each target takes AFL's bytes, runs the library
//! on them, and asserts what must hold whatever the bytes are; a failed
//! assertion or a panic anywhere is a crash for AFL. Each target is the
//! file named for it (`elf.rs` .. `tree.rs`; `lines.rs` is the console
//! target); this root holds what they share: guest memory, reading
//! integers from the input. The binaries in `src/bin/` are one-line
//! `afl::fuzz!` wrappers; `seeds.rs` makes the synthetic seed corpora.
//!
//! Input layouts (all integers little-endian):
//!
//! ```text
//! elf, program: the file itself
//! message:      flags u8 | gpa u64 | ram_size u64 | guest memory from GPA 0 ..
//! paging:       flags u8 | maxphyaddr u8 | cr3 u64 | 4 x gva u64 | limit u16 | base u8 | memory ..
//! analyse:      as paging; flags bits 2.. choose the fakes' behaviour
//! terminal:     pid u8 | name length u8 | name | split u16 | console bytes
//! console:      records: writer u8 | length u8 | bytes   (lines.rs)
//! file:         size delta i8 | 8 read-chunk bytes | the file   (file.rs)
//! tree:         a --files tree image                            (tree.rs)
//! ```

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

mod analyse;
mod elf;
mod file;
mod lines;
mod message;
mod paging;
mod program;
mod seeds;
mod terminal;
#[cfg(test)]
mod tests;
mod tree;

pub use analyse::analyse;
pub use elf::elf;
pub use file::file;
pub use lines::console;
pub use message::message;
pub use paging::paging;
pub use program::program;
pub use seeds::seeds;
pub use terminal::terminal;
pub use tree::tree;

const PAGE: u64 = 4096;

/// Guest RAM for the kernel ELF target: room for the embedded kernel.
pub const ELF_RAM: u64 = 4 << 20;
/// Guest RAM for the program target (files up to AFL's 1 MiB limit fit).
pub const PROGRAM_RAM: u64 = 8 << 20;
/// Where the program target stages programs: past a 2 MiB kernel.
pub const PROGRAM_START: u64 = 2 << 20;
/// Guest RAM for the message target: a few messages' worth.
pub const MESSAGE_RAM: u64 = 8 << 10;
/// Guest RAM for the paging target: 16 table pages.
pub const PAGING_RAM: u64 = 64 << 10;
/// Header bytes of a paging input, before the memory.
pub const PAGING_HEADER: usize = 1 + 1 + 8 + 4 * 8 + 2 + 1;
/// Entries table_pages may read in the paging target.
const TABLE_LIMIT: u64 = 4096;

fn memory(size: u64) -> GuestMemoryMmap {
    match GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)]) {
        Ok(m) => m,
        Err(e) => panic!("fuzz harness: cannot map {size} bytes of guest memory: {e}"),
    }
}

fn read_mem(mem: &GuestMemoryMmap, gpa: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0; len as usize];
    if let Err(e) = mem.read_slice(&mut buf, GuestAddress(gpa)) {
        panic!("read back {len} bytes at {gpa:#x}: {e}");
    }
    buf
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
