//! The translation analysis: for an address space whose CR3 is live on the
//! vCPU, every mapped user page followed from GVA to GPA (software walk of
//! the guest's tables), to HVA (memslots) and to HPA (pagemap), checked
//! against KVM_TRANSLATE; and the full two-dimensional walk for `whereis`.

use abi::msg;
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress};

use crate::addr::{Gpa, Gva, Hpa};
use crate::host::Flavour;
use crate::hostmem::{HostFrame, Pagemap};
use crate::memory::GuestRam;
use crate::monitor::{host_frame, host_page_size, paging_mode};
use crate::paging;
use crate::report::{PageReport, PatternCheck, RangeReport, RegionReport};

mod walk2d;
pub use walk2d::{hw_refs, whereis};

/// Page-table entries read at most per address space (guards against
/// hostile, aliased tables).
const WALK_LIMIT: u64 = 1 << 24;
/// Pages analysed at most per address space: twice what 2 GiB of RAM can
/// back, so only aliased (hostile) tables reach it.
const MAX_PAGES: usize = 1 << 20;
/// Detailed errors kept per analysis; beyond that they are only counted.
const MAX_ERRORS: usize = 16;

/// How much to analyse.
#[derive(Clone, Debug)]
pub struct Options {
    /// Put every page into the report (else first/last per region + samples).
    pub all_pages: bool,
    /// Compare at most this many pages per process with KVM_TRANSLATE (an
    /// even sample beyond that, always including each region's ends).
    pub max_checked: u64,
    pub flavour: Flavour,
    /// `--walk GVA`: the 2D walk of this address in every process that maps it.
    pub walk: Option<u64>,
    /// Keep every page's frame and region (for `--dirty-log` attribution).
    pub frames: bool,
    /// The vCPU's physical address width (reserved-bit checks).
    pub maxphyaddr: u8,
    /// Levels of the host's page tables (EPT/NPT nested walk depth).
    pub host_levels: u32,
}

/// Host frames of all guest RAM, read in one pass over pagemap: for reports
/// of many pages, where one lookup per page (each reading a 2 MiB block of
/// pagemap) would cost seconds. Needs the single contiguous memslot
/// GuestRam makes.
struct RamFrames(Vec<HostFrame>);

impl RamFrames {
    fn new(ram: &GuestRam, pagemap: Option<&Pagemap>) -> Option<RamFrames> {
        let pm = pagemap?;
        if ram.slots().len() != 1 {
            return None;
        }
        let hva0 = ram.gpa_to_hva(Gpa(0))?;
        Some(RamFrames(
            pm.lookup_range(hva0, (ram.size() / 4096) as usize),
        ))
    }

    /// As `monitor::host_frame`, from the snapshot.
    fn get(&self, ram: &GuestRam, gpa: Gpa) -> (Option<crate::addr::Hva>, HostFrame) {
        let hva = ram.gpa_to_hva(gpa);
        let frame = match self.0.get((gpa.raw() / 4096) as usize) {
            Some(HostFrame::Present { hpa, page_size }) => HostFrame::Present {
                hpa: Hpa(hpa.raw() | (gpa.raw() & 0xfff)),
                page_size: *page_size,
            },
            Some(f) => f.clone(),
            None => HostFrame::Unavailable("GPA outside guest RAM".into()),
        };
        (hva, frame)
    }
}

/// What the analysis of one exiting process found.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub pages: Vec<PageReport>,
    pub pages_total: u64,
    pub pages_checked: u64,
    pub regions: Vec<RegionReport>,
    pub pattern: Option<PatternCheck>,
    pub errors: Vec<String>,
    /// (GPA page, region kind) of every user page, for dirty-log attribution.
    pub frames: Vec<(Gpa, &'static str)>,
    /// GPAs of its page-table pages (the tables themselves), for the same.
    pub tables: Vec<Gpa>,
    /// Lowest and highest guest frame of all its pages (not only the listed).
    pub frames_span: Option<(Gpa, Gpa)>,
    /// The pages coalesced into runs (at most MAX_RANGES).
    pub ranges: Vec<RangeReport>,
}

/// Runs listed per process; the rest are counted in an error.
const MAX_RANGES: usize = 4096;
/// Pages listed (and frames kept for --dirty-log) in a whole run: what a
/// fully mapped 2 GiB guest needs.
pub const PAGE_BUDGET: u64 = 1 << 19;

/// A region kind's name (abi::msg::region_name).
pub fn region_kind(kind: u32) -> &'static str {
    msg::region_name(kind)
}

/// Region protection as `rwx` text ("r-x", "rw-", ...).
pub fn prot_text(prot: u32) -> String {
    let c = |bit, ch| if prot & bit != 0 { ch } else { '-' };
    [
        c(msg::PROT_R, 'r'),
        c(msg::PROT_W, 'w'),
        c(msg::PROT_X, 'x'),
    ]
    .iter()
    .collect()
}

/// The process's regions for the report, with `mapped[i]` pages in region
/// i (0 where `mapped` is shorter).
pub fn region_reports(p: &msg::Proc, mapped: &[u64]) -> Vec<RegionReport> {
    regions(p)
        .iter()
        .enumerate()
        .map(|(i, r)| RegionReport {
            kind: region_kind(r.kind).into(),
            start: Gva(r.start),
            end: Gva(r.end),
            prot: prot_text(r.prot),
            pages_mapped: mapped.get(i).copied().unwrap_or(0),
        })
        .collect()
}

/// The regions a process message lists (its count clamped to the array).
pub fn regions(p: &msg::Proc) -> &[msg::Region] {
    &p.regions[..(p.nregions as usize).min(msg::MAX_REGIONS)]
}

/// KVM_TRANSLATE's GPA for `gva` on the live CR3 (None if invalid).
pub(super) fn kvm_translate(vcpu: &VcpuFd, gva: u64) -> Option<Gpa> {
    let t = vcpu.translate_gva(gva).ok()?;
    (t.valid != 0).then_some(Gpa(t.physical_address))
}

/// Analyse process `p` (its CR3 is the vCPU's current one).
pub fn analyse(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    pagemap: Option<&Pagemap>,
    p: &msg::Proc,
    o: &Options,
    budget: &mut u64,
) -> Analysis {
    let mut a = Analysis::default();
    let Some(mode) = paging_mode(vcpu, o.maxphyaddr) else {
        a.errors
            .push("the vCPU is not in 64-bit paging mode".into());
        return a;
    };
    let live_cr3 = vcpu.get_sregs().map(|s| s.cr3 & !0xfff).unwrap_or(0);
    let can_check = live_cr3 == p.cr3 & !0xfff;
    if !can_check {
        a.errors.push(format!(
            "CR3 {live_cr3:#x} is not the process's {:#x}: KVM_TRANSLATE cross-check skipped",
            p.cr3
        ));
    }
    let mut pages = Vec::new();
    let mut errs = Errors::default();
    // The user half: [0, 2^47) with 4 levels, [0, 2^56) with 5.
    let user_end = 1u64 << (mode.va_bits() - 1);
    for r in paging::mapped_pages(ram.mem(), p.cr3, mode, Gva(0)..Gva(user_end), WALK_LIMIT) {
        match r {
            Ok(_) if pages.len() == MAX_PAGES => {
                errs.push(format!(
                    "more than {MAX_PAGES} pages mapped: analysis stopped there"
                ));
                break;
            }
            Ok(pg) => pages.push(pg),
            Err(e) => errs.push(format!("page-table walk: {e}")),
        }
    }
    if o.frames {
        a.tables = paging::table_pages(ram.mem(), p.cr3, mode, WALK_LIMIT);
    }
    a.pages_total = pages.len() as u64;
    a.frames_span = pages
        .iter()
        .map(|p| p.gpa)
        .min()
        .zip(pages.iter().map(|p| p.gpa).max());
    let runs = paging::coalesce(pages.iter().copied());
    if runs.len() > MAX_RANGES {
        errs.push(format!(
            "{} mapped runs; the report lists the first {MAX_RANGES}",
            runs.len()
        ));
    }
    a.ranges = runs
        .iter()
        .take(MAX_RANGES)
        .map(|r| RangeReport {
            gva: r.gva,
            gpa: r.gpa,
            pages: r.pages,
            page_size: r.page_size.bytes(),
            flags: r.flags.to_string(),
        })
        .collect();
    let rs = regions(p);
    // Which pages go into the report, and which are checked with KVM_TRANSLATE.
    let stride = (pages.len() as u64).div_ceil(o.max_checked.max(1)).max(1);
    let snapshot = if o.all_pages && pages.len() > 1024 {
        RamFrames::new(ram, pagemap)
    } else {
        None
    };
    // Each page's region, found once (the loop also looks one page ahead).
    let owner: Vec<Option<usize>> = pages
        .iter()
        .map(|pg| {
            rs.iter()
                .position(|r| r.start <= pg.gva.raw() && pg.gva.raw() < r.end)
        })
        .collect();
    let mut per_region = vec![0u64; rs.len()];
    for (i, pg) in pages.iter().enumerate() {
        let ri = owner[i];
        let region = ri.map_or("outside", |k| region_kind(rs[k].kind));
        if let Some(k) = ri {
            per_region[k] += 1;
        } else {
            errs.push(format!(
                "{} is mapped but outside every region the kernel reported",
                pg.gva
            ));
        }
        // The first or last page of a region (or of a run outside them).
        let before = i.checked_sub(1).and_then(|k| owner[k]);
        let edge = before != ri || owner.get(i + 1).is_none_or(|&n| n != ri);
        let check = can_check && ((i as u64).is_multiple_of(stride) || edge);
        let kvm_gpa = if check {
            kvm_translate(vcpu, pg.gva.raw())
        } else {
            None
        };
        if check {
            a.pages_checked += 1;
            if kvm_gpa != Some(pg.gpa) {
                errs.push(format!(
                    "{}: software walk says GPA {} but KVM_TRANSLATE says {}",
                    pg.gva,
                    pg.gpa,
                    kvm_gpa.map_or("not mapped".into(), |g| g.to_string())
                ));
            }
        }
        // Listed pages and dirty-log frames draw on one budget for the
        // whole run, so many hostile processes cannot exhaust memory.
        if o.frames && *budget > 0 {
            *budget -= 1;
            a.frames.push((pg.gpa, region));
        }
        let keep =
            o.all_pages || edge || (i as u64).is_multiple_of((pages.len() as u64 / 4).max(1));
        if keep && *budget == 0 {
            errs.push(format!("page listing stopped at {}: the run's budget of {PAGE_BUDGET} listed pages is spent", pg.gva));
        } else if keep {
            *budget -= 1;
            let (hva, frame) = match &snapshot {
                Some(s) => s.get(ram, pg.gpa),
                None => host_frame(ram, pagemap, pg.gpa),
            };
            let host_size = host_page_size(pagemap, hva, &frame);
            let hpa = match frame {
                HostFrame::Present { hpa, .. } => Some(hpa),
                _ => None,
            };
            a.pages.push(PageReport {
                gva: pg.gva,
                gpa: pg.gpa,
                hva,
                hpa,
                guest_page_size: pg.page_size.bytes(),
                host_page_size: host_size,
                flags: pg.flags.to_string(),
                region: region.into(),
                kvm_translate_gpa: kvm_gpa,
            });
        }
    }
    a.regions = region_reports(p, &per_region);
    if p.pattern_gva != 0 {
        a.pattern = Some(pattern_check(ram, p, mode));
        if a.pattern.as_ref().is_some_and(|c| !c.ok) {
            errs.push(format!(
                "pattern read-back at GVA {:#x} failed",
                p.pattern_gva
            ));
        }
    }
    a.errors.extend(errs.finish());
    a
}

/// Errors of one analysis: the first MAX_ERRORS in full, then a count, so
/// hostile tables cannot make the report grow without bound.
#[derive(Default)]
struct Errors {
    kept: Vec<String>,
    more: u64,
}

impl Errors {
    fn push(&mut self, e: String) {
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(e);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept
                .push(format!("... and {} more errors like these", self.more));
        }
        self.kept
    }
}

/// Read back the value the process stored at `pattern_gva`, through the GPA
/// (guest memory) and through the HVA (a raw read of our own mapping).
fn pattern_check(ram: &GuestRam, p: &msg::Proc, mode: paging::PagingMode) -> PatternCheck {
    let expected = format!("{:#x}", p.pattern);
    let gpa = paging::walk(ram.mem(), p.cr3, mode, Gva(p.pattern_gva))
        .ok()
        .map(|t| t.gpa);
    let via_gpa: Option<u64> = gpa.and_then(|g| ram.mem().read_obj(GuestAddress(g.raw())).ok());
    let via_hva = gpa.and_then(|g| ram.gpa_to_hva(g)).and_then(|hva| {
        // The guest chooses the GVA, so the HVA may be unaligned: read_unaligned.
        // The HVA must be 8 bytes inside guest RAM's mapping, which
        // gpa_to_hva guarantees for the first byte; check the last too.
        let last = gpa?.checked_add(7)?;
        // Both ends in the same mapping, 7 bytes apart.
        if ram.gpa_to_hva(last)? != hva.checked_add(7)? {
            return None;
        }
        // SAFETY: hva..hva+8 lies inside one guest RAM mapping, which lives as
        // long as `ram`; the vCPU is stopped in this exit, and any byte
        // pattern is a valid u64.
        Some(unsafe { std::ptr::read_unaligned(hva.raw() as *const u64) })
    });
    let ok = via_gpa == Some(p.pattern) && via_hva == Some(p.pattern);
    PatternCheck {
        gva: Gva(p.pattern_gva),
        expected,
        via_gpa: via_gpa.map(|v| format!("{v:#x}")),
        via_hva: via_hva.map(|v| format!("{v:#x}")),
        ok,
    }
}
