//! Messages the kernel sends through [`crate::PORT_HYPERCALL`].
//!
//! Each starts with a [`Header`]. `size` must equal the size of the struct
//! its `kind` names; the VMM rejects anything else (the guest is hostile).
//! The VMM writes `result` before the guest resumes: 0 on success, a
//! negative `RESULT_*` code otherwise.
//!
//! This file holds the header, the kinds and results; each message is in
//! the file of its concept (boot, console, proc, threads, whereis, debug),
//! all re-exported here, so `abi::msg::X` names every one.

/// Largest message the VMM accepts, in bytes.
pub const MSG_MAX: u32 = 4096;

pub const KIND_BOOT: u32 = 1;
pub const KIND_CONSOLE: u32 = 2;
pub const KIND_PROC: u32 = 3;
pub const KIND_WHEREIS: u32 = 4;
pub const KIND_MARK: u32 = 5;
pub const KIND_STDIN: u32 = 6;
pub const KIND_DEBUG_TRAP: u32 = 7;
pub const KIND_THREADS: u32 = 8;

pub const RESULT_OK: i32 = 0;
/// Unknown kind, wrong size, or a field out of range.
pub const RESULT_INVALID: i32 = -1;
/// The VMM could not do what was asked (e.g. the address is not mapped).
pub const RESULT_FAILED: i32 = -2;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    /// Size of the whole message, header included.
    pub size: u32,
    /// Written by the VMM.
    pub result: i32,
    /// Free for the guest (a sequence number); echoed untouched.
    pub seq: u32,
}
const _: () = assert!(core::mem::size_of::<Header>() == 16);

impl Header {
    /// The header of a message of `kind`, sized for it.
    pub const fn new(kind: u32) -> Header {
        Header {
            kind,
            size: size_of_kind(kind),
            result: 0,
            seq: 0,
        }
    }
}

mod boot;
mod console;
mod debug;
mod proc;
mod threads;
mod whereis;

pub use boot::*;
pub use console::*;
pub use debug::*;
pub use proc::*;
pub use threads::*;
pub use whereis::*;

/// Size the header of a message of `kind` must carry (0 for unknown kinds).
pub const fn size_of_kind(kind: u32) -> u32 {
    (match kind {
        KIND_BOOT => core::mem::size_of::<Boot>(),
        KIND_CONSOLE => core::mem::size_of::<Console>(),
        KIND_PROC => core::mem::size_of::<Proc>(),
        KIND_WHEREIS => core::mem::size_of::<Whereis>(),
        KIND_MARK => core::mem::size_of::<Mark>(),
        KIND_STDIN => core::mem::size_of::<Stdin>(),
        KIND_DEBUG_TRAP => core::mem::size_of::<DebugTrap>(),
        KIND_THREADS => core::mem::size_of::<Threads>(),
        _ => 0,
    }) as u32
}

/// The bytes of a NUL-padded name (a process name, the command line).
pub fn until_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}
