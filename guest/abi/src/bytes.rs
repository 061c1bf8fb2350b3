//! One byte view of the protocol's structs, for both sides: the VMM reads
//! messages out of guest memory and writes answers back; the kernel copies
//! answers out to user space and hands BootInfo over.

use crate::layout::{BootInfo, Module};
use crate::msg::{
    Boot, Console, DebugTrap, FileName, Header, Mark, Proc, Region, Stdin, ThreadEnd, Threads,
    WalkStep, Whereis, WhereisAnswer,
};
use crate::syscall::Stats;
use crate::tree::{EntryHeader, Header as TreeHeader};

/// Plain-old-data protocol structs: every bit pattern is a valid value.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers and arrays of
/// such types, with no implicit padding (every padding byte is an explicit
/// field), so that every byte is initialised and any bytes are a value.
pub unsafe trait Pod: Copy + 'static {
    /// The value's bytes, as the other side sees them.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: Self is Pod: size_of::<Self>() initialised bytes, no padding.
        unsafe {
            core::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// A value from the first `size_of::<Self>()` bytes of `b`; None if `b`
    /// is shorter.
    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < core::mem::size_of::<Self>() {
            return None;
        }
        // SAFETY: the length is checked, read_unaligned accepts any
        // alignment, and every bit pattern is a valid Self (Pod).
        Some(unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<Self>()) })
    }
}

macro_rules! pod {
    ($($t:ty),* $(,)?) => {
        // SAFETY: each is a #[repr(C)] abi struct of integers and arrays of
        // them with explicit padding fields; its size is asserted where it
        // is defined.
        $(unsafe impl Pod for $t {})*
    };
}

// The integers the kernel copies out to user space on their own (an
// FS base, a CPU mask) and in Linux structs built as arrays.
pod!(u8, u16, u32, u64, i32, i64);

// SAFETY: an array of Pod values has no padding between its elements
// (size is a multiple of alignment) and any bytes are N values.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

pod!(
    Header,
    Boot,
    Console,
    Stdin,
    Region,
    FileName,
    Proc,
    WalkStep,
    WhereisAnswer,
    Whereis,
    Mark,
    DebugTrap,
    ThreadEnd,
    Threads,
    BootInfo,
    Module,
    Stats,
    TreeHeader,
    EntryHeader,
);
