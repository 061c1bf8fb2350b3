//! Assemble the report from what the run observed.

use std::collections::HashMap;
use std::time::Duration;

use abi::msg;

use super::model::*;
use crate::addr::{Gpa, Gva};
use crate::devices::hypercall;
use crate::host::HostInfo;
use crate::hostmem::Pagemap;

use crate::inspect::region_reports;
use crate::memory::GuestRam;
use crate::monitor::Monitor;
use crate::vcpu::Stop;

/// Everything the report is made from.
pub struct Inputs<'a> {
    pub host: &'a HostInfo,
    pub ram: &'a GuestRam,
    pub pagemap: Option<&'a Pagemap>,
    pub mon: &'a Monitor<'a>,
    pub stop: &'a Stop,
    pub run_time: Duration,
    pub first_output: Option<Duration>,
    pub dirty: Option<&'a [Gpa]>,
}

/// The report of one run, from what the monitor saw and the host probe.
pub fn build(i: &Inputs) -> Report {
    let mon = i.mon;
    let mut r = Report {
        schema: SCHEMA,
        ..Default::default()
    };
    r.host = HostReport {
        kvm_flavour: i.host.flavour.as_str().into(),
        nested_paging: i.host.flavour.nested_paging_text().into(),
        nested: i.host.nested,
        pagemap: i
            .pagemap
            .map_or("unavailable (cannot open /proc/self/pagemap)".into(), |p| {
                p.status_text()
            }),
        hpa_meaning: i.host.hpa_meaning().into(),
        cpu: i.host.cpu.clone(),
        kernel: i.host.kernel.clone(),
    };
    r.memory = MemoryReport {
        backing: i.ram.backing().as_str().into(),
        size: i.ram.size(),
        slots: i
            .ram
            .slots()
            .iter()
            .map(|s| SlotReport {
                slot: s.slot,
                gpa_start: s.gpa,
                gpa_end: Gpa(s.gpa.raw() + s.size),
                hva: s.hva,
                size: s.size,
                flags: s.flag_names().iter().map(|f| f.to_string()).collect(),
            })
            .collect(),
    };
    let b = mon.boot.as_ref();
    r.guest = GuestReport {
        mode: b.map(|b| match b.mode {
            msg::MODE_PVM_NATIVE => "pvm-native".into(),
            msg::MODE_X86 => "x86".into(),
            m => format!("unknown ({m})"),
        }),
        exit_status: match i.stop {
            Stop::Shutdown(s) => Some(*s),
            _ => None,
        },
        outcome: if i.stop.is_ok() {
            "ok".into()
        } else {
            format!("failed: {}", i.stop)
        },
        scheduling: b.map(|b| {
            if b.sched == msg::SCHED_TIMER {
                "timer".into()
            } else {
                "cooperative".into()
            }
        }),
        timer_hz: b.map(|b| b.timer_hz),
        paging_levels: b.map(|b| b.paging_levels),
        boot_us: b.and_then(|b| {
            (b.tsc_khz != 0)
                .then(|| b.tsc_banner.wrapping_sub(b.tsc_start) as f64 * 1000.0 / b.tsc_khz as f64)
        }),
        first_output_us: i.first_output.map(|d| d.as_secs_f64() * 1e6),
        run_ms: i.run_time.as_secs_f64() * 1e3,
        exits: mon.exits,
    };
    for (pid, rec) in &mon.procs {
        let last = rec.exited.as_ref().unwrap_or(&rec.created);
        let mut p = ProcessReport {
            pid: *pid,
            name: hypercall::name(&rec.created),
            cr3: Gpa(rec.created.cr3),
            user_pgd: (rec.created.user_pgd != 0).then_some(Gpa(rec.created.user_pgd)),
            heap_faults: last.heap_faults,
            stack_faults: last.stack_faults,
            pages_resident: last.pages_resident,
            code_gpa: rec.code_gpa,
            ..Default::default()
        };
        p.exit = match &rec.exited {
            None => ExitReport {
                kind: "running".into(),
                ..Default::default()
            },
            Some(e) if e.exit_kind == msg::EXIT_FAULT => ExitReport {
                kind: "fault".into(),
                vector: Some(e.fault_vector),
                error_code: Some(e.fault_error),
                address: Some(Gva(e.fault_addr)),
                rip: Some(Gva(e.fault_rip)),
                reason: Some(fault_reason(e.fault_vector, e.fault_error)),
                ..Default::default()
            },
            Some(e) => ExitReport {
                kind: "exit".into(),
                status: Some(e.exit_status),
                ..Default::default()
            },
        };
        match &rec.analysis {
            Some(a) => {
                p.regions = a.regions.clone();
                p.pages = a.pages.clone();
                p.pages_total = a.pages_total;
                p.pages_checked = a.pages_checked;
                p.pattern = a.pattern.clone();
                p.frames_lowest = a.frames_span.map(|s| s.0);
                p.frames_highest = a.frames_span.map(|s| s.1);
                p.ranges = a.ranges.clone();
            }
            None => {
                // Never reported its exit: the regions it was created with.
                p.regions = region_reports(&rec.created, &[]);
            }
        }
        r.processes.push(p);
    }
    r.whereis = mon.whereis.clone();
    r.errors = mon.errors.clone();
    r.dirty = i.dirty.map(|d| attribute_dirty(d, mon, i.ram.size()));
    r
}

/// "#PF user read of a not-present page" and the like, from the error code.
pub fn fault_reason(vector: u64, err: u64) -> String {
    if vector != 14 {
        return format!("vector {vector}");
    }
    let who = if err & 4 != 0 { "user" } else { "supervisor" };
    let what = if err & 16 != 0 {
        "instruction fetch"
    } else if err & 2 != 0 {
        "write"
    } else {
        "read"
    };
    let why = if err & 8 != 0 {
        "a reserved bit"
    } else if err & 1 != 0 {
        "a protection violation on a present page"
    } else {
        "a not-present page"
    };
    format!("#PF: {who} {what}, {why}")
}

/// Attribute each dirty guest page to whoever owned it last.
fn attribute_dirty(dirty: &[Gpa], mon: &Monitor, ram: u64) -> DirtyReport {
    let mut owner: HashMap<u64, String> = HashMap::new();
    // A frame freed by one process may be reused by a later one: replay the
    // exits in the order they happened, so the last owner wins.
    let mut recs: Vec<_> = mon.procs.iter().collect();
    recs.sort_by_key(|(_, r)| r.exit_order.unwrap_or(usize::MAX));
    for (pid, rec) in recs {
        let name = hypercall::name(&rec.created);
        if let Some(a) = &rec.analysis {
            for t in &a.tables {
                owner.insert(t.raw() >> 12, "page tables".into());
            }
            for (gpa, region) in &a.frames {
                owner.insert(gpa.raw() >> 12, format!("pid {pid} {name} {region}"));
            }
        }
    }
    let mut counts: HashMap<String, u64> = HashMap::new();
    for g in dirty {
        let o = match owner.get(&(g.raw() >> 12)) {
            Some(o) => o.clone(),
            None if g.raw() < abi::layout::RESERVED_END => "boot structures".into(),
            None if g.raw() < ram => {
                "kernel (image, data, or frames of no reported process)".into()
            }
            None => "outside RAM".into(),
        };
        *counts.entry(o).or_default() += 1;
    }
    let mut by_owner: Vec<DirtyOwner> = counts
        .into_iter()
        .map(|(owner, pages)| DirtyOwner { owner, pages })
        .collect();
    by_owner.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.owner.cmp(&b.owner)));
    DirtyReport {
        pages_dirty: dirty.len() as u64,
        by_owner,
    }
}
