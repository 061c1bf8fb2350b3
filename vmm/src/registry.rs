//! The process registry: what the VMM keeps about each guest process. It
//! applies the protocol's rules to process events (a pid is created once,
//! exits once, on the page table it was created with), runs the analysis
//! when a process exits (its CR3 live), answers `whereis`, and bounds all
//! of it: the guest is hostile and must not make the VMM grow without limit.

use std::collections::BTreeMap;

use crate::devices::event::{BootEvent, ProcEvent, RegionKind, WhereisRequest};
use crate::hostmem::Pagemap;
use crate::inspect::{self, Cpu, LiveHost, Options, Walk2d};
use crate::memory::GuestRam;
use crate::observations::{ProcObservation, RunError};
use crate::paging;

/// Most process records and whereis answers kept.
pub const MAX_RECORDS: usize = 4096;
/// Most errors kept; the rest are counted.
pub const MAX_ERRORS: usize = 1000;
/// A process with more resident pages than this gets its host frames
/// looked up from one snapshot of all guest RAM (with `--pages`).
const SNAPSHOT_PAGES: u64 = 1024;

/// The registry of one run.
pub struct Registry<'a> {
    ram: &'a GuestRam,
    pagemap: Option<&'a Pagemap>,
    opts: Options,
    boot: Option<BootEvent>,
    procs: BTreeMap<u32, ProcObservation>,
    whereis: Vec<Walk2d>,
    errors: Vec<RunError>,
    errors_dropped: u64,
    /// Processes that have exited so far.
    exited: usize,
    /// Pages the rest of the run may still list (inspect::PAGE_BUDGET).
    page_budget: u64,
}

/// What the registry hands over at the end of the run.
pub struct Records {
    pub boot: Option<BootEvent>,
    pub procs: Vec<ProcObservation>,
    pub whereis: Vec<Walk2d>,
    pub errors: Vec<RunError>,
}

impl<'a> Registry<'a> {
    /// An empty registry for a run over `ram`.
    pub fn new(ram: &'a GuestRam, pagemap: Option<&'a Pagemap>, opts: Options) -> Self {
        Registry {
            ram,
            pagemap,
            opts,
            boot: None,
            procs: BTreeMap::new(),
            whereis: Vec::new(),
            errors: Vec::new(),
            errors_dropped: 0,
            exited: 0,
            page_budget: inspect::PAGE_BUDGET,
        }
    }

    /// The kernel's boot message.
    pub fn boot(&mut self, b: BootEvent) {
        self.boot = Some(b);
    }

    /// A process was created or is exiting.
    pub fn proc(&mut self, cpu: &impl Cpu, p: ProcEvent) {
        if p.exit.is_none() {
            self.created(cpu, p);
        } else {
            self.exiting(cpu, p);
        }
    }

    fn created(&mut self, cpu: &impl Cpu, p: ProcEvent) {
        if self.procs.contains_key(&p.pid) {
            return self.error(RunError::CreatedTwice { pid: p.pid });
        }
        if self.procs.len() >= MAX_RECORDS {
            return self.error(RunError::TooManyProcesses {
                pid: p.pid,
                max: MAX_RECORDS,
            });
        }
        let code = p.regions.iter().find(|r| r.kind == RegionKind::Code);
        let code_gpa = code.and_then(|r| {
            let mode = cpu.paging_mode()?;
            paging::walk(self.ram.mem(), p.cr3.raw(), mode, r.span.start)
                .ok()
                .map(|t| t.gpa)
        });
        self.procs.insert(
            p.pid,
            ProcObservation {
                created: p,
                exited: None,
                code_gpa,
                analysis: None,
                exit_order: None,
            },
        );
    }

    fn exiting(&mut self, cpu: &impl Cpu, p: ProcEvent) {
        let problem = match self.procs.get(&p.pid) {
            None => Some(RunError::UnknownPid { pid: p.pid }),
            Some(r) if r.exited.is_some() => Some(RunError::ExitedTwice { pid: p.pid }),
            Some(r) if r.created.cr3 != p.cr3 => Some(RunError::Cr3Changed {
                pid: p.pid,
                exit: p.cr3,
                created: r.created.cr3,
            }),
            Some(_) => None,
        };
        if let Some(e) = problem {
            return self.error(e);
        }
        let host = LiveHost::new(self.ram, self.pagemap);
        let host = if self.opts.all_pages && p.stats.pages_resident > SNAPSHOT_PAGES {
            host.snapshot()
        } else {
            host
        };
        let analysis = inspect::analyse(
            cpu,
            self.ram.mem(),
            &host,
            &p,
            &self.opts,
            &mut self.page_budget,
        );
        for finding in &analysis.findings {
            self.error(RunError::Process {
                pid: p.pid,
                finding: finding.clone(),
            });
        }
        if let Some(gva) = self.opts.walk {
            // The user's chosen address, walked while this CR3 is live.
            let w = inspect::walk2d(cpu, self.ram.mem(), &host, p.pid, p.cr3, gva, &self.opts);
            if let Some(w) = w {
                self.record(w);
            }
        }
        let order = self.exited;
        self.exited += 1;
        if let Some(rec) = self.procs.get_mut(&p.pid) {
            rec.exited = Some(p);
            rec.exit_order = Some(order);
            rec.analysis = Some(analysis);
        }
    }

    /// Answer `whereis`: walk the asker's table and follow the GPA to the
    /// host. None if the address is not mapped.
    pub fn whereis(&mut self, cpu: &impl Cpu, q: &WhereisRequest) -> Option<Walk2d> {
        let host = LiveHost::new(self.ram, self.pagemap);
        let w = inspect::walk2d(cpu, self.ram.mem(), &host, q.pid, q.cr3, q.gva, &self.opts)?;
        self.record(w.clone());
        Some(w)
    }

    /// Keep a 2D walk for the report (the first MAX_RECORDS), and flag it if
    /// KVM_TRANSLATE disagrees with the software walk.
    fn record(&mut self, w: Walk2d) {
        if let Some(kvm) = w.kvm.filter(|_| w.disagrees()) {
            self.error(RunError::WhereisMismatch {
                gva: w.gva,
                software: w.gpa,
                kvm,
            });
        }
        if self.whereis.len() < MAX_RECORDS {
            self.whereis.push(w);
        }
    }

    /// Record a problem for the report (the first MAX_ERRORS; the rest counted).
    pub fn error(&mut self, e: RunError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.errors_dropped += 1;
        }
    }

    /// The name of process `pid`, if it was created.
    pub fn name(&self, pid: u32) -> Option<&str> {
        self.procs.get(&pid).map(|r| r.created.name.as_str())
    }

    /// Everything recorded, for the report.
    pub fn finish(mut self) -> Records {
        if self.errors_dropped > 0 {
            self.errors.push(RunError::More(self.errors_dropped));
        }
        Records {
            boot: self.boot,
            procs: self.procs.into_values().collect(),
            whereis: self.whereis,
            errors: self.errors,
        }
    }
}
