//! The report's word on `--trace`: how many events of each kind the
//! timeline holds, and how many were dropped (the file holds the rest).

use serde::Serialize;

use crate::trace::{Event, TraceLog};

/// `trace` in the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// Events from the guest's ring.
    pub events: u64,
    /// Of them, page faults.
    pub faults: u64,
    /// Of them, context switches.
    pub switches: u64,
    /// Of them, TLB flushes.
    pub flushes: u64,
    /// Of them, system calls (`--trace-syscalls`).
    pub syscalls: u64,
    /// VM exits the VMM served and put on the timeline.
    pub exits: u64,
    /// Events the guest dropped: its ring was full.
    pub guest_dropped: u64,
    /// Events the VMM did not keep (past its bounds, or malformed).
    pub vmm_dropped: u64,
}

/// Count what `log` holds.
pub fn summary(log: &TraceLog) -> TraceSummary {
    let mut s = TraceSummary {
        events: log.events.len() as u64,
        exits: log.exits.len() as u64,
        guest_dropped: log.guest_dropped,
        vmm_dropped: log.vmm_dropped,
        ..TraceSummary::default()
    };
    for e in &log.events {
        match e {
            Event::Fault { .. } => s.faults += 1,
            Event::Switch { .. } => s.switches += 1,
            Event::Flush { .. } => s.flushes += 1,
            Event::Syscall { .. } => s.syscalls += 1,
            _ => {}
        }
    }
    s
}
