//! microvmm: a small KVM micro-VMM that boots its own guest kernel and shows
//! where every page of every guest process lives: guest-virtual ->
//! guest-physical -> host-virtual -> host-physical, level by level.
//!
//! `run(config)` is the whole program; `main.rs` is only the command line.

#![deny(missing_docs)]
// Every byte for the terminal goes through a bounded writer (sink.rs):
// a bare print blocks on a stalled reader and panics on a closed one.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(test)]
mod acpi_tests;
pub mod addr;
pub mod boot;
pub mod cpu;
pub mod deadline;
pub mod devices;
pub mod error;
pub mod files;
pub mod gdb;
pub mod inspect;
pub mod interrupt;
pub mod irqchip;
pub mod kvm_probe;
pub mod kvmstats;
pub mod loader;
pub mod memory;
pub mod observations;
pub mod outcome;
pub mod outfile;
pub mod pagemap;
pub mod paging;
pub mod ports;
pub mod registry;
pub mod report;
pub mod sink;
pub mod size;
pub mod terminal;
pub mod trace;
pub mod vcpu;
pub mod vcpus;
pub mod watchdog;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

pub use deadline::Deadline;
pub use error::Error;
pub use outcome::{Outcome, exit_code};

use abi::layout::{MAX_MODULES, MAX_RAM, MIN_RAM};
use devices::console::Console;
pub use loader::program::Program;
use memory::{Backing, GuestRam};
use ports::Ports;
use registry::Registry;

/// The guest kernel built from guest/ and embedded in this binary.
pub static EMBEDDED_GUEST: &[u8] = include_bytes!(concat!(env!("MICROVMM_GUEST_DIR"), "/kernel"));

/// Which guest to boot.
#[derive(Clone, Debug)]
pub enum Guest {
    /// The demo kernel built into microvmm.
    Embedded,
    /// Any ELF64 kernel from a file.
    File(PathBuf),
}

/// Everything `run` needs to know.
#[derive(Clone, Debug)]
pub struct Config {
    /// The kernel to boot.
    pub guest: Guest,
    /// Guest RAM in bytes: a nonzero multiple of 4 KiB (2 MiB for hugetlb).
    pub mem_size: u64,
    /// What kind of host pages back guest RAM.
    pub backing: Backing,
    /// `--guest-pages 2m`: the guest backs heap and mmap areas with 2 MiB
    /// pages (BootInfo's BOOT_GUEST_HUGE).
    pub guest_huge: bool,
    /// Register memslots with KVM_MEM_LOG_DIRTY_PAGES and attribute the
    /// dirty pages after the run.
    pub dirty_log: bool,
    /// The in-kernel irqchip (its LAPIC timer: preemptive scheduling).
    pub irqchip: irqchip::Irqchip,
    /// The guest kernel's command line (which built-in programs to run).
    pub cmdline: String,
    /// The user's static Linux executables (`--run`), one process each,
    /// started after the built-in programs. With any of them and an empty
    /// `cmdline`, no built-in program runs.
    pub programs: Vec<Program>,
    /// Pass the guest's console bytes through unescaped.
    pub raw_console: bool,
    /// Every page in the report, not only each region's ends and samples.
    pub all_pages: bool,
    /// Which pages are cross-checked with KVM_TRANSLATE.
    pub verify: inspect::Verify,
    /// Report the 2D walk of this GVA in every process that maps it.
    pub walk: Option<addr::Gva>,
    /// Keep each process's page tables in the report (`--html`).
    pub page_tables: bool,
    /// CPU features taken from the guest (`--cpu host,-FEATURE...`).
    pub cpu: cpu::CpuMask,
    /// The environment `--run` programs start with (`--env`).
    pub env: loader::env::Environ,
    /// Give microvmm's stdin to the first `--run` program (`--stdin`).
    pub stdin: bool,
    /// Leave out the host line and the kernel's own console text (`-q`
    /// with `--run`: only the programs' output, verdicts and errors).
    pub quiet_console: bool,
    /// Whether the programs' stdin, stdout and stderr reach a terminal
    /// (what fstat and isatty say in the guest).
    pub ttys: [bool; 3],
    /// `--files DIR`: copy this host directory into the guest as its root
    /// file tree (files.rs).
    pub files: Option<PathBuf>,
    /// `--cpus N`: vCPUs, one host thread each (vcpus.rs).
    pub cpus: u32,
    /// `--trace`: record a timeline (trace.rs); Some(true) with system
    /// calls too (`--trace-syscalls`).
    pub trace: Option<bool>,
    /// How often KVM's counters are sampled while the vCPU runs
    /// (`--kvm-sample-us`); zero: only at exits.
    pub kvm_sample: std::time::Duration,
    /// Read KVM's counters at all. Off when nothing will show them (`-q`
    /// and no report file): the stats files are not opened, no sampler
    /// thread runs and no exit samples, and the report says why.
    pub kvm_counters: bool,
    /// `--gdb`: where to wait for gdb before the guest runs (gdb/).
    pub gdb: Option<gdb::conn::Listen>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guest: Guest::Embedded,
            mem_size: 128 << 20,
            backing: Backing::FourK,
            guest_huge: false,
            dirty_log: false,
            irqchip: irqchip::Irqchip::Split,
            cmdline: String::new(),
            programs: Vec::new(),
            raw_console: false,
            all_pages: false,
            verify: inspect::Verify::Sample,
            walk: None,
            page_tables: false,
            cpu: cpu::CpuMask::default(),
            env: loader::env::Environ::default(),
            stdin: false,
            quiet_console: false,
            ttys: [false; 3],
            files: None,
            cpus: 1,
            trace: None,
            kvm_sample: kvmstats::sampler::PERIOD,
            kvm_counters: true,
            gdb: None,
        }
    }
}

/// The demo kernel's command line: known programs, numeric arguments, no
/// more than its process table holds with the `modules` user programs.
fn check_cmdline(cmdline: &str, modules: usize) -> Result<(), Error> {
    use abi::programs::{MAX_PROCS, names, parse_word};
    let words: Vec<&str> = cmdline.split_ascii_whitespace().collect();
    if words.len() > MAX_PROCS {
        return Err(Error::Usage(format!(
            "--cmdline names {} programs; the guest runs at most {MAX_PROCS}",
            words.len()
        )));
    }
    if modules > 0 && words.len() + modules > MAX_PROCS {
        return Err(Error::Usage(format!(
            "--cmdline names {} programs and --run {modules}; the guest runs at most \
             {MAX_PROCS} processes",
            words.len()
        )));
    }
    for w in words {
        parse_word(w).map_err(|why| {
            Error::Usage(format!(
                "--cmdline '{w}': {why} (programs: {}; NAME or NAME:NUMBER)",
                names().collect::<Vec<_>>().join(" ")
            ))
        })?;
    }
    Ok(())
}

/// Read and check every user program and lay them out in guest RAM from
/// `kernel_end`; an error names the program's file.
fn stage_programs(
    programs: &[Program],
    kernel_end: addr::Gpa,
    ram_size: u64,
) -> Result<loader::program::Staged, Error> {
    loader::program::stage(programs, kernel_end, ram_size).map_err(|(i, source)| Error::Program {
        path: programs.get(i).map_or_else(String::new, Program::shown),
        source,
    })
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
    move |source| Error::Kvm { what, source }
}

/// Boot the guest, run it to the end or to `deadline.guest()`, and report
/// what it did. Human output (the host line and the guest's console) goes
/// to `out`, which should give up by then too (a `sink::Sink`); `--run`
/// programs' own stdout and stderr go to `programs` when given (else they
/// are prefixed console lines on `out`).
pub fn run(
    cfg: &Config,
    deadline: &Deadline,
    mut out: Box<dyn Write + Send>,
    programs: Option<devices::console::ProgramIo>,
) -> Result<Outcome, Error> {
    if !(vcpus::MIN_CPUS..=vcpus::MAX_CPUS).contains(&cfg.cpus) {
        return Err(Error::Usage(format!(
            "--cpus {}: give a number of vCPUs from {} to {}",
            cfg.cpus,
            vcpus::MIN_CPUS,
            vcpus::MAX_CPUS
        )));
    }
    if !(MIN_RAM..=MAX_RAM).contains(&cfg.mem_size) || !cfg.mem_size.is_multiple_of(4096) {
        return Err(Error::Usage(format!(
            "--mem {}: guest RAM must be a multiple of 4 KiB between {} and {}",
            size::format_size(cfg.mem_size),
            size::format_size(MIN_RAM),
            size::format_size(MAX_RAM)
        )));
    }
    // The embedded guest is read where it lies in the binary, not copied.
    let (path, bytes): (String, std::borrow::Cow<[u8]>) = match &cfg.guest {
        Guest::Embedded => ("embedded guest".to_string(), EMBEDDED_GUEST.into()),
        Guest::File(p) => {
            // Its errors already name the file.
            let b = loader::read_guest_file(p).map_err(Error::GuestFile)?;
            (p.display().to_string(), b.into())
        }
    };
    // Validate before touching KVM, so bad input is exit 2 on any host.
    let kernel = loader::validate(&bytes, cfg.mem_size).map_err(|source| Error::Guest {
        path: path.clone(),
        source,
    })?;
    if cfg.cmdline.len() >= abi::layout::CMDLINE_MAX {
        return Err(Error::Boot(boot::BootError::CmdlineTooLong(
            cfg.cmdline.len(),
        )));
    }
    if cfg.programs.len() > MAX_MODULES {
        return Err(Error::Usage(format!(
            "--run given {} times; at most {MAX_MODULES} programs",
            cfg.programs.len()
        )));
    }
    if matches!(cfg.guest, Guest::Embedded) {
        check_cmdline(&cfg.cmdline, cfg.programs.len())?;
    }
    let staged = stage_programs(&cfg.programs, kernel.end, cfg.mem_size)?;
    // The tree goes after the modules; the programs' segments must still
    // fit beside it.
    let segments = staged
        .programs
        .iter()
        .fold(0u64, |s, p| s.saturating_add(p.memory));
    let tree = match &cfg.files {
        Some(dir) => Some(files::stage(dir, staged.free, segments, cfg.mem_size)?),
        None => None,
    };
    let free_start = tree.as_ref().map_or(staged.free, |t| t.free);
    // The trace ring goes last below free_start, where nothing frees it.
    let (trace_ring, free_start) = match cfg.trace {
        Some(syscalls) => {
            let end = free_start.raw().saturating_add(abi::trace::RING_BYTES);
            if end.saturating_add(MIN_RAM / 2) > cfg.mem_size {
                return Err(Error::Usage(format!(
                    "--trace needs {} of guest RAM for its ring beyond the programs: give more --mem",
                    size::format_size(abi::trace::RING_BYTES)
                )));
            }
            (Some((free_start, syscalls)), addr::Gpa(end))
        }
        None => (None, free_start),
    };

    // Listen before anything runs: a port in use is a usage error.
    let listener = match &cfg.gdb {
        Some(l) => Some(gdb::conn::Listener::bind(l).map_err(Error::Usage)?),
        None => None,
    };
    let kvm = kvm_probe::open_kvm()?;
    let info = kvm_probe::probe(&kvm)?;
    if !cfg.quiet_console {
        let _ = writeln!(out, "{}", info.banner());
    }
    // RAM before the VM, so the VM (and its memslot) is dropped first: KVM
    // must never be left with a slot whose mapping is gone.
    let mut ram = GuestRam::new(cfg.mem_size, cfg.backing)?;
    let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
    let elf = loader::load(ram.mem(), &bytes, cfg.mem_size)
        .map_err(|source| Error::Guest { path, source })?;
    loader::program::place(ram.mem(), &staged).map_err(|e| match e {
        loader::program::PlaceError::Memory(e) => Error::Boot(boot::BootError::Write(e)),
        loader::program::PlaceError::Program(i, source) => Error::Program {
            path: cfg.programs.get(i).map_or_else(String::new, Program::shown),
            source,
        },
    })?;
    if let Some(t) = &tree {
        files::image::place(ram.mem(), &t.walked, t.gpa).map_err(|e| match e {
            files::FilesError::Memory(e) => Error::Boot(boot::BootError::Write(e)),
            e => Error::Files(e),
        })?;
    }
    // The memslot goes in before the irqchip: the other way round, a 64 MiB
    // slot took 5.5-7 ms instead of 0.1 ms here (HOST-KVM.md).
    ram.register(&vm, cfg.dirty_log)?;
    cfg.irqchip
        .create(&vm)
        .map_err(|(what, source)| Error::Kvm { what, source })?;
    let (mut vcpu, cpu_setup) = vcpu::create(&kvm, &vm, elf.entry, &cfg.cpu)?;
    let mut aps = (1..cfg.cpus)
        .map(|id| vcpus::create_ap(&vm, &vcpu, id, elf.entry, cpu_setup.xcr0))
        .collect::<Result<Vec<_>, _>>()?;
    let tsc_khz = vcpu.get_tsc_khz().unwrap_or(0) as u64;
    let realtime = vcpu::realtime_pair(&vcpu);
    boot::write(
        ram.mem(),
        &boot::BootParams {
            ram_size: cfg.mem_size,
            free_start,
            tsc_khz,
            irqchip: cfg.irqchip.has_timer(),
            guest_huge: cfg.guest_huge,
            cmdline: &cfg.cmdline,
            modules: &staged.modules,
            la57: cpu_setup.cpu.la57,
            host_xsave: cpu::xsave::host_xsave(),
            realtime,
            env: &cfg.env,
            ttys: cfg.ttys,
            tree: tree.as_ref().map(|t| (t.gpa, t.walked.len)),
            cpus: cfg.cpus,
            trace: trace_ring,
        },
    )?;
    let pagemap = pagemap::Pagemap::open().ok().map(|mut p| {
        if let Some(size) = ram.host_page_size() {
            for s in ram.slots() {
                p.know(s.hva, s.size, size);
            }
        }
        p
    });
    let opts = inspect::Options {
        all_pages: cfg.all_pages,
        max_checked: cfg.verify.max_checked(),
        flavour: info.flavour,
        walk: cfg.walk,
        frames: cfg.dirty_log,
        host_levels: info.paging_levels,
        tables: cfg.page_tables,
        deadline: Some(deadline.guest()),
    };
    let registry = Registry::new(&ram, pagemap.as_ref(), opts);
    let ports = Ports::new(
        &ram,
        match programs {
            Some(io) => Console::new(out, cfg.raw_console).with_programs(io, cfg.quiet_console),
            None => Console::new(out, cfg.raw_console),
        },
        devices::stdin::Stdin::new(
            (cfg.stdin && !cfg.programs.is_empty())
                .then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        ),
        registry,
        cpu_setup.cpu.maxphyaddr,
    )
    .with_trace(trace_ring.map(|(gpa, _)| trace::Drain::new(gpa)));
    // Opened last, right before the first KVM_RUN: its first sample is
    // the run's zero.
    let sampler = kvmstats::Sampler::start(
        if cfg.kvm_counters {
            kvmstats::Counters::open(&vm, &vcpu)
        } else {
            kvmstats::Counters::Unavailable(kvmstats::NOT_SHOWN.into())
        },
        ram.mem(),
        cfg.kvm_sample,
    );
    let mut ports = ports.with_kvm(sampler.at_exit());
    if let Some(l) = listener {
        let (ram, pagemap, opts) = ports.registry().host();
        let snap =
            gdb::view::Snapshot::new(ram, pagemap, opts.clone(), gdb::facilities(info.flavour));
        let _ = writeln!(
            sink::Sink::stderr(Some(deadline.output())),
            "microvmm: waiting for gdb before the guest's first instruction: {}",
            l.target()
        );
        let d = gdb::Debugger::new(
            l,
            snap,
            cfg.programs.len(),
            cpu_setup.cpu.maxphyaddr,
            deadline.guest(),
        );
        ports = ports.with_debugger(d);
    }
    let dog = watchdog::Watchdog::start(deadline.guest()).map_err(Error::Watchdog)?;
    let t0 = Instant::now();
    let (stop, vcpu_stats) = vcpus::run(&mut vcpu, &mut aps, &mut ports, &dog)?;
    ports.guest_ended(&stop);
    let run_time = t0.elapsed();
    drop(dog);
    let mut obs = ports.finish();
    obs.kvm = sampler.finish();
    let trace_log = obs.trace.take();
    let dirty = if cfg.dirty_log {
        Some(ram.dirty_pages(&vm)?)
    } else {
        None
    };
    let report = report::build::build(&report::build::Inputs {
        host: &info,
        ram: &ram,
        pagemap: pagemap.as_ref().map(pagemap::Pagemap::status_text),
        resident: memory::resident::bytes(ram.slots()),
        obs: &obs,
        programs: &cfg.programs,
        stop: &stop,
        run_time,
        first_output: obs.first_output.map(|t| t.duration_since(t0)),
        dirty: dirty.as_deref(),
        verify: cfg.verify,
        cpu: &cpu_setup,
        cpu_mask: &cfg.cpu,
        vcpus: &vcpu_stats,
    });
    let mut report = report;
    report.vmm.peak_rss_kib = pagemap::peak_rss_kib();
    report.files = tree.as_ref().map(files::Staged::report);
    if let Some(log) = trace_log {
        let clock = trace::chrome::Clock {
            tsc_khz,
            pair: realtime,
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
