//! The report's word on `--trace`: how many events of each kind the
//! timeline holds, and how many were dropped (the file holds the rest).

use serde::Serialize;

use crate::trace::{Event, TraceLog};

/// `trace` in the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// Most faults the HTML timeline carries (the `--trace` file has them all).
pub const TIMELINE_FAULTS: usize = 200_000;

/// One fault on the HTML timeline.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimelineFault {
    /// µs from boot, and the handler's µs.
    pub ts: f64,
    /// The handler's time, µs.
    pub dur: f64,
    /// The process.
    pub pid: u32,
    /// The faulting address.
    pub gva: String,
    /// demand, copy-on-write, protection, invalid.
    pub kind: &'static str,
    /// The region's kind.
    pub region: &'static str,
    /// The frame mapped after, if any.
    pub frame: Option<String>,
}

/// The HTML report's timeline (`--html`): lanes, running slices, faults,
/// switches and exits, times in µs from boot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Timeline {
    /// One lane per pid, in pid order: (pid, name); pid 0 is the kernel.
    pub lanes: Vec<(u32, String)>,
    /// (pid, from µs, to µs) while each process had the vCPU.
    pub running: Vec<(u32, f64, f64)>,
    /// Page faults, in time order (the first TIMELINE_FAULTS).
    pub faults: Vec<TimelineFault>,
    /// (µs, from pid, to pid).
    pub switches: Vec<(f64, u32, u32)>,
    /// (µs, pid) of each VM exit the VMM served.
    pub exits: Vec<(f64, u32)>,
    /// Faults left out past TIMELINE_FAULTS.
    pub faults_left_out: u64,
    /// The last event's time, µs.
    pub end: f64,
}

/// The timeline of `log`; `names` names each pid.
pub fn timeline(
    log: &TraceLog,
    clock: crate::trace::chrome::Clock,
    names: &std::collections::BTreeMap<u32, String>,
) -> Timeline {
    let mut t = Timeline::default();
    let mut pids = std::collections::BTreeSet::from([0u32]);
    let mut open: Option<(u32, f64)> = None;
    let r3 = crate::trace::chrome::round;
    for e in &log.events {
        let ts = r3(clock.tsc_us(e.tsc()));
        t.end = t.end.max(ts);
        match e {
            Event::Switch { pid, from, .. } => {
                if let Some((p, since)) = open.take() {
                    t.running.push((p, since, ts));
                }
                open = Some((*pid, ts));
                t.switches.push((ts, *from, *pid));
                pids.insert(*pid);
            }
            Event::Fault {
                pid,
                gva,
                frame,
                cycles,
                region,
                kind,
                ..
            } => {
                pids.insert(*pid);
                if t.faults.len() >= TIMELINE_FAULTS {
                    t.faults_left_out += 1;
                    continue;
                }
                t.faults.push(TimelineFault {
                    ts,
                    dur: r3(clock.cycles_us(*cycles)),
                    pid: *pid,
                    gva: format!("{gva:#x}"),
                    kind: kind.name(),
                    region,
                    frame: frame.map(|f| format!("{f:#x}")),
                });
            }
            _ => {}
        }
    }
    for x in &log.exits {
        let ts = r3(clock.host_us(x.ns));
        t.end = t.end.max(ts);
        t.exits.push((ts, x.pid));
        pids.insert(x.pid);
    }
    if let Some((p, since)) = open {
        t.running.push((p, since, t.end));
    }
    t.lanes = pids
        .into_iter()
        .map(|p| {
            let name = match p {
                0 => "kernel".to_string(),
                p => names.get(&p).cloned().unwrap_or_else(|| "?".into()),
            };
            (p, name)
        })
        .collect();
    t
}
