//! What a run observed, as one value handed to the report at the end:
//! the kernel's boot message, every process with its analysis, the 2D
//! walks, the exits, and what went wrong.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{BootEvent, ProcEvent, RegionKind};
use crate::devices::hypercall::ProtocolError;
use crate::inspect::{Analysis, Finding, Walk2d};
use crate::paging::Cr3;

/// Everything the run learned, in one value.
#[derive(Debug, Default)]
pub struct Observations {
    /// The kernel's boot message, if it sent one.
    pub boot: Option<BootEvent>,
    /// Every recorded process, by pid, each pid's images in the order it
    /// ran them.
    pub procs: Vec<ProcObservation>,
    /// `whereis` answers and `--walk` walks, in the order they were made.
    pub whereis: Vec<Walk2d>,
    /// Cross-check failures and guest protocol violations: the first
    /// `registry::MAX_ERRORS`, then one [`RunError::More`].
    pub errors: Vec<RunError>,
    /// Processes (images) that ran after `registry::MAX_PROCESSES` were
    /// recorded: followed while they lived, not analysed.
    pub not_recorded: u64,
    /// VM exits by kind.
    pub exits: ExitCounts,
    /// When the guest's first console byte arrived.
    pub first_output: Option<Instant>,
    /// Ports the guest wrote to that no device serves.
    pub unknown_ports: crate::ports::UnknownPorts,
    /// KVM's own counters, charged to the processes that ran.
    pub kvm: crate::kvmstats::KvmCounts,
    /// `--trace`: what the guest's ring and the VMM's exits recorded.
    pub trace: Option<crate::trace::TraceLog>,
}

/// What the VMM knows about one guest process, or one image of it: a
/// process that calls execve is recorded again, as its next image.
#[derive(Clone, Debug)]
pub struct ProcObservation {
    /// Which image of its pid this is: 0 for the first, then one more for
    /// each execve (counted by the VMM).
    pub image: u32,
    /// The `--run` program (module index) it runs or descends from: its
    /// own, else its previous image's, else its parent's at creation; None
    /// for the built-ins and their children.
    pub program: Option<u32>,
    /// Its creation message.
    pub created: ProcEvent,
    /// Its exit message; None while it runs (or if it never reported).
    pub exited: Option<ProcEvent>,
    /// GPA of the first code page, walked when the creation message came.
    pub code_gpa: Option<Gpa>,
    /// The translation analysis made while its CR3 was live.
    pub analysis: Option<Analysis>,
    /// Order of exit among all processes (0 = first to end).
    pub exit_order: Option<usize>,
    /// When its creation message arrived.
    pub created_at: Instant,
    /// When its first output arrived; None if it printed nothing.
    pub first_output: Option<Instant>,
    /// What it wrote to stdout and stderr (the first registry::OUTPUT_MAX
    /// bytes).
    pub output: Vec<u8>,
    /// It wrote more than `output` holds.
    pub output_truncated: bool,
    /// The same output, split: what it wrote to fd 1 and to fd 2 (each
    /// within registry::OUTPUT_MAX, charged to the run's budget too).
    pub stdout: Vec<u8>,
    /// What it wrote to fd 2.
    pub stderr: Vec<u8>,
    /// Addresses it printed ("0x..." in its output), each answered at its
    /// exit (registry::MAX_PRINTED at most).
    pub printed: Vec<Printed>,
    /// Finds the numbers in `output` as they are written.
    pub scanner: crate::registry::Scanner,
    /// Each number found so far, in order, and its translation when it was
    /// written (None if not mapped then); emptied at exit.
    pub when_printed: Vec<(Gva, Option<Seen>)>,
    /// How its threads ended, when it made more than one (sent just
    /// before its exit message).
    pub threads: Option<crate::devices::threads::ThreadsEvent>,
}

/// An address a process printed, and what the VMM knows of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Printed {
    /// The address.
    pub gva: Gva,
    /// The region it lies in at exit; None outside every region.
    pub region: Option<RegionKind>,
    /// Its walk through guest and host page tables at exit, while the CR3
    /// was live; None when it was not mapped then.
    pub walk: Option<Walk2d>,
    /// Why it was not mapped at exit (None when it was).
    pub not_mapped: Option<NotMapped>,
}

/// Why a printed address was not mapped at its process's exit. The VMM sees
/// a process's regions when it is created and when it exits, and walks each
/// printed address when the write that printed it arrives; the guest
/// kernel serves page faults, mmap and munmap without telling it, so a
/// page touched after it was printed and freed before exit is not seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotMapped {
    /// In a demand-paged region (bss, heap, mmap, stack), not mapped when
    /// it was printed nor at exit: no page touched there yet.
    NotTouched(RegionKind),
    /// In a region that is never mapped (the stack guard) or was mapped
    /// eagerly, and not mapped at exit.
    NotMappedIn(RegionKind),
    /// Mapped when it was printed, not at exit: the translation it had
    /// then.
    Unmapped(Seen),
    /// Outside every region at exit, inside this one when the process was
    /// created.
    RegionGone(RegionKind),
    /// Outside every region at exit and at creation, not mapped when it was
    /// printed.
    Outside,
}

/// A printed address's translation when the write that printed it arrived
/// (the software walk; KVM_TRANSLATE answers only for the live CR3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its guest-physical address then.
    pub gpa: Gpa,
    /// The VMM's mapping of that GPA.
    pub hva: Option<Hva>,
    /// The host-physical address then; None when the host would not say.
    pub hpa: Option<Hpa>,
}

impl NotMapped {
    /// Whether a demand-paged region of this kind fills on first touch.
    fn demand_paged(kind: RegionKind) -> bool {
        matches!(
            kind,
            RegionKind::Bss | RegionKind::Heap | RegionKind::Mmap | RegionKind::Stack
        )
    }

    /// Why an address in `region` at exit (None: outside every region),
    /// not mapped then, was not: from its translation when printed and the
    /// region it had at creation.
    pub fn classify(
        region: Option<RegionKind>,
        seen: Option<Seen>,
        at_creation: Option<RegionKind>,
    ) -> NotMapped {
        match (seen, region, at_creation) {
            (Some(s), _, _) => NotMapped::Unmapped(s),
            (None, Some(k), _) if Self::demand_paged(k) => NotMapped::NotTouched(k),
            (None, Some(k), _) => NotMapped::NotMappedIn(k),
            (None, None, Some(k)) => NotMapped::RegionGone(k),
            (None, None, None) => NotMapped::Outside,
        }
    }
}

impl fmt::Display for NotMapped {
    /// The report's `why`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotMapped::NotTouched(k) => {
                write!(
                    f,
                    "{}: no page touched there yet (demand paging)",
                    k.as_str()
                )
            }
            NotMapped::NotMappedIn(RegionKind::Guard) => {
                f.write_str("guard: never mapped (touching it is a stack overflow)")
            }
            NotMapped::NotMappedIn(k) => write!(f, "{}: not mapped at exit", k.as_str()),
            NotMapped::Unmapped(_) => {
                f.write_str("unmapped before exit (it was mapped when printed)")
            }
            NotMapped::RegionGone(k) => write!(
                f,
                "unmapped before exit (in {} when the process was created, in no region at exit)",
                k.as_str()
            ),
            NotMapped::Outside => f.write_str("outside every region"),
        }
    }
}

impl ProcObservation {
    /// The latest message about it: the exit message once it has one.
    pub fn last(&self) -> &ProcEvent {
        self.exited.as_ref().unwrap_or(&self.created)
    }
}

/// VM exits seen by the VMM, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExitCounts {
    /// Port I/O exits the VMM handled, reads and writes.
    pub total: u64,
    /// Exits on the hypercall port (one per guest message).
    pub hypercall: u64,
    /// Writes to COM1's data port.
    pub serial: u64,
    /// Writes to ports nobody handles (ignored, logged once).
    pub other: u64,
}

/// Something the run got wrong or the guest did wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// A message that does not decode.
    Protocol(ProtocolError),
    /// A creation message's image count is not the one the VMM saw.
    ExecsDisagree {
        /// The pid.
        pid: u32,
        /// The images before this one, as the guest says.
        execs: u32,
        /// The images before this one the VMM recorded.
        seen: u32,
    },
    /// A second creation message for a pid that is still running (or
    /// ended other than by execve).
    CreatedTwice {
        /// The pid.
        pid: u32,
    },
    /// The process table is full.
    TooManyProcesses {
        /// The pid not recorded.
        pid: u32,
        /// How many processes are recorded.
        max: usize,
    },
    /// An exit message for a pid never created.
    UnknownPid {
        /// The pid.
        pid: u32,
    },
    /// A second exit message for a pid.
    ExitedTwice {
        /// The pid.
        pid: u32,
    },
    /// A threads message for a pid that is unknown, has exited, or had
    /// sent one.
    ThreadsUnexpected {
        /// The pid.
        pid: u32,
    },
    /// A process exits on another page table than it was created with.
    Cr3Changed {
        /// The process.
        pid: u32,
        /// CR3 in its exit message.
        exit: Cr3,
        /// CR3 in its creation message.
        created: Cr3,
    },
    /// What the analysis of a process found.
    Process {
        /// The process.
        pid: u32,
        /// What was wrong.
        finding: Finding,
    },
    /// KVM_TRANSLATE disagrees with the software walk of a whereis.
    WhereisMismatch {
        /// The address asked about.
        gva: Gva,
        /// What the software walk gave.
        software: Gpa,
        /// What KVM_TRANSLATE gave.
        kvm: Gpa,
    },
    /// The answer could not be written back into guest memory.
    AnswerNotWritten {
        /// Where the answer should have gone.
        gpa: Gpa,
    },
    /// This many more errors were not kept.
    More(u64),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Protocol(e) => write!(f, "guest protocol: {e}"),
            RunError::CreatedTwice { pid } => write!(f, "guest protocol: pid {pid} created twice"),
            RunError::ExecsDisagree { pid, execs, seen } => write!(
                f,
                "guest protocol: pid {pid} says it ran {execs} images before this one; the VMM saw {seen}"
            ),
            RunError::TooManyProcesses { pid, max } => write!(
                f,
                "guest protocol: more than {max} processes; pid {pid} not recorded"
            ),
            RunError::ThreadsUnexpected { pid } => write!(
                f,
                "guest protocol: threads of pid {pid} sent with no live image to take them (unknown, exited, or sent twice)"
            ),
            RunError::UnknownPid { pid } => {
                write!(f, "guest protocol: exit of unknown pid {pid}")
            }
            RunError::ExitedTwice { pid } => write!(f, "guest protocol: pid {pid} exited twice"),
            RunError::Cr3Changed { pid, exit, created } => write!(
                f,
                "guest protocol: pid {pid} exits with CR3 {exit}, created with {created}"
            ),
            RunError::Process { pid, finding } => write!(f, "pid {pid}: {finding}"),
            RunError::WhereisMismatch { gva, software, kvm } => write!(
                f,
                "whereis {gva}: software walk says GPA {software} but KVM_TRANSLATE says {kvm}"
            ),
            RunError::AnswerNotWritten { gpa } => {
                write!(f, "cannot write the whereis answer at GPA {gpa}")
            }
            RunError::More(n) => write!(f, "... and {n} more errors"),
        }
    }
}

impl schemars::JsonSchema for RunError {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RunError".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "One error, as a sentence."
        })
    }
}

impl Serialize for RunError {
    /// The sentence, as the JSON report's `errors[]` carries it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the VMM saw decides the answer: a translation when printed
    /// wins (the page was there and went), then the region at exit (demand
    /// paged or not), then the region at creation, else nothing.
    #[test]
    fn an_unmapped_printed_address_says_why() {
        let seen = Seen {
            gpa: Gpa(0x2a7000),
            hva: None,
            hpa: None,
        };
        let why = |region, seen, created| NotMapped::classify(region, seen, created).to_string();
        assert_eq!(
            why(Some(RegionKind::Heap), None, Some(RegionKind::Heap)),
            "heap: no page touched there yet (demand paging)"
        );
        assert_eq!(
            why(Some(RegionKind::Stack), None, None),
            "stack: no page touched there yet (demand paging)"
        );
        assert!(why(Some(RegionKind::Guard), None, None).starts_with("guard: never mapped"));
        assert_eq!(
            why(Some(RegionKind::Code), None, None),
            "code: not mapped at exit"
        );
        assert_eq!(
            NotMapped::classify(None, Some(seen), None),
            NotMapped::Unmapped(seen)
        );
        assert_eq!(
            why(Some(RegionKind::Mmap), Some(seen), None),
            "unmapped before exit (it was mapped when printed)"
        );
        assert_eq!(
            why(None, None, Some(RegionKind::Heap)),
            "unmapped before exit (in heap when the process was created, in no region at exit)"
        );
        assert_eq!(why(None, None, None), "outside every region");
    }
}
