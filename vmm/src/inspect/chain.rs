//! The chain GVA -> GPA -> HVA -> HPA of a page, the subject of every
//! report: the guest's page tables give the GPA (a software walk,
//! `paging`), KVM_TRANSLATE cross-checks that step, the memslots give the
//! HVA and /proc/self/pagemap the HPA (`gpa_to_hpa.rs`). `PageObs` is one
//! page's chain as the report lists it; `PatternObs` proves a chain end to
//! end by reading a value the process stored through both the GPA and the
//! HVA. `analyse.rs` decides which pages to follow; this file follows them.

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use super::Options;
use super::cpu::Cpu;
use super::finding::{Finding, Findings};
use super::gpa_to_hpa::HostView;
use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{Pattern, RegionKind};
use crate::paging::{self, Cr3, Page, PageSize, PagingMode, PhysMem, PteFlags};

/// Page-table entries read at most per address space (guards against
/// hostile, aliased tables).
pub const WALK_LIMIT: u64 = 1 << 24;
/// Pages analysed at most per address space: twice what 2 GiB of RAM can
/// back, so only aliased (hostile) tables reach it.
pub(super) const MAX_PAGES: usize = 1 << 20;

/// One mapped user page (`processes[].pages[]`).
// Made by `follow` and listed by the report as it is: these doc comments
// are the JSON keys' descriptions (docs/report.schema.json), and the
// schema keeps the report's name for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(rename = "PageReport")]
pub struct PageObs {
    /// Its guest-virtual address.
    pub gva: Gva,
    /// The guest-physical address the guest's page tables give it.
    pub gpa: Gpa,
    /// Null when the GPA is outside every memslot (reported as an error).
    pub hva: Option<Hva>,
    /// Null when the host will not say (see host.pagemap).
    pub hpa: Option<Hpa>,
    /// The guest's page size in bytes (4 KiB, 2 MiB or 1 GiB).
    #[serde(serialize_with = "bytes")]
    #[schemars(with = "u64")]
    pub guest_page_size: PageSize,
    /// The host's page size backing it; null when unknown.
    pub host_page_size: Option<u64>,
    /// Effective guest flags, e.g. "P RW US NX A D".
    #[serde(serialize_with = "text")]
    #[schemars(with = "String")]
    pub flags: PteFlags,
    /// The region's kind, or "outside" (every region the kernel reported).
    #[serde(serialize_with = "region_or_outside")]
    #[schemars(with = "String")]
    pub region: Option<RegionKind>,
    /// KVM_TRANSLATE's answer for the same GVA; null if not checked.
    #[serde(rename = "kvm_translate_gpa")]
    pub kvm: Option<Gpa>,
}

/// A page size as its bytes.
fn bytes<S: Serializer>(p: &PageSize, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(p.bytes())
}

/// A value by its Display text ("P RW US" for flags).
fn text<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A page's region kind, or "outside" (every region the kernel reported).
pub fn region_or_outside<S: Serializer>(r: &Option<RegionKind>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(k) => k.serialize(s),
        None => s.serialize_str("outside"),
    }
}

/// GVA -> GPA: every mapped user page, in GVA order (at most MAX_PAGES);
/// entries the walker cannot follow become findings.
pub(super) fn enumerate<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: Cr3,
    mode: PagingMode,
    errs: &mut Findings,
) -> Vec<Page> {
    let mut pages = Vec::new();
    // The user half: [0, 2^47) with 4 levels, [0, 2^56) with 5.
    let user_end = 1u64 << (mode.va_bits() - 1);
    for r in paging::mapped_pages(mem, cr3.raw(), mode, Gva(0)..Gva(user_end), WALK_LIMIT) {
        match r {
            Ok(_) if pages.len() == MAX_PAGES => {
                errs.push(Finding::TooManyPages { max: MAX_PAGES });
                break;
            }
            Ok(pg) => pages.push(pg),
            Err(e) => errs.push(Finding::Walk(e)),
        }
    }
    pages
}

/// The GVA -> GPA step cross-checked with KVM_TRANSLATE, on an even sample
/// of at most about `o.max_checked` pages that always includes the pages
/// `edge` names: (page index, answer) for each checked page, in page
/// order; disagreements become findings. Stops at `o.deadline`, with a
/// finding that says how far it got.
pub(super) fn check<C: Cpu + ?Sized>(
    cpu: &C,
    pages: &[Page],
    edge: impl Fn(usize) -> bool,
    o: &Options,
    errs: &mut Findings,
) -> (Vec<(usize, Option<Gpa>)>, Option<Finding>) {
    let stride = (pages.len() as u64).div_ceil(o.max_checked.max(1)).max(1);
    let planned = |i: usize| (i as u64).is_multiple_of(stride) || edge(i);
    let mut checked = Vec::new();
    for (n, (i, pg)) in pages
        .iter()
        .enumerate()
        .filter(|&(i, _)| planned(i))
        .enumerate()
    {
        // A clock read per check costs well under 1% of the ioctl.
        if o.past() {
            let left = (i..pages.len()).filter(|&k| planned(k)).count();
            let late = Finding::OutOfTime {
                checked: n as u64,
                planned: (n + left) as u64,
            };
            return (checked, Some(late));
        }
        let kvm = cpu.translate(pg.gva);
        if kvm != Some(pg.gpa) {
            errs.push(Finding::Mismatch {
                gva: pg.gva,
                software: pg.gpa,
                kvm,
            });
        }
        checked.push((i, kvm));
    }
    (checked, None)
}

/// GPA -> HVA -> HPA: the rest of a walked page's chain, with its region
/// and KVM_TRANSLATE's answer (if it was checked).
pub(super) fn follow<H: HostView + ?Sized>(
    host: &H,
    pg: &Page,
    region: Option<RegionKind>,
    kvm: Option<Gpa>,
) -> PageObs {
    let h = host.locate(pg.gpa);
    PageObs {
        gva: pg.gva,
        gpa: pg.gpa,
        hva: h.hva,
        hpa: h.hpa(),
        guest_page_size: pg.page_size,
        host_page_size: h.page_size,
        flags: pg.flags,
        region,
        kvm,
    }
}

/// The stored value read back through the GPA and the HVA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternObs {
    /// Where the process stored it.
    pub gva: Gva,
    /// What it stored.
    pub expected: u64,
    /// What the VMM read through guest memory at the GPA; None if the GVA
    /// is not mapped or the read failed.
    pub via_gpa: Option<u64>,
    /// What the VMM read through its own mapping at the HVA; None if the GVA
    /// is not mapped or the read failed.
    pub via_hva: Option<u64>,
}

impl PatternObs {
    /// Both reads returned what the process wrote.
    pub fn ok(&self) -> bool {
        self.via_gpa == Some(self.expected) && self.via_hva == Some(self.expected)
    }
}

/// Read back the value the process stored, through the GPA (guest memory)
/// and through the HVA (a raw read of the VMM's own mapping).
pub(super) fn read_back<M: PhysMem + ?Sized, H: HostView + ?Sized>(
    mem: &M,
    host: &H,
    cr3: Cr3,
    mode: PagingMode,
    pat: Pattern,
) -> PatternObs {
    let gpa = paging::walk(mem, cr3.raw(), mode, pat.gva)
        .ok()
        .map(|t| t.gpa);
    PatternObs {
        gva: pat.gva,
        expected: pat.value,
        via_gpa: gpa.and_then(|g| mem.read_u64_unaligned(g)),
        via_hva: gpa.and_then(|g| host.read_u64_via_hva(g)),
    }
}
