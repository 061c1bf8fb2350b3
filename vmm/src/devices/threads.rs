//! How the threads of a process ended, as the guest tells it once at the
//! group's end (abi::msg::Threads), decoded and checked by the hypercall
//! decoder: one `ThreadsEvent` per process that made more than one thread.

use std::ops::Range;

use crate::addr::Gva;

/// The threads of process `pid`, in the order they ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadsEvent {
    /// The process (the thread group's id).
    pub pid: u32,
    /// The first abi::msg::MAX_THREADS threads to end.
    pub threads: Vec<ThreadEnd>,
    /// Threads that ended past those, not listed.
    pub dropped: u32,
}

/// One thread's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadEnd {
    /// Its thread id.
    pub tid: u32,
    /// How it ended.
    pub how: ThreadExit,
    /// The vCPUs it ran on, one bit each.
    pub vcpus: u32,
    /// The region its stack pointer (from clone) was in, if known.
    pub stack: Option<Range<Gva>>,
}

/// How a thread ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadExit {
    /// It called exit(2) with this code.
    Exit(u8),
    /// Its group ended while it lived (exit_group, a fatal signal or
    /// fault, or execve).
    WithGroup,
}
