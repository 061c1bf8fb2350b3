//! `--trace FILE`: a timeline of the run in Chrome's trace-event format
//! (Perfetto's UI and chrome://tracing open it). The guest kernel records
//! page faults, switches, CR3 loads, TLB flushes, process events and (with
//! `--trace-syscalls`) system calls into a ring in its own memory
//! (abi::trace); the VMM drains it while the vCPU is stopped in the exits
//! that happen anyway, adds the exits it serves itself, and writes the
//! file after the run. Tracing adds no VM exit.

pub mod chrome;
pub mod ring;

pub use ring::{Drain, Event, TraceLog};
