//! The run's third step: attach the devices to the booted VM. The ports
//! (console, stdin, hypercalls into the process registry, the trace drain)
//! look at guest RAM through the host's pagemap; KVM's counters are
//! sampled from right before the first KVM_RUN; `--gdb` waits for its
//! debugger in front of them all.

use super::inputs::Inputs;
use super::machine::{Machine, Vcpus};
use crate::devices::console::{Console, ProgramIo};
use crate::memory::GuestRam;
use crate::ports::Ports;
use crate::registry::Registry;
use crate::{Config, Deadline, devices, gdb, inspect, kvmstats, pagemap, sink, trace};
use std::io::Write;

/// The host's pagemap, told the host page size of every memslot when RAM
/// knows it; None when it cannot be opened (the report says so).
pub(super) fn pagemap(ram: &GuestRam) -> Option<pagemap::Pagemap> {
    pagemap::Pagemap::open().ok().map(|mut p| {
        if let Some(size) = ram.host_page_size() {
            for s in ram.slots() {
                p.know(s.hva, s.size, size);
            }
        }
        p
    })
}

/// The port handler: the console on `out` (and `programs`), stdin, the
/// registry with the analysis options, and the trace ring's drain.
pub(super) fn ports<'a>(
    cfg: &Config,
    deadline: &Deadline,
    m: &'a Machine,
    pagemap: Option<&'a pagemap::Pagemap>,
    inputs: &Inputs,
    out: Box<dyn Write + Send>,
    programs: Option<ProgramIo>,
) -> Ports<'a> {
    let opts = inspect::Options {
        all_pages: cfg.all_pages,
        max_checked: cfg.verify.max_checked(),
        flavour: m.info.flavour,
        walk: cfg.walk,
        frames: cfg.dirty_log,
        host_levels: m.info.paging_levels,
        tables: cfg.page_tables,
        deadline: Some(deadline.guest()),
    };
    let registry = Registry::new(&m.ram, pagemap, opts);
    Ports::new(
        &m.ram,
        match programs {
            Some(io) => Console::new(out, cfg.raw_console).with_programs(io, cfg.quiet_console),
            None => Console::new(out, cfg.raw_console),
        },
        devices::stdin::Stdin::new(
            (cfg.stdin && !cfg.programs.is_empty())
                .then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        ),
        registry,
        m.cpu_setup.cpu.maxphyaddr,
    )
    .with_trace(inputs.trace_ring.map(|(gpa, _)| trace::Drain::new(gpa)))
}

/// KVM's counters, sampled every `cfg.kvm_sample` from now: its first
/// sample is the run's zero.
pub(super) fn sampler(cfg: &Config, m: &Machine, cpus: &Vcpus) -> kvmstats::Sampler {
    kvmstats::Sampler::start(
        if cfg.kvm_counters {
            kvmstats::Counters::open(&m.vm, &cpus.bsp)
        } else {
            kvmstats::Counters::Unavailable(kvmstats::NOT_SHOWN.into())
        },
        m.ram.mem(),
        cfg.kvm_sample,
    )
}

/// `--gdb`: say where gdb is awaited and put the debugger in front of the
/// ports, with its own view of RAM and the processes.
pub(super) fn debugger<'a>(
    cfg: &Config,
    deadline: &Deadline,
    m: &Machine,
    ports: Ports<'a>,
    l: gdb::conn::Listener,
) -> Ports<'a> {
    let (ram, pagemap, opts) = ports.registry().host();
    let snap =
        gdb::view::Snapshot::new(ram, pagemap, opts.clone(), gdb::facilities(m.info.flavour));
    let _ = writeln!(
        sink::Sink::stderr(Some(deadline.output())),
        "microvmm: waiting for gdb before the guest's first instruction: {}",
        l.target()
    );
    let d = gdb::Debugger::new(
        l,
        snap,
        cfg.programs.len(),
        m.cpu_setup.cpu.maxphyaddr,
        deadline.guest(),
    );
    ports.with_debugger(d)
}
