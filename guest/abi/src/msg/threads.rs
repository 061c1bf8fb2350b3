//! The threads of a group that had more than one (`Threads`), sent once
//! just before the group's `PROC_EXITING` message.

use super::Header;

/// Threads a `Threads` message lists at most (the rest are counted).
pub const MAX_THREADS: usize = 32;

/// `ThreadEnd::how`: the thread called exit(2); `status` is its code.
pub const THREAD_EXIT: u32 = 1;
/// `ThreadEnd::how`: its group ended while it lived (exit_group, a fatal
/// signal or fault, or execve, by it or by another thread).
pub const THREAD_WITH_GROUP: u32 = 2;

/// How one thread of a group ended.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ThreadEnd {
    pub tid: u32,
    /// `THREAD_EXIT` or `THREAD_WITH_GROUP`.
    pub how: u32,
    /// exit(2)'s code (0-255) for `THREAD_EXIT`, else 0.
    pub status: u32,
    /// The vCPUs it ran on, one bit each.
    pub vcpus: u32,
    /// [stack_start, stack_end): the region holding the byte below the
    /// stack pointer clone(2) gave it (the stack region for the thread
    /// that started the group); 0, 0 when unknown.
    pub stack_start: u64,
    pub stack_end: u64,
}
const _: () = assert!(core::mem::size_of::<ThreadEnd>() == 32);

/// The threads of a group that had more than one, sent once just before
/// its `PROC_EXITING` message (so no exit is spent per thread): the first
/// `MAX_THREADS` to end, in the order they ended, and how many more.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Threads {
    pub hdr: Header,
    /// The group's id (its `Proc::pid`).
    pub pid: u32,
    /// Entries of `threads` in use (at most MAX_THREADS).
    pub nthreads: u32,
    /// Threads that ended past the first MAX_THREADS, not listed.
    pub dropped: u32,
    pub _pad: u32,
    pub threads: [ThreadEnd; MAX_THREADS],
}
const _: () = assert!(core::mem::size_of::<Threads>() == 1056);
