//! A traced run as Chrome trace-event JSON (the "JSON Object Format":
//! `{"traceEvents": [...], ...}`), which Perfetto's UI and chrome://tracing
//! open. One track per guest process (the trace's pid and tid are the
//! guest pid; pid 0 is the kernel), named with `process_name` and
//! `thread_name` metadata; a "running" B/E slice while a process has the
//! vCPU, page faults and system calls as complete (X) events inside it,
//! switches, CR3 loads, TLB flushes, process events and VM exits as
//! instants. Timestamps are µs from the moment the VMM wrote the boot
//! block (the guest TSC and the host clock were read together then).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde_json::{Value, json};

use super::ring::{Event, TraceLog};

/// How guest TSC values and host times become µs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    /// The guest TSC's rate; 0 when unknown (then ts counts kilo-cycles).
    pub tsc_khz: u64,
    /// The host's CLOCK_REALTIME (ns) and the guest TSC at the same moment.
    pub pair: (u64, u64),
}

impl Clock {
    /// µs since the pair for guest TSC `tsc`.
    pub fn tsc_us(&self, tsc: u64) -> f64 {
        let d = tsc as f64 - self.pair.1 as f64;
        if self.tsc_khz == 0 {
            d / 1000.0
        } else {
            d * 1000.0 / self.tsc_khz as f64
        }
    }

    /// µs for `cycles` of TSC.
    pub fn cycles_us(&self, cycles: u64) -> f64 {
        if self.tsc_khz == 0 {
            cycles as f64 / 1000.0
        } else {
            cycles as f64 * 1000.0 / self.tsc_khz as f64
        }
    }

    /// µs since the pair for host time `ns`.
    pub fn host_us(&self, ns: u64) -> f64 {
        (ns as f64 - self.pair.0 as f64) / 1000.0
    }
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// `us` to the nanosecond (three decimals), as trace files and the
/// timeline show times.
pub fn round(us: f64) -> f64 {
    (us * 1000.0).round() / 1000.0
}

/// What a port's exit was for.
fn port_name(port: u16) -> &'static str {
    match port {
        abi::PORT_HYPERCALL => "hypercall (a message)",
        abi::PORT_SHUTDOWN => "shutdown",
        0x3f8..=0x3ff => "serial",
        _ => "other port",
    }
}

/// One line of the timeline before it is written: what, at which µs.
#[derive(Clone, Copy)]
enum Item {
    /// log.events[i].
    Event(usize),
    /// log.exits[i].
    Exit(usize),
    /// A running slice of pid begins / ends.
    Begin(u32),
    End(u32),
}

/// The event `e` at `ts` as trace-event JSON.
fn event(e: &Event, ts: f64, clock: Clock) -> Value {
    match e {
        Event::Switch { pid, from, cr3, .. } => json!({"name": "context switch", "ph": "i",
            "s": "t", "ts": ts, "pid": pid, "tid": pid,
            "args": {"from": from, "to": pid, "cr3": hex(*cr3)}}),
        Event::Fault {
            pid,
            gva,
            frame,
            cycles,
            region,
            kind,
            ..
        } => {
            let dur = round(clock.cycles_us(*cycles));
            json!({"name": "page fault", "cat": kind.name(), "ph": "X", "ts": ts,
                "dur": dur, "pid": pid, "tid": pid,
                "args": {"gva": hex(*gva), "region": region, "kind": kind.name(),
                    "frame": frame.map(hex), "handler_us": dur}})
        }
        Event::Cr3 { pid, cr3, .. } => json!({"name": "CR3 load", "ph": "i", "s": "t",
            "ts": ts, "pid": pid, "tid": pid, "args": {"cr3": hex(*cr3)}}),
        Event::Flush { pid, cr3, page, .. } => json!({"name": "TLB flush", "ph": "i",
            "s": "t", "ts": ts, "pid": pid, "tid": pid,
            "args": {"cr3": hex(*cr3), "page": page.map(hex),
                "scope": if page.is_some() { "one page" } else { "address space" }}}),
        Event::Proc {
            pid, what, value, ..
        } => {
            let args = match *what {
                "process start" => json!({"ppid": value}),
                "process exit" => json!({"status": value}),
                _ => json!({}),
            };
            json!({"name": what, "ph": "i", "s": "p", "ts": ts, "pid": pid, "tid": pid,
                "args": args})
        }
        Event::Syscall {
            pid,
            nr,
            ret,
            cycles,
            ..
        } => {
            let name = abi::sysnames::name(*nr)
                .map_or_else(|| format!("syscall {nr}"), |n| format!("syscall {n}"));
            let dur = round(clock.cycles_us(*cycles));
            json!({"name": name, "cat": "syscall", "ph": "X", "ts": ts, "dur": dur,
                "pid": pid, "tid": pid, "args": {"nr": nr, "ret": ret, "handler_us": dur}})
        }
    }
}

fn pid_of(e: &Event) -> u32 {
    match *e {
        Event::Fault { pid, .. }
        | Event::Switch { pid, .. }
        | Event::Cr3 { pid, .. }
        | Event::Flush { pid, .. }
        | Event::Proc { pid, .. }
        | Event::Syscall { pid, .. } => pid,
    }
}

/// Every event, VM exit and running slice of `log` in the order the file
/// lists them, with its time in µs, and every pid met (0, the kernel,
/// always).
fn timeline(log: &TraceLog, clock: Clock) -> (Vec<(f64, usize, Item)>, BTreeSet<u32>) {
    // (µs, order, what): sorted by time, ties in the order made, so a
    // switch's E comes before its B.
    let mut items: Vec<(f64, usize, Item)> = Vec::with_capacity(log.events.len() + 2 * 64);
    let mut pids = BTreeSet::from([0u32]);
    let mut open: Option<u32> = None;
    let mut last_ts = 0.0f64;
    for (i, e) in log.events.iter().enumerate() {
        let ts = round(clock.tsc_us(e.tsc()));
        last_ts = last_ts.max(ts);
        pids.insert(pid_of(e));
        if let Event::Switch { pid, .. } = e {
            if let Some(p) = open.take() {
                items.push((ts, items.len(), Item::End(p)));
            }
            items.push((ts, items.len(), Item::Event(i)));
            items.push((ts, items.len(), Item::Begin(*pid)));
            open = Some(*pid);
        } else {
            items.push((ts, items.len(), Item::Event(i)));
        }
    }
    for (i, x) in log.exits.iter().enumerate() {
        let ts = round(clock.host_us(x.ns));
        last_ts = last_ts.max(ts);
        pids.insert(x.pid);
        items.push((ts, items.len(), Item::Exit(i)));
    }
    if let Some(p) = open {
        items.push((last_ts, items.len(), Item::End(p)));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    (items, pids)
}

/// Write the trace of `log` to `w`, one event at a time (a long run's
/// events are never all held as JSON); `names` gives each pid's name (its
/// last image's).
pub fn write(
    log: &TraceLog,
    clock: Clock,
    names: &BTreeMap<u32, String>,
    w: &mut dyn Write,
) -> io::Result<()> {
    // Thousands of small events: one write each would be a system call each.
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let w: &mut dyn Write = &mut w;
    let (items, pids) = timeline(log, clock);
    w.write_all(b"{\"traceEvents\":[\n")?;
    let mut first = true;
    let mut put = |w: &mut dyn Write, v: Value| -> io::Result<()> {
        if !first {
            w.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut *w, &v).map_err(io::Error::from)
    };
    for &pid in &pids {
        let name = match pid {
            0 => "kernel".to_string(),
            p => format!(
                "pid {p} {}",
                names.get(&p).map_or("(not reported)", String::as_str)
            ),
        };
        for kind in ["process_name", "thread_name"] {
            put(
                w,
                json!({"name": kind, "ph": "M", "ts": 0, "pid": pid, "tid": pid,
                "args": {"name": name}}),
            )?;
        }
    }
    for (ts, _, it) in items {
        let v = match it {
            Item::Event(i) => match log.events.get(i) {
                Some(e) => event(e, ts, clock),
                None => continue,
            },
            Item::Exit(i) => match log.exits.get(i) {
                Some(x) => json!({"name": "VM exit", "cat": "vmm", "ph": "i", "s": "t",
                    "ts": ts, "pid": x.pid, "tid": x.pid,
                    "args": {"port": hex(u64::from(x.port)), "for": port_name(x.port)}}),
                None => continue,
            },
            Item::Begin(p) => json!({"name": "running", "ph": "B", "ts": ts, "pid": p, "tid": p}),
            Item::End(p) => json!({"name": "running", "ph": "E", "ts": ts, "pid": p, "tid": p}),
        };
        put(w, v)?;
    }
    let other = json!({
        "producer": "microvmm --trace",
        "clock": if clock.tsc_khz == 0 { "guest TSC kilo-cycles (TSC rate unknown)" } else { "us from boot (guest TSC)" },
        "guest_dropped": log.guest_dropped,
        "vmm_dropped": log.vmm_dropped,
    });
    w.write_all(b"\n],\"displayTimeUnit\":\"ms\",\"otherData\":")?;
    serde_json::to_writer(&mut *w, &other).map_err(io::Error::from)?;
    w.write_all(b"}\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::ring::{FaultKind, VmExit};

    /// Process 1 runs, faults and takes a VM exit; process 2 runs and exits.
    fn two_processes() -> TraceLog {
        TraceLog {
            events: vec![
                Event::Switch {
                    tsc: 1000,
                    pid: 1,
                    from: 0,
                    cr3: 0x1000,
                },
                Event::Fault {
                    tsc: 1500,
                    pid: 1,
                    gva: 0x4000,
                    frame: Some(0x9000),
                    cycles: 100,
                    region: "heap",
                    kind: FaultKind::Demand,
                },
                Event::Switch {
                    tsc: 3000,
                    pid: 2,
                    from: 1,
                    cr3: 0x2000,
                },
                Event::Proc {
                    tsc: 3500,
                    pid: 2,
                    what: "process exit",
                    value: 0,
                },
            ],
            exits: vec![VmExit {
                ns: 2_000,
                pid: 1,
                port: abi::PORT_HYPERCALL,
            }],
            guest_dropped: 3,
            vmm_dropped: 0,
        }
    }

    #[test]
    fn switches_become_nested_slices_and_every_event_is_complete() {
        let log = two_processes();
        let clock = Clock {
            tsc_khz: 1_000_000,
            pair: (0, 0),
        }; // 1 GHz: 1000 cycles = 1 µs
        let mut names = BTreeMap::new();
        names.insert(1, "heap".to_string());
        let mut out = Vec::new();
        write(&log, clock, &names, &mut out).expect("write to a Vec");
        let v: Value = serde_json::from_slice(&out).expect("the trace is JSON");
        let evs = v["traceEvents"].as_array().expect("events");
        for e in evs {
            assert!(
                e["ph"].is_string() && e["ts"].is_number() && e["pid"].is_number(),
                "{e}"
            );
        }
        // B/E per pid, in order: 1 opens at 1 µs, closes at 3; 2 opens at 3
        // and is closed at the last event.
        let be: Vec<(String, u64, f64)> = evs
            .iter()
            .filter(|e| e["ph"] == "B" || e["ph"] == "E")
            .map(|e| {
                (
                    e["ph"].as_str().unwrap_or("").to_string(),
                    e["pid"].as_u64().unwrap_or(9),
                    e["ts"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect();
        assert_eq!(
            be,
            vec![
                ("B".into(), 1, 1.0),
                ("E".into(), 1, 3.0),
                ("B".into(), 2, 3.0),
                ("E".into(), 2, 3.5)
            ]
        );
        let fault = evs
            .iter()
            .find(|e| e["name"] == "page fault")
            .expect("fault");
        assert_eq!(fault["dur"], 0.1);
        assert_eq!(fault["args"]["kind"], "demand");
        assert!(
            evs.iter()
                .any(|e| e["ph"] == "M" && e["args"]["name"] == "pid 1 heap")
        );
        assert!(
            evs.iter()
                .any(|e| e["ph"] == "M" && e["args"]["name"] == "pid 2 (not reported)")
        );
        assert_eq!(v["otherData"]["guest_dropped"], 3);
        let exit = evs.iter().find(|e| e["name"] == "VM exit").expect("exit");
        assert_eq!(exit["ts"], 2.0);
    }
}
