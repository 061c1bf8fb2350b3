//! The report model. Serialized as-is for `--json`; its JSON Schema,
//! docs/report.schema.json, is generated from these types (schemars: each
//! doc comment is a key's description; tests/report_schema.rs keeps the
//! file current). Addresses serialize as "0x..." strings. The run as a
//! whole is here; one process's entry is in model/process.rs.

mod process;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{GuestMode, RegionKind, Scheduling};
use crate::observations::{ExitCounts, RunError};

pub use process::*;

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
