//! The process registry: what the VMM keeps about each guest process. It
//! applies the protocol's rules to process events (a pid is created once,
//! exits once, on the page table it was created with; it is created again
//! only after its image ended in execve, as the next image), runs the
//! analysis when a process exits (its CR3 live, comparing its frames with
//! every other live process's), answers `whereis`, and bounds all of it:
//! the guest is hostile and must not make the VMM grow without limit.

use std::collections::BTreeMap;

use crate::devices::event::{BootEvent, Exit, ProcEvent, RegionKind};
use crate::devices::threads::ThreadsEvent;
use crate::inspect::{self, Budget, Cpu, LiveHost, Options, Peer, Walk2d};
use crate::memory::GuestRam;
use crate::observations::{ProcObservation, RunError};
use crate::pagemap::Pagemap;
use crate::paging::{self, PagingMode};

/// Most processes recorded, each image a pid ran counting as one. The
/// kernel runs at most abi::programs::MAX_PROCS programs; this leaves room
/// for a kernel that runs them again and again, while a hostile one cannot
/// make the VMM keep thousands.
pub const MAX_PROCESSES: usize = 256;
/// Most processes past MAX_PROCESSES followed at once (alive, so their
/// output and stdin go where their program's go). The guest kernel runs
/// at most 64 at a time; a hostile one gets an error past this.
pub const MAX_UNTRACKED_LIVE: usize = 4096;
/// Most whereis answers (and --walk walks) kept.
pub const MAX_RECORDS: usize = 4096;
/// Mapped runs listed in the whole run.
pub const RUN_BUDGET: usize = 1 << 16;

/// Pages listed in the report (and dirty-log frames kept) in the whole
/// run: as many as guest RAM has frames, at least 2^16 and at most
/// inspect::PAGE_BUDGET. A hostile guest's aliased tables can name far
/// more pages than it has frames; a real one cannot map more than it has.
pub fn page_budget(ram_size: u64) -> u64 {
    (ram_size / crate::addr::PAGE).clamp(1 << 16, inspect::PAGE_BUDGET)
}
/// Most errors kept; the rest are counted.
pub const MAX_ERRORS: usize = 1000;
/// Output kept per process, for the report.
pub const OUTPUT_MAX: usize = 64 << 10;
/// Output kept for all processes together: many processes must not make
/// the VMM keep 64 KiB each without bound.
pub const OUTPUT_BUDGET: usize = 4 << 20;
/// Printed addresses answered per process: those in a region, or mapped
/// at some point, first; addresses outside every region fill what is left.
pub const MAX_PRINTED: usize = 32;
pub use printed::{MAX_PRINTED_TRIED, Scanner, printed_addresses};

mod output;
mod printed;
#[cfg(test)]
mod tests;
mod whereis;
/// A process with more resident pages than this gets its host frames
/// looked up from one snapshot of all guest RAM (with `--pages`, or with
/// `--html`, which looks up each of its page tables).
const SNAPSHOT_PAGES: u64 = 1024;

/// The registry of one run.
pub struct Registry<'a> {
    ram: &'a GuestRam,
    pagemap: Option<&'a Pagemap>,
    opts: Options,
    boot: Option<BootEvent>,
    /// By (pid, image): a pid's images in the order it ran them.
    procs: BTreeMap<(u32, u32), ProcObservation>,
    whereis: Vec<Walk2d>,
    errors: Vec<RunError>,
    errors_dropped: u64,
    /// Processes that have exited so far.
    exited: usize,
    /// What the rest of the run may still list.
    budget: Budget,
    /// Output bytes the rest of the run may still keep (OUTPUT_BUDGET).
    output_budget: usize,
    /// The guest's paging mode, as the vCPU had it when the last process
    /// was created: printed addresses are walked with it when they arrive.
    mode: Option<PagingMode>,
    /// Live processes created past MAX_PROCESSES: not recorded or
    /// analysed, only followed (pid -> the `--run` program they belong to)
    /// until they exit. A shell script can run thousands of commands.
    untracked: BTreeMap<u32, Option<u32>>,
    /// How many processes (images) were not recorded.
    not_recorded: u64,
}

/// What the registry hands over at the end of the run.
pub struct Records {
    /// The kernel's boot message, if it sent one.
    pub boot: Option<BootEvent>,
    /// Every recorded process, by pid, each pid's images in order.
    pub procs: Vec<ProcObservation>,
    /// `whereis` answers and `--walk` walks, in order.
    pub whereis: Vec<Walk2d>,
    /// What went wrong: the first MAX_ERRORS, then one `RunError::More`.
    pub errors: Vec<RunError>,
    /// Processes (images) that ran past MAX_PROCESSES, not recorded.
    pub not_recorded: u64,
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
            budget: Budget {
                pages: page_budget(ram.size()),
                runs: RUN_BUDGET,
                share: inspect::SHARE_BUDGET,
            },
            output_budget: OUTPUT_BUDGET,
            mode: None,
            untracked: BTreeMap::new(),
            not_recorded: 0,
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

    /// How the threads of `t.pid` ended: kept with its current image,
    /// once, before that image exits (else a protocol error).
    pub fn threads(&mut self, t: ThreadsEvent) {
        if self.untracked.contains_key(&t.pid) {
            return;
        }
        match self.current_mut(t.pid) {
            Some(r) if r.exited.is_none() && r.threads.is_none() => r.threads = Some(t),
            _ => self.error(RunError::ThreadsUnexpected { pid: t.pid }),
        }
    }

    /// The record of `pid`'s current (latest) image.
    fn current(&self, pid: u32) -> Option<&ProcObservation> {
        self.procs
            .range((pid, 0)..=(pid, u32::MAX))
            .next_back()
            .map(|(_, r)| r)
    }

    fn current_mut(&mut self, pid: u32) -> Option<&mut ProcObservation> {
        self.procs
            .range_mut((pid, 0)..=(pid, u32::MAX))
            .next_back()
            .map(|(_, r)| r)
    }

    fn created(&mut self, cpu: &impl Cpu, p: ProcEvent) {
        if let Some(&program) = self.untracked.get(&p.pid) {
            // Its next image (after execve), still past the cap.
            self.not_recorded += 1;
            self.untracked.insert(p.pid, p.module.or(program));
            return;
        }
        // A pid is created again only as the image that follows an execve.
        let (image, before) = match self.current(p.pid) {
            None => (0, None),
            Some(r) if r.exited.as_ref().and_then(|e| e.exit) == Some(Exit::Exec) => {
                (r.image + 1, r.program)
            }
            Some(_) => return self.error(RunError::CreatedTwice { pid: p.pid }),
        };
        if self.procs.len() >= MAX_PROCESSES {
            if self.untracked.len() >= MAX_UNTRACKED_LIVE {
                return self.error(RunError::TooManyProcesses {
                    pid: p.pid,
                    max: MAX_PROCESSES,
                });
            }
            let parent = self.program_of(p.ppid);
            self.untracked.insert(p.pid, p.module.or(before).or(parent));
            self.not_recorded += 1;
            return;
        }
        if p.execs != image {
            // Kept, numbered as the VMM saw the images.
            self.error(RunError::ExecsDisagree {
                pid: p.pid,
                execs: p.execs,
                seen: image,
            });
        }
        // Its own --run program, else the one its previous image or its
        // parent ran: a program's children and exec'd images are its own.
        let parent = (p.ppid != 0).then(|| self.program_of(p.ppid)).flatten();
        let program = p.module.or(before).or(parent);
        self.mode = cpu.paging_mode();
        let code = p.regions.iter().find(|r| r.kind == RegionKind::Code);
        let code_gpa = code.and_then(|r| {
            let mode = self.mode?;
            paging::walk(self.ram.mem(), p.cr3.raw(), mode, r.span.start)
                .ok()
                .map(|t| t.gpa)
        });
        self.procs.insert(
            (p.pid, image),
            ProcObservation {
                image,
                program,
                created: p,
                exited: None,
                code_gpa,
                analysis: None,
                exit_order: None,
                created_at: std::time::Instant::now(),
                first_output: None,
                output: Vec::new(),
                output_truncated: false,
                stdout: Vec::new(),
                stderr: Vec::new(),
                printed: Vec::new(),
                scanner: Scanner::default(),
                when_printed: Vec::new(),
                threads: None,
            },
        );
    }

    fn exiting(&mut self, cpu: &impl Cpu, p: ProcEvent) {
        if self.untracked.contains_key(&p.pid) {
            // Gone, unless execve replaced the image (its next follows).
            if p.exit != Some(Exit::Exec) {
                self.untracked.remove(&p.pid);
            }
            return;
        }
        let problem = match self.current(p.pid) {
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
        let many = self.opts.all_pages || self.opts.tables;
        let host = if many && p.stats.pages_resident > SNAPSHOT_PAGES {
            host.snapshot()
        } else {
            host
        };
        // The other processes live now: their frames are compared with its.
        let peers: Vec<Peer> = self
            .procs
            .values()
            .filter(|r| r.exited.is_none() && r.created.pid != p.pid)
            .map(|r| Peer {
                pid: r.created.pid,
                name: r.created.name.clone(),
                cr3: r.created.cr3,
            })
            .collect();
        let analysis = inspect::analyse(
            cpu,
            self.ram.mem(),
            &host,
            &p,
            &peers,
            &self.opts,
            &mut self.budget,
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
        let printed = match self.current_mut(p.pid) {
            Some(rec) => {
                // The last word of its output ends with it.
                let last = rec.scanner.scan(&rec.output, true);
                let mut tried = std::mem::take(&mut rec.when_printed);
                tried.extend(last.into_iter().map(|gva| (gva, None)));
                let created = rec.created.clone();
                self.printed(cpu, &host, &p, &created, &tried)
            }
            None => Vec::new(),
        };
        let order = self.exited;
        self.exited += 1;
        if let Some(rec) = self.current_mut(p.pid) {
            rec.exited = Some(p);
            rec.exit_order = Some(order);
            rec.analysis = Some(analysis);
            rec.printed = printed;
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

    /// The processes alive now (each one's current image), as their
    /// creation messages described them: what the debugger shows.
    pub fn live(&self) -> impl Iterator<Item = &ProcEvent> {
        self.procs
            .values()
            .filter(|r| r.exited.is_none())
            .map(|r| &r.created)
    }

    /// What a walk outside the run's records needs (the debugger's
    /// `monitor whereis`): guest RAM, the host's pagemap and the options.
    pub fn host(&self) -> (&'a GuestRam, Option<&'a Pagemap>, &Options) {
        (self.ram, self.pagemap, &self.opts)
    }

    /// The name of process `pid` (its current image's), if it was created.
    pub fn name(&self, pid: u32) -> Option<&str> {
        self.current(pid).map(|r| r.created.name.as_str())
    }

    /// Whether process `pid` runs a `--run` program (not a built-in), or
    /// descends from one (a child it forked, an image it exec'd).
    pub fn is_program(&self, pid: u32) -> bool {
        self.program_of(pid).is_some()
    }

    /// The `--run` program process `pid` belongs to, recorded or not.
    fn program_of(&self, pid: u32) -> Option<u32> {
        match self.untracked.get(&pid) {
            Some(&program) => program,
            None => self.current(pid).and_then(|r| r.program),
        }
    }

    /// Whether process `pid` runs the first `--run` program (module 0), or
    /// descends from it: those are given microvmm's stdin.
    pub fn is_first_program(&self, pid: u32) -> bool {
        self.program_of(pid) == Some(0)
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
            not_recorded: self.not_recorded,
        }
    }
}
