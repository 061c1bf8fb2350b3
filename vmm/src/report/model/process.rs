//! One process's entry of the report model (`processes[]`) and its parts:
//! how it ended, its regions, runs, listed pages (the analysis's own
//! `PageObs`), sharing, page tables, printed addresses and unknown system
//! calls. Their doc comments are the JSON keys' descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{Prot, RegionKind};
use crate::inspect::region_or_outside;
pub use crate::inspect::{PageObs, PeerShare};
use crate::paging::Cr3;

/// One guest process (`processes[]`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct ProcessReport {
    /// The guest kernel's process id.
    pub pid: u32,
    /// Its parent's pid: 0 when the kernel started it, or its parent
    /// exited and it was re-parented.
    pub ppid: u32,
    /// Which image of its pid this entry is: 0 for the first; each execve
    /// ends one (`exit.kind` "exec") and the next entry, same pid, is the
    /// image that replaced it.
    pub image: u32,
    /// Its name, as the guest gave it.
    pub name: String,
    /// The file it was loaded from (`--run`); null for a built-in program.
    pub path: Option<String>,
    /// Its arguments, `argv[0]` first (`--run`); null for a built-in program.
    pub argv: Option<Vec<String>>,
    /// Which `--run` it is (0 = the first, whose status microvmm exits
    /// with); null for a built-in program.
    pub run_index: Option<u32>,
    /// The kernel PGD (what CR3 holds while the kernel runs for it).
    pub cr3: Cr3,
    /// The user PGD under PVM pv_kpti (cr3 | 0x1000), else null.
    pub user_pgd: Option<Gpa>,
    /// How it ended.
    pub exit: ExitReport,
    /// Its regions, in address order.
    pub regions: Vec<RegionReport>,
    /// Demand-paging faults the kernel served in its heap.
    pub heap_faults: u64,
    /// Demand-paging faults the kernel served in its stack.
    pub stack_faults: u64,
    /// Demand-paging faults served in regions of each kind, every kind
    /// listed, regions unmapped before exit included: `{"mmap": 16384, ...}`.
    pub faults_by_kind: BTreeMap<RegionKind, u64>,
    /// User pages resident at its last report.
    pub pages_resident: u64,
    /// TLB shootdowns its threads caused: IPIs sent to other vCPUs running
    /// a thread of it after a mapping was removed or downgraded (munmap,
    /// mprotect, copy-on-write, brk shrink); 0 with one vCPU.
    pub tlb_shootdowns: u32,
    /// Pages those IPIs asked to be flushed one by one (a larger change is
    /// a full flush and adds nothing here).
    pub tlb_shootdown_pages: u32,
    /// Microseconds its threads waited for shootdowns, from the first IPI
    /// until every target had flushed, summed (guest TSC).
    pub tlb_shootdown_us: f64,
    /// The vCPUs its threads ran on (`--cpus`), by index; empty when it
    /// never reported its exit.
    pub vcpus: Vec<u32>,
    /// Its threads, in the order they ended (the first 32), when it made
    /// more than one; they all run on its CR3. Empty otherwise.
    pub threads: Vec<crate::report::threads::ThreadReport>,
    /// Threads that ended past those listed.
    pub threads_dropped: u32,
    /// Its mapped pages whose guest frame another process, live at its
    /// exit, maps too; null when it was not analysed or the count was
    /// stopped (`sharing.why` says why).
    pub shared_pages: Option<u64>,
    /// Its frames compared with every other process live at its exit;
    /// null when it was not analysed.
    pub sharing: Option<SharingReport>,
    /// GPA of the first code page, from the creation message.
    pub code_gpa: Option<Gpa>,
    /// Lowest and highest guest frame any of its pages used.
    pub frames_lowest: Option<Gpa>,
    /// See `frames_lowest`.
    pub frames_highest: Option<Gpa>,
    /// Its mapped pages coalesced into runs contiguous in both GVA and GPA
    /// with equal flags and page size (at most MAX_RANGES per process).
    pub ranges: Vec<RangeReport>,
    /// How many runs it had: more than `ranges` lists when the cap (4096
    /// per process, 2^16 per run) cut the list.
    pub ranges_total: u64,
    /// Every mapped user page (with `--pages`; otherwise the first and last
    /// page of each region and a few samples).
    pub pages: Vec<PageObs>,
    /// Mapped user pages in total (pages[] may hold fewer).
    pub pages_total: u64,
    /// Pages whose software walk was compared with KVM_TRANSLATE.
    pub pages_checked: u64,
    /// The value it wrote and read back through the GPA and HVA; null if it wrote none.
    pub pattern: Option<PatternCheck>,
    /// From its creation message to its first output, in µs (VMM clock):
    /// the cost of starting it (loading, start-up code) plus any time other
    /// processes ran first. Null if it printed nothing.
    pub first_output_us: Option<f64>,
    /// What it wrote to stdout/stderr (the first 64 KiB, lossy UTF-8).
    pub output: String,
    /// More was written than `output` holds.
    pub output_truncated: bool,
    /// What it wrote to fd 1 (first 64 KiB; lossy UTF-8).
    pub stdout: String,
    /// What it wrote to fd 2 (first 64 KiB; lossy UTF-8).
    pub stderr: String,
    /// Addresses it printed ("0x..."), each answered: mapped at exit, or why not.
    pub printed_addresses: Vec<PrintedReport>,
    /// Distinct system calls the kernel did not know (each got -ENOSYS).
    pub unknown_syscalls: Vec<UnknownSyscall>,
    /// How many distinct unknown numbers it made (unknown_syscalls may list fewer).
    pub unknown_syscalls_distinct: u32,
    /// The FS base (TLS pointer) at its last report.
    pub fs_base: Gva,
    /// With `--html` only (absent otherwise): the user half's page tables
    /// as they were at its exit, so the HTML page can walk any page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_tables: Option<PageTablesReport>,
    /// TLB reach of its mappings, per guest page size.
    pub tlb_reach: Vec<ReachReport>,
    /// One TLB miss's memory references, per (guest, host) page-size
    /// combination present (host.walk_refs_meaning says what they count).
    pub walk_refs: Vec<WalkRefsReport>,
    /// KVM's counters while this image ran (null when KVM's stats are
    /// unavailable, or no interval was its alone).
    pub kvm: Option<crate::kvmstats::Values>,
}

/// What an exiting process shared with the processes live at its exit
/// (`processes[].sharing`).
#[derive(Debug, Default, Clone, Serialize, JsonSchema)]
pub struct SharingReport {
    /// Each other live process, with how many of this process's pages it
    /// maps too.
    pub with: Vec<PeerShare>,
    /// The shared guest frames as runs, `["0x..." first GPA, 4 KiB frames]`
    /// in GPA order (at most 4096).
    pub frames: Vec<(Gpa, u64)>,
    /// How many runs there were: more than `frames` lists when capped.
    pub frames_total: u64,
    /// False when a bound stopped the comparison: the counts are then null.
    pub complete: bool,
    /// Why it was stopped; null when complete.
    pub why: Option<String>,
}

/// Pages of one guest page size and the bytes they cover.
#[derive(Debug, Default, Clone, Serialize, JsonSchema)]
pub struct ReachReport {
    /// The guest page size, bytes.
    pub page_size: u64,
    /// Mapped pages of that size.
    pub pages: u64,
    /// pages x page_size: what the TLB reaches if each page has an entry.
    pub bytes: u64,
}

/// The cost of a TLB miss for one guest/host page-size combination.
#[derive(Debug, Default, Clone, Serialize, JsonSchema)]
pub struct WalkRefsReport {
    /// The guest page size, bytes.
    pub guest_page_size: u64,
    /// The host page behind it, bytes; null when the host did not say.
    pub host_page_size: Option<u64>,
    /// Mapped pages with this combination.
    pub pages: u64,
    /// Memory references of one TLB miss on such a page.
    pub refs: u32,
    /// How `refs` is counted, e.g. "3*(4+1)+4".
    pub formula: String,
}

/// A process's page tables (user half), as `--html` records them.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct PageTablesReport {
    /// False when the run-wide page budget (or the walk limit) cut them short.
    pub complete: bool,
    /// Root first, then depth-first in address order.
    pub tables: Vec<TableReport>,
}

/// One page-table page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TableReport {
    /// Where the table is in guest memory.
    pub gpa: Gpa,
    /// Where it is on the host; null when the host will not say.
    pub hpa: Option<Hpa>,
    /// The host page behind it (its nested walk ends early on a large one).
    pub host_page_size: Option<u64>,
    /// "PML5", "PML4", "PDPT", "PD", "PT".
    pub level: String,
    /// [index, "0x..." raw entry] of each present entry (at the root only
    /// indices below 256, the user half).
    pub entries: Vec<(u16, String)>,
}

/// An address a process printed, answered.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrintedReport {
    /// The address as printed.
    pub gva: Gva,
    /// The region's kind at exit, or "outside".
    #[serde(serialize_with = "region_or_outside")]
    #[schemars(with = "String")]
    pub region: Option<RegionKind>,
    /// Whether it was mapped at exit.
    pub mapped: bool,
    /// Why it was not mapped at exit; null when it was.
    pub why: Option<String>,
    /// Where `gpa`, `hva` and `hpa` come from: "exit" (walked at exit),
    /// "printed" (walked when the write that printed it arrived: the last
    /// translation the VMM saw), or null (never seen mapped).
    pub translated: Option<&'static str>,
    /// The guest-physical address it translates to; null if never seen mapped.
    pub gpa: Option<Gpa>,
    /// The VMM's mapping of that GPA; null outside every memslot.
    pub hva: Option<Hva>,
    /// Host-physical address; null when the host will not say.
    pub hpa: Option<Hpa>,
}

/// A run of pages contiguous in GVA and GPA (`processes[].ranges[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RangeReport {
    /// First guest-virtual address.
    pub gva: Gva,
    /// First guest-physical address.
    pub gpa: Gpa,
    /// Number of pages.
    pub pages: u64,
    /// Bytes per page (4 KiB, 2 MiB or 1 GiB).
    pub page_size: u64,
    /// Effective guest flags shared by every page, e.g. "P RW US NX".
    pub flags: String,
}

/// How a process ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExitKind {
    /// It called exit(status).
    Exit,
    /// The kernel killed it for a fault.
    Fault,
    /// A signal killed it (it raised SIGABRT, say).
    Signal,
    /// It called execve: this image ended, the pid went on in the next.
    Exec,
    /// It never reported its end.
    #[default]
    Running,
}

/// How a process ended (`processes[].exit`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct ExitReport {
    /// "exit", "fault", "signal", "exec" (replaced by execve) or "running"
    /// (never reported its end).
    pub kind: ExitKind,
    /// The exit status, for an exit.
    pub status: Option<i64>,
    /// The exception vector, for a fault (14 is #PF).
    pub vector: Option<u64>,
    /// The exception's error code, for a fault.
    pub error_code: Option<u64>,
    /// The faulting address (CR2), for a fault.
    pub address: Option<Gva>,
    /// The instruction pointer at the fault.
    pub rip: Option<Gva>,
    /// Human words for a fault, e.g. "#PF user read of a not-present page".
    pub reason: Option<String>,
    /// The signal that ended it: the one it got, or for a fault the one
    /// Linux would have sent (SIGSEGV for #PF); null for an exit.
    pub signal: Option<u32>,
    /// That signal's name ("SIGSEGV").
    pub signal_name: Option<&'static str>,
    /// What a shell shows in `$?`: the status's low 8 bits for an exit,
    /// 128 + the signal otherwise; null while running.
    pub shell_status: Option<i64>,
}

impl ExitReport {
    /// How the process ended, in a few words: "exit 0", "killed: #PF: ...
    /// at 0x0 (rip 0x401000)", "running".
    pub fn summary(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
        match self.kind {
            ExitKind::Exit => format!("exit {}", opt(self.status.map(|s| s.to_string()))),
            // Only a page fault has an address of its own (CR2).
            ExitKind::Fault if self.vector == Some(14) => format!(
                "killed: {} at {} (rip {})",
                self.reason.clone().unwrap_or_else(|| "fault".into()),
                opt(self.address.map(|a| a.to_string())),
                opt(self.rip.map(|a| a.to_string()))
            ),
            ExitKind::Fault => format!(
                "killed: {} at rip {}",
                self.reason.clone().unwrap_or_else(|| "fault".into()),
                opt(self.rip.map(|a| a.to_string()))
            ),
            ExitKind::Signal => format!(
                "killed by signal {} ({})",
                opt(self.signal.map(|s| s.to_string())),
                self.signal_name.unwrap_or("?")
            ),
            ExitKind::Exec => "exec: replaced by a new image".into(),
            ExitKind::Running => "running".into(),
        }
    }
}

/// One region of a process's address space (`processes[].regions[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegionReport {
    /// "code", "rodata", "data", "data+bss", "bss", "heap", "mmap",
    /// "stack", "guard" or "file".
    pub kind: RegionKind,
    /// First byte.
    pub start: Gva,
    /// Exclusive.
    pub end: Gva,
    /// "r-x", "rw-", ...
    pub prot: Prot,
    /// Mapped pages in this region.
    pub pages_mapped: u64,
    /// Demand-paging faults the kernel served in it.
    pub faults: u64,
    /// Copy-on-write faults the kernel served in it.
    pub cow_faults: u32,
    /// Pages of it whose guest frame another process, live at this
    /// process's exit, maps too; null when not counted.
    pub shared_pages: Option<u64>,
    /// The file a file mapping shows (its path when it was mapped); null
    /// for other kinds and for mappings the kernel did not name.
    pub file: Option<String>,
}

/// The read-back of a value the process wrote (`processes[].pattern`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatternCheck {
    /// Where the process wrote it.
    pub gva: Gva,
    /// The value it wrote, in hex.
    pub expected: String,
    /// What the VMM read at the GPA (guest memory) and at the HVA (its own
    /// mapping of it).
    pub via_gpa: Option<String>,
    /// See `via_gpa`.
    pub via_hva: Option<String>,
    /// Both read-backs gave the expected value.
    pub ok: bool,
}

/// A system call the guest kernel does not serve (`processes[].unknown_syscalls[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UnknownSyscall {
    /// Its number (rax).
    pub nr: u32,
    /// Linux's name for it (abi::sysnames), null if Linux has none.
    pub name: Option<&'static str>,
}
