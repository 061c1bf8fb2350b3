//! The report model. Serialized as-is for `--json`; its schema is documented
//! in the README ("JSON report"). Addresses serialize as "0x..." strings.

use serde::{Serialize, Serializer};

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{GuestMode, Prot, RegionKind, Scheduling};
use crate::observations::{ExitCounts, RunError};
use crate::paging::Cr3;

/// Bumped whenever a key changes meaning or disappears.
pub const SCHEMA: &str = "microvmm-report/1";

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// False when the run was cut short (timeout, SIGINT/SIGTERM, a guest
    /// that died): the report holds what was seen until then.
    pub complete: bool,
    pub host: HostReport,
    pub memory: MemoryReport,
    pub guest: GuestReport,
    pub processes: Vec<ProcessReport>,
    pub whereis: Vec<WhereisReport>,
    /// Dirty pages attributed after the run (`--dirty-log`), else null.
    pub dirty: Option<DirtyReport>,
    /// The VMM process itself.
    pub vmm: VmmReport,
    /// Cross-check failures and guest protocol violations, each a sentence.
    /// Empty on a clean run.
    pub errors: Vec<RunError>,
}

#[derive(Debug, Default, Serialize)]
pub struct VmmReport {
    /// Peak resident memory of the VMM process (VmHWM) when the report was
    /// made, KiB: guest RAM the guest touched plus the VMM's own. Bounded
    /// whatever the guest does (SECURITY.md).
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Default, Serialize)]
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
    pub cpu: String,
    pub kernel: String,
    /// Levels of the host's own page tables (4, or 5 with LA57): the depth
    /// of each nested walk under EPT/NPT.
    pub paging_levels: u32,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryReport {
    /// "4k", "thp" or "hugetlb".
    pub backing: String,
    pub size: u64,
    pub slots: Vec<SlotReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotReport {
    pub slot: u32,
    pub gpa_start: Gpa,
    /// Exclusive.
    pub gpa_end: Gpa,
    pub hva: Hva,
    pub size: u64,
    /// KVM memslot flags by name, e.g. ["log-dirty-pages"].
    pub flags: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct GuestReport {
    /// "pvm-native" or "x86"; null if the kernel never reported.
    #[serde(serialize_with = "as_text")]
    pub mode: Option<GuestMode>,
    /// What the guest wrote to the shutdown port; null if it never did.
    pub exit_status: Option<u32>,
    /// "ok", "failed: <reason>" (triple fault, timeout, ...).
    pub outcome: String,
    /// "timer" or "cooperative".
    pub scheduling: Option<Scheduling>,
    pub timer_hz: Option<u32>,
    pub paging_levels: Option<u32>,
    /// Kernel boot time as the guest measured it (TSC at `_start` to banner).
    pub boot_us: Option<f64>,
    /// First console byte after the first KVM_RUN, as the VMM saw it.
    pub first_output_us: Option<f64>,
    /// VMM wall time from first KVM_RUN to the end of the run.
    pub run_ms: f64,
    /// VM exits seen by the VMM, by kind.
    pub exits: ExitCounts,
}

#[derive(Debug, Default, Serialize)]
pub struct ProcessReport {
    pub pid: u32,
    pub name: String,
    /// The file it was loaded from (`--run`); null for a built-in program.
    pub path: Option<String>,
    /// Its arguments, argv[0] first (`--run`); null for a built-in program.
    pub argv: Option<Vec<String>>,
    /// The kernel PGD (what CR3 holds while the kernel runs for it).
    pub cr3: Cr3,
    /// The user PGD under PVM pv_kpti (cr3 | 0x1000), else null.
    pub user_pgd: Option<Gpa>,
    pub exit: ExitReport,
    pub regions: Vec<RegionReport>,
    pub heap_faults: u64,
    pub stack_faults: u64,
    pub pages_resident: u64,
    /// GPA of the first code page, from the creation message.
    pub code_gpa: Option<Gpa>,
    /// Lowest and highest guest frame any of its pages used.
    pub frames_lowest: Option<Gpa>,
    pub frames_highest: Option<Gpa>,
    /// Its mapped pages coalesced into runs contiguous in both GVA and GPA
    /// with equal flags and page size (at most MAX_RANGES per process).
    pub ranges: Vec<RangeReport>,
    /// Every mapped user page (with `--pages`; otherwise the first and last
    /// page of each region and a few samples).
    pub pages: Vec<PageReport>,
    /// Mapped user pages in total (pages[] may hold fewer).
    pub pages_total: u64,
    /// Pages whose software walk was compared with KVM_TRANSLATE.
    pub pages_checked: u64,
    pub pattern: Option<PatternCheck>,
    /// From its creation message to its first output, in µs (VMM clock):
    /// the cost of starting it (loading, start-up code) plus any time other
    /// processes ran first. Null if it printed nothing.
    pub first_output_us: Option<f64>,
    /// What it wrote to stdout/stderr (the first 64 KiB, lossy UTF-8).
    pub output: String,
    /// More was written than `output` holds.
    pub output_truncated: bool,
    /// Addresses it printed ("0x...") that were mapped at its exit.
    pub printed_addresses: Vec<PrintedReport>,
    /// Distinct system call numbers the kernel did not know (each got -ENOSYS).
    pub unknown_syscalls: Vec<u32>,
    /// How many distinct unknown numbers it made (unknown_syscalls may list fewer).
    pub unknown_syscalls_distinct: u32,
    /// The FS base (TLS pointer) at its last report.
    pub fs_base: Gva,
}

/// An address a process printed, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PrintedReport {
    pub gva: Gva,
    /// The region's kind, or "outside".
    #[serde(serialize_with = "region_or_outside")]
    pub region: Option<RegionKind>,
    pub gpa: Gpa,
    pub hva: Option<Hva>,
    pub hpa: Option<Hpa>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RangeReport {
    pub gva: Gva,
    pub gpa: Gpa,
    pub pages: u64,
    pub page_size: u64,
    pub flags: String,
}

/// How a process ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitKind {
    /// It called exit(status).
    Exit,
    /// The kernel killed it for a fault.
    Fault,
    /// It never reported its end.
    #[default]
    Running,
}

#[derive(Debug, Default, Serialize)]
pub struct ExitReport {
    /// "exit", "fault" or "running" (never reported its end).
    pub kind: ExitKind,
    pub status: Option<i64>,
    pub vector: Option<u64>,
    pub error_code: Option<u64>,
    pub address: Option<Gva>,
    pub rip: Option<Gva>,
    /// Human words for a fault, e.g. "#PF user read of a not-present page".
    pub reason: Option<String>,
}

impl ExitReport {
    /// How the process ended, in a few words: "exit 0", "killed: #PF: ...
    /// at 0x0 (rip 0x401000)", "running".
    pub fn summary(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
        match self.kind {
            ExitKind::Exit => format!("exit {}", opt(self.status.map(|s| s.to_string()))),
            ExitKind::Fault => format!(
                "killed: {} at {} (rip {})",
                self.reason.clone().unwrap_or_else(|| "fault".into()),
                opt(self.address.map(|a| a.to_string())),
                opt(self.rip.map(|a| a.to_string()))
            ),
            ExitKind::Running => "running".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionReport {
    /// "code", "data", "heap", "stack", "guard".
    pub kind: RegionKind,
    pub start: Gva,
    /// Exclusive.
    pub end: Gva,
    /// "r-x", "rw-", ...
    pub prot: Prot,
    /// Mapped pages in this region.
    pub pages_mapped: u64,
    /// Demand-paging faults the kernel served in it.
    pub faults: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub gva: Gva,
    pub gpa: Gpa,
    /// Null when the GPA is outside every memslot (reported as an error).
    pub hva: Option<Hva>,
    /// Null when the host will not say (see host.pagemap).
    pub hpa: Option<Hpa>,
    pub guest_page_size: u64,
    pub host_page_size: Option<u64>,
    /// Effective guest flags, e.g. "P RW US NX A D".
    pub flags: String,
    /// The region's kind, or "outside" (every region the kernel reported).
    #[serde(serialize_with = "region_or_outside")]
    pub region: Option<RegionKind>,
    /// KVM_TRANSLATE's answer for the same GVA; null if not checked.
    pub kvm_translate_gpa: Option<Gpa>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatternCheck {
    pub gva: Gva,
    pub expected: String,
    /// What the VMM read at the GPA (guest memory) and at the HVA (its own
    /// mapping of it).
    pub via_gpa: Option<String>,
    pub via_hva: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WalkLevelReport {
    /// "PML5", "PML4", "PDPT", "PD", "PT".
    pub level: String,
    pub table_gpa: Gpa,
    pub index: u16,
    pub entry_gpa: Gpa,
    pub entry: String,
    pub flags: String,
    /// Host-physical address of the entry itself: the second dimension.
    pub entry_hpa: Option<Hpa>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhereisReport {
    pub pid: u32,
    pub gva: Gva,
    pub gpa: Option<Gpa>,
    pub hva: Option<Hva>,
    pub hpa: Option<Hpa>,
    pub guest_page_size: Option<u64>,
    pub host_page_size: Option<u64>,
    pub kvm_translate_gpa: Option<Gpa>,
    pub walk: Vec<WalkLevelReport>,
    /// Memory references the hardware makes for this translation on this
    /// host's flavour, and how they were counted.
    pub hw_refs: u32,
    pub hw_refs_explained: String,
}

#[derive(Debug, Default, Serialize)]
pub struct DirtyReport {
    pub pages_dirty: u64,
    /// Dirty page counts by owner: "pid 3 heap", "kernel", "page tables", "free".
    pub by_owner: Vec<DirtyOwner>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirtyOwner {
    pub owner: String,
    pub pages: u64,
}

/// A value by its Display text, or null.
fn as_text<T: std::fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// A page's region kind, or "outside".
fn region_or_outside<S: Serializer>(r: &Option<RegionKind>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(k) => k.serialize(s),
        None => s.serialize_str("outside"),
    }
}

/// How a page's region prints: its kind, or "outside".
pub fn region_text(r: Option<RegionKind>) -> &'static str {
    r.map_or("outside", RegionKind::as_str)
}
