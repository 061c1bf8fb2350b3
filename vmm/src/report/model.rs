//! The report model. Serialized as-is for `--json`; its JSON Schema,
//! docs/report.schema.json, is generated from these types (schemars: each
//! doc comment is a key's description; tests/report_schema.rs keeps the
//! file current). Addresses serialize as "0x..." strings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{GuestMode, Prot, RegionKind, Scheduling};
use crate::inspect::region_or_outside;
pub use crate::inspect::{PageObs, PeerShare};
use crate::observations::{ExitCounts, RunError};
use crate::paging::Cr3;

/// Bumped whenever a key changes meaning or disappears.
pub const SCHEMA: &str = "microvmm-report/1";

/// The whole report of one run: what `--json` writes (docs/report.md).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// False when the run was cut short (timeout, SIGINT/SIGTERM, a guest
    /// that died): the report holds what was seen until then.
    pub complete: bool,
    /// The host: KVM flavour, nested paging, pagemap access, CPU and kernel.
    pub host: HostReport,
    /// Guest RAM: its backing and memslots.
    pub memory: MemoryReport,
    /// What the guest kernel reported and how the run went.
    pub guest: GuestReport,
    /// Every process the guest created (at most `registry::MAX_PROCESSES`),
    /// by pid; a pid that called execve has one entry per image, in order.
    pub processes: Vec<ProcessReport>,
    /// One entry per `whereis` request a process made, and per process
    /// `--walk` walked.
    pub whereis: Vec<WhereisReport>,
    /// Which pages were cross-checked with KVM_TRANSLATE: "sample" (each
    /// region's ends and an even sample) or "all".
    pub verify: &'static str,
    /// The same, as a sentence for the text report.
    #[serde(skip)]
    pub verify_text: String,
    /// Dirty pages attributed after the run (`--dirty-log`), else null.
    pub dirty: Option<DirtyReport>,
    /// The tree `--files` copied into the guest, else null.
    pub files: Option<crate::files::FilesReport>,
    /// KVM's own counters for the run, and who they were charged to.
    pub kvm: super::kvm::KvmReport,
    /// `--trace`: what the timeline holds; else null.
    pub trace: Option<super::trace::TraceSummary>,
    /// With `--html` only (absent otherwise): the timeline the page draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<super::trace::Timeline>,
    /// `--trace`: what was recorded, the clock and each pid's name, for
    /// the Chrome trace-event file (trace::chrome::write).
    #[serde(skip)]
    pub trace_log: Option<TraceFile>,
    /// The VMM process itself.
    pub vmm: VmmReport,
    /// Cross-check failures and guest protocol violations, each a sentence
    /// (the first `registry::MAX_ERRORS`, then "... and N more errors").
    /// Empty on a clean run.
    pub errors: Vec<RunError>,
}

/// What `--trace FILE` is written from.
#[derive(Debug, Default)]
pub struct TraceFile {
    /// The events and exits.
    pub log: crate::trace::TraceLog,
    /// How their times become µs.
    pub clock: crate::trace::chrome::Clock,
    /// Each pid's name.
    pub names: BTreeMap<u32, String>,
}

/// The VMM process's own cost.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct VmmReport {
    /// Peak resident memory of the VMM process (VmHWM) when the report was
    /// made, KiB: guest RAM the guest touched plus the VMM's own. Bounded
    /// whatever the guest does (SECURITY.md).
    pub peak_rss_kib: Option<u64>,
}

/// The host the VM ran on (`host.*`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct HostReport {
    /// "vmx-ept", "svm-npt", "shadow" or "pvm".
    pub kvm_flavour: String,
    /// One sentence: what the host's second-level translation really is.
    pub nested_paging: String,
    /// True when the host is itself a VM (CPUID hypervisor bit).
    pub nested: bool,
    /// "available" or "unavailable (needs CAP_SYS_ADMIN)" etc.
    pub pagemap: String,
    /// What "host-physical" means on this host.
    pub hpa_meaning: String,
    /// The CPU's model name.
    pub cpu: String,
    /// The host kernel's release.
    pub kernel: String,
    /// Levels of the host's own page tables (4, or 5 with LA57): the depth
    /// of each nested walk under EPT/NPT.
    pub paging_levels: u32,
    /// What processes[].walk_refs count on this host, one sentence.
    pub walk_refs_meaning: String,
    /// CPU features KVM offered in CPUID and then refused in the vCPU's
    /// state; each is hidden from the guest. Empty where KVM keeps its word.
    pub cpu_refused: Vec<CpuRefusal>,
}

/// A system call the guest kernel does not serve (`processes[].unknown_syscalls[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UnknownSyscall {
    /// Its number (rax).
    pub nr: u32,
    /// Linux's name for it (abi::sysnames), null if Linux has none.
    pub name: Option<&'static str>,
}

/// One feature KVM refused (`host.cpu_refused[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CpuRefusal {
    /// Its `--cpu` name, e.g. "la57".
    pub feature: &'static str,
    /// Which ioctl refused which bit, and what KVM said.
    pub why: String,
}

/// How the guest kernel keeps each process's FPU and vector registers
/// (`guest.fpu`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FpuReport {
    /// "xsave" or "fxsave".
    pub method: &'static str,
    /// The XSAVE mask: the XCR0 user code runs with; null for fxsave.
    #[serde(serialize_with = "opt_hex")]
    #[schemars(with = "Option<crate::addr::Hex>")]
    pub xcr0: Option<u64>,
    /// Bytes saved per process.
    pub bytes: u32,
}

/// Guest RAM (`memory.*`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct MemoryReport {
    /// "4k", "thp" or "hugetlb".
    pub backing: String,
    /// Guest RAM in bytes.
    pub size: u64,
    /// The KVM memslots that map it.
    pub slots: Vec<SlotReport>,
    /// Bytes of guest RAM the host has backed with pages at the end of the
    /// run (mincore); null if unknown.
    pub resident: Option<u64>,
}

/// One KVM memslot (`memory.slots[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlotReport {
    /// The slot number given to KVM.
    pub slot: u32,
    /// First guest-physical byte.
    pub gpa_start: Gpa,
    /// Exclusive.
    pub gpa_end: Gpa,
    /// Where the VMM mapped the slot in its own address space.
    pub hva: Hva,
    /// Length in bytes.
    pub size: u64,
    /// KVM memslot flags by name, e.g. ["log-dirty-pages"].
    pub flags: Vec<String>,
}

/// What the guest kernel reported (`guest.*`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct GuestReport {
    /// "pvm-native" or "x86"; null if the kernel never reported.
    #[serde(serialize_with = "as_text")]
    #[schemars(with = "Option<String>")]
    pub mode: Option<GuestMode>,
    /// What the guest wrote to the shutdown port; null if it never did.
    pub exit_status: Option<u32>,
    /// "ok" or `"failed: <reason>"` (triple fault, timeout, ...).
    pub outcome: String,
    /// "timer" or "cooperative".
    pub scheduling: Option<Scheduling>,
    /// Timer interrupts per second, from the boot message.
    pub timer_hz: Option<u32>,
    /// Levels of the guest's page tables (4 or 5), from the boot message.
    pub paging_levels: Option<u32>,
    /// Kernel boot time as the guest measured it (TSC at `_start` to banner).
    pub boot_us: Option<f64>,
    /// First console byte after the first KVM_RUN, as the VMM saw it.
    pub first_output_us: Option<f64>,
    /// VMM wall time from first KVM_RUN to the end of the run.
    pub run_ms: f64,
    /// VM exits seen by the VMM, by kind.
    pub exits: ExitCounts,
    /// The `--cpu` value in effect, e.g. "host,-la57".
    pub cpu: String,
    /// CPU features (of those `--cpu` knows) in the guest's CPUID: KVM's
    /// offer less `--cpu` less what KVM refused.
    pub cpu_features: Vec<&'static str>,
    /// XCR0 the VMM gave the vCPU (KVM_SET_XCRS); null without CR4.OSXSAVE.
    #[serde(serialize_with = "opt_hex")]
    #[schemars(with = "Option<crate::addr::Hex>")]
    pub xcr0: Option<u64>,
    /// How the kernel saves each process's FPU/vector state; null if the
    /// kernel never reported.
    pub fpu: Option<FpuReport>,
    /// Processes (images) that ran after the first
    /// `registry::MAX_PROCESSES` were recorded: not in `processes[]`.
    pub processes_not_recorded: u64,
    /// One entry per vCPU (`--cpus`), by index.
    pub vcpus: Vec<VcpuReport>,
}

/// One vCPU (`guest.vcpus[]`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct VcpuReport {
    /// Its index (the in-kernel LAPIC's id); 0 is the bootstrap processor.
    pub index: u32,
    /// Returns from KVM_RUN with an exit for the VMM.
    pub exits: u64,
    /// Wall time its thread spent inside KVM_RUN, ms (a parked vCPU waits
    /// there in HLT).
    pub run_ms: f64,
}

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
    pub threads: Vec<super::threads::ThreadReport>,
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

/// One level of a software page walk (`whereis[].walk[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WalkLevelReport {
    /// "PML5", "PML4", "PDPT", "PD", "PT".
    pub level: String,
    /// Guest-physical address of the table at this level.
    pub table_gpa: Gpa,
    /// Index into the table (0..512).
    pub index: u16,
    /// Guest-physical address of the entry used.
    pub entry_gpa: Gpa,
    /// The entry's raw value, in hex.
    pub entry: String,
    /// The entry's flags, e.g. "P RW US".
    pub flags: String,
    /// Host-physical address of the entry itself: the second dimension.
    pub entry_hpa: Option<Hpa>,
}

/// One `whereis` answer or `--walk` walk: a GVA translated all the way
/// down (`whereis[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WhereisReport {
    /// The process whose page tables were walked.
    pub pid: u32,
    /// The address translated.
    pub gva: Gva,
    /// Its guest-physical address, from the software walk.
    pub gpa: Option<Gpa>,
    /// The VMM's mapping of the GPA; null outside every memslot.
    pub hva: Option<Hva>,
    /// Host-physical address; null when the host will not say.
    pub hpa: Option<Hpa>,
    /// The guest's page size in bytes.
    pub guest_page_size: Option<u64>,
    /// The host's page size backing it; null when unknown.
    pub host_page_size: Option<u64>,
    /// KVM_TRANSLATE's answer for the same GVA; null if it found no mapping.
    pub kvm_translate_gpa: Option<Gpa>,
    /// The software walk, top level first.
    pub walk: Vec<WalkLevelReport>,
    /// Memory references the hardware makes for this translation on this
    /// host's flavour, and how they were counted.
    pub hw_refs: u32,
    /// The count's derivation, in words.
    pub hw_refs_explained: String,
}

/// Pages written during the run (`dirty`, with `--dirty-log`).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct DirtyReport {
    /// Pages the dirty log marked, in total.
    pub pages_dirty: u64,
    /// Dirty page counts by owner: "pid 3 heap", "kernel", "page tables", "free".
    pub by_owner: Vec<DirtyOwner>,
    /// The dirty guest frames as runs: [first GPA, pages], in GPA order.
    pub runs: Vec<(Gpa, u64)>,
}

/// Dirty pages of one owner (`dirty.by_owner[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DirtyOwner {
    /// "pid 3 heap", "kernel", "page tables" or "free".
    pub owner: String,
    /// How many of its pages were dirty.
    pub pages: u64,
}

/// A value by its Display text, or null.
fn as_text<T: std::fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// How a page's region prints: its kind, or "outside".
pub fn region_text(r: Option<RegionKind>) -> &'static str {
    r.map_or("outside", RegionKind::as_str)
}

/// A register value as "0x..." text (as addresses are), or null.
fn opt_hex<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(&format_args!("{v:#x}")),
        None => s.serialize_none(),
    }
}
