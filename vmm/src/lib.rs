//! microvmm: a small KVM micro-VMM that boots its own guest kernel and shows
//! where every page of every guest process lives: guest-virtual ->
//! guest-physical -> host-virtual -> host-physical, level by level.
//!
//! `run(config)` is the whole program (run.rs: its steps, one a file under
//! run/); `main.rs` is only the command line.

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
mod run;
pub mod sink;
pub mod size;
pub mod terminal;
pub mod trace;
pub mod vcpu;
pub mod vcpus;
pub mod watchdog;

use std::path::PathBuf;

pub use deadline::Deadline;
pub use error::Error;
pub use outcome::{Outcome, exit_code};
pub use run::run;

pub use loader::program::Program;
use memory::Backing;

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
