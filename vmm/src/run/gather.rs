//! The run's last step: gather what the run observed once the vCPUs have
//! stopped (the ports' observations, KVM's counters, the dirty log, the
//! trace) and build the report from it, with the parts the report builder
//! does not see (the VMM's peak RSS, the file tree, the trace's summary
//! and timeline).

use super::inputs::Inputs;
use super::machine::Machine;
use crate::observations::Observations;
use crate::vcpu::{Stop, VcpuStats};
use crate::{Config, Error, Outcome, files, memory, pagemap, report, trace};
use std::time::{Duration, Instant};

/// How the vCPUs ran: why they stopped, their counts, and the clock.
pub(super) struct Ran {
    /// Why the guest stopped.
    pub stop: Stop,
    /// Each vCPU's exit counts.
    pub vcpu_stats: Vec<VcpuStats>,
    /// When the first KVM_RUN was about to start.
    pub t0: Instant,
    /// How long the vCPUs ran.
    pub run_time: Duration,
}

/// Build the run's report and outcome from what it observed.
pub(super) fn report(
    cfg: &Config,
    inputs: &Inputs,
    m: &Machine,
    pagemap: Option<&pagemap::Pagemap>,
    mut obs: Observations,
    ran: Ran,
) -> Result<Outcome, Error> {
    let Ran {
        stop,
        vcpu_stats,
        t0,
        run_time,
    } = ran;
    let (info, ram, vm) = (&m.info, &m.ram, &m.vm);
    let trace_log = obs.trace.take();
    let dirty = if cfg.dirty_log {
        Some(ram.dirty_pages(vm)?)
    } else {
        None
    };
    let report = report::build::build(&report::build::Inputs {
        host: info,
        ram,
        pagemap: pagemap.map(pagemap::Pagemap::status_text),
        resident: memory::resident::bytes(ram.slots()),
        obs: &obs,
        programs: &cfg.programs,
        stop: &stop,
        run_time,
        first_output: obs.first_output.map(|t| t.duration_since(t0)),
        dirty: dirty.as_deref(),
        verify: cfg.verify,
        cpu: &m.cpu_setup,
        cpu_mask: &cfg.cpu,
        vcpus: &vcpu_stats,
    });
    let mut report = report;
    report.vmm.peak_rss_kib = pagemap::peak_rss_kib();
    report.files = inputs.tree.as_ref().map(files::Staged::report);
    if let Some(log) = trace_log {
        let clock = trace::chrome::Clock {
            tsc_khz: m.tsc_khz,
            pair: m.realtime,
        };
        report.trace = Some(report::trace::summary(&log));
        let names: std::collections::BTreeMap<u32, String> = report
            .processes
            .iter()
            .map(|p| (p.pid, p.name.clone()))
            .collect();
        if cfg.page_tables {
            report.timeline = Some(report::trace::timeline(&log, clock, &names));
        }
        report.trace_log = Some(report::TraceFile { log, clock, names });
    }
    Ok(Outcome {
        report,
        programs: !cfg.programs.is_empty(),
        stop,
        unknown_ports: obs.unknown_ports,
    })
}
