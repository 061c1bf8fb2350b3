//! Reading and checking an ELF64 executable before anything is mapped.
//! The bytes come from the build (built-in programs) or from the user
//! through the VMM (boot modules): the kernel checks them again either way
//! and names what is wrong in one line. The rules live in `abi::elf`, so
//! that the VMM checks exactly these on the host.

pub use abi::elf::{Elf, MAX_SEGMENTS, Segment, parse, parse_head};
