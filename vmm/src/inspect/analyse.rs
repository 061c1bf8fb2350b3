//! The analysis of one exiting process, whose CR3 is live on the vCPU:
//! enumerate every mapped user page (software walk of the guest's tables),
//! find each page's region, check a sample against KVM_TRANSLATE, and list
//! the pages the report shows with their host side (HVA, HPA, host page).

use super::Options;
use super::cpu::Cpu;
use super::finding::{Finding, Findings};
use super::gpa_to_hpa::{HostPage, HostView};
use super::reach::{SizeCount, count_sizes};
use super::share::{self, Peer, SharingObs};
use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::event::{Pattern, ProcEvent, Region, RegionKind};
use crate::paging::{
    self, Cr3, MappedRange, Page, PageSize, PagingMode, PhysMem, PteFlags, TablePage,
};

/// Page-table entries read at most per address space (guards against
/// hostile, aliased tables).
pub const WALK_LIMIT: u64 = 1 << 24;
/// Pages analysed at most per address space: twice what 2 GiB of RAM can
/// back, so only aliased (hostile) tables reach it.
pub(super) const MAX_PAGES: usize = 1 << 20;
/// Runs listed per process; the rest are counted in a finding.
const MAX_RANGES: usize = 4096;
/// Pages listed between two looks at the clock.
const CLOCK_EVERY: usize = 4096;

/// The guest's time is up (`Options::deadline`).
pub(super) fn past(o: &Options) -> bool {
    o.deadline.is_some_and(|d| std::time::Instant::now() >= d)
}

/// One listed page, from GVA to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageObs {
    /// Its guest-virtual address.
    pub gva: Gva,
    /// The guest-physical address the guest's tables give it.
    pub gpa: Gpa,
    /// The VMM's mapping of the GPA; None outside every memslot.
    pub hva: Option<Hva>,
    /// Host-physical address; None when pagemap will not say.
    pub hpa: Option<Hpa>,
    /// The guest's page size.
    pub guest_page_size: PageSize,
    /// The host's page size backing it, in bytes; None when unknown.
    pub host_page_size: Option<u64>,
    /// Effective guest flags.
    pub flags: PteFlags,
    /// None: outside every region the kernel reported.
    pub region: Option<RegionKind>,
    /// KVM_TRANSLATE's answer; None if not checked (or not mapped there).
    pub kvm: Option<Gpa>,
}

/// A region and how many pages it had mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionObs {
    /// The region, as the kernel reported it.
    pub region: Region,
    /// Pages of it mapped at exit.
    pub pages_mapped: u64,
    /// Pages of it whose frame another process live at the analysis maps
    /// too; None when that is unknown (not analysed, or a bound stopped
    /// the comparison: `SharingObs::stop` says which).
    pub shared_pages: Option<u64>,
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

/// A page-table page of the user half and where it lives on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableObs {
    /// The table and its present entries.
    pub page: TablePage,
    /// Where the table's frame lives on the host.
    pub host: HostPage,
}

/// The user half's page tables, for walking any page after the run (the
/// HTML report does it in the browser).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TablesObs {
    /// Root first, then depth-first in address order.
    pub tables: Vec<TableObs>,
    /// False when the run-wide budget or the walk limit cut them short.
    pub complete: bool,
}

/// What the analysis of one exiting process found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    /// The listed pages (all with `--pages`, else each region's ends and samples).
    pub pages: Vec<PageObs>,
    /// Mapped user pages in total (`pages` may hold fewer).
    pub pages_total: u64,
    /// Pages whose walk was compared with KVM_TRANSLATE.
    pub pages_checked: u64,
    /// Its regions with their mapped page counts.
    pub regions: Vec<RegionObs>,
    /// The read-back of its stored value, if it stored one.
    pub pattern: Option<PatternObs>,
    /// What went wrong; each becomes one of the run's errors.
    pub findings: Vec<Finding>,
    /// (GPA page, region) of every user page, for --dirty-log attribution.
    pub frames: Vec<(Gpa, Option<RegionKind>)>,
    /// Its page-table pages (the tables themselves), for the same.
    pub tables: Vec<Gpa>,
    /// Lowest and highest guest frame of all its pages (not only the listed).
    pub frames_span: Option<(Gpa, Gpa)>,
    /// The pages coalesced into runs (at most MAX_RANGES, and what the
    /// run's budget leaves).
    pub ranges: Vec<MappedRange>,
    /// How many runs there were: more than `ranges` holds when a cap cut
    /// the list (a cap, not an error).
    pub ranges_total: u64,
    /// With `Options::tables`: the user half's page tables.
    pub page_tables: Option<TablesObs>,
    /// All its pages counted by guest and host page size.
    pub page_sizes: Vec<SizeCount>,
    /// Frames it shared with the other live processes; None when it was
    /// not analysed (no paging mode).
    pub sharing: Option<SharingObs>,
}

/// The regions with no pages counted: for processes that never reported
/// their exit.
pub fn unmapped_regions(regions: &[Region]) -> Vec<RegionObs> {
    regions
        .iter()
        .map(|r| RegionObs {
            region: r.clone(),
            pages_mapped: 0,
            shared_pages: None,
        })
        .collect()
}

/// What the rest of the run may still keep: analyses of many (hostile)
/// processes draw on one budget, so together they stay bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Pages listed in the report plus dirty-log frames.
    pub pages: u64,
    /// Mapped runs listed in the report (shared-frame runs included).
    pub runs: usize,
    /// Entries read plus pages compared while finding the frames shared
    /// with other live processes (share::SHARE_BUDGET for a run).
    pub share: u64,
}

/// Analyse process `p`, whose CR3 should be the vCPU's live one, within
/// what `budget` still allows; `peers` are the other processes live at
/// this moment, whose frames it may share.
pub fn analyse<C: Cpu + ?Sized, M: PhysMem + ?Sized, H: HostView + ?Sized>(
    cpu: &C,
    mem: &M,
    host: &H,
    p: &ProcEvent,
    peers: &[Peer],
    o: &Options,
    budget: &mut Budget,
) -> Analysis {
    let mut a = Analysis::default();
    let Some(mode) = cpu.paging_mode() else {
        a.findings.push(Finding::NotPagingMode);
        return a;
    };
    let live = cpu.cr3().map_or(0, |c| c.raw() & !0xfff);
    let can_check = live == p.cr3.raw() & !0xfff;
    if !can_check {
        a.findings.push(Finding::Cr3NotLive {
            live,
            process: p.cr3,
        });
    }
    let mut errs = Findings::default();
    let pages = enumerate(mem, p.cr3, mode, &mut errs);
    if o.frames {
        let mut tables = paging::table_pages(mem, p.cr3.raw(), mode, WALK_LIMIT);
        tables.truncate(usize::try_from(budget.pages).unwrap_or(usize::MAX));
        budget.pages -= tables.len() as u64;
        a.tables = tables;
    }
    a.pages_total = pages.len() as u64;
    a.page_sizes = count_sizes(host, &pages);
    a.frames_span = pages
        .iter()
        .map(|p| p.gpa)
        .min()
        .zip(pages.iter().map(|p| p.gpa).max());
    let room = MAX_RANGES.min(budget.runs);
    let (runs, total) = paging::coalesce_at_most(pages.iter().copied(), room);
    budget.runs -= runs.len();
    a.ranges_total = total as u64;
    a.ranges = runs;
    let owner = owners(&pages, &p.regions);
    let mut per_region = vec![0u64; p.regions.len()];
    for (pg, ri) in pages.iter().zip(&owner) {
        match ri.get().and_then(|k| per_region.get_mut(k)) {
            Some(n) => *n += 1,
            None => errs.push(Finding::OutsideRegions { gva: pg.gva }),
        }
    }
    let checked = if can_check {
        let (checked, late) = check(cpu, &pages, &owner, o, &mut errs);
        // Said whatever else was found: not one of the capped findings.
        a.findings.extend(late);
        checked
    } else {
        Vec::new()
    };
    a.pages_checked = checked.len() as u64;
    let region = |ri: Option<usize>| ri.and_then(|k| p.regions.get(k)).map(|r| r.kind);
    let mut stopped_at = None;
    let mut late = None;
    // `checked` is in page order: walk it alongside.
    let mut checks = checked.iter().peekable();
    for (i, pg) in pages.iter().enumerate() {
        let ri = owner.get(i).and_then(|o| o.get());
        let kvm = match checks.peek() {
            Some((k, answer)) if *k == i => {
                let answer = *answer;
                checks.next();
                answer
            }
            _ => None,
        };
        // Listed pages and dirty-log frames draw on one budget for the
        // whole run.
        if o.frames && budget.pages > 0 {
            budget.pages -= 1;
            a.frames.push((pg.gpa, region(ri)));
        }
        // Past the guest's deadline `--pages` lists what it would without:
        // each region's ends and samples (the host lookups of 2^19 pages
        // took 1.2 s). The clock is read every CLOCK_EVERY pages.
        if o.all_pages && late.is_none() && i % CLOCK_EVERY == 0 && past(o) {
            late = Some(pg.gva);
        }
        let keep = (o.all_pages && late.is_none())
            || is_edge(&owner, i)
            || (i as u64).is_multiple_of((pages.len() as u64 / 4).max(1));
        if !keep {
            continue;
        }
        if budget.pages == 0 {
            // Said once, and never crowded out by the capped findings.
            if stopped_at.is_none() {
                stopped_at = Some(pg.gva);
            }
            continue;
        }
        budget.pages -= 1;
        let h = host.locate(pg.gpa);
        a.pages.push(PageObs {
            gva: pg.gva,
            gpa: pg.gpa,
            hva: h.hva,
            hpa: h.hpa(),
            guest_page_size: pg.page_size,
            host_page_size: h.page_size,
            flags: pg.flags,
            region: region(ri),
            kvm,
        });
    }
    if let Some(gva) = stopped_at {
        a.findings.push(Finding::BudgetSpent { gva });
    }
    if let Some(gva) = late {
        a.findings.push(Finding::ListingOutOfTime { gva });
    }
    let swept = share::sweep(mem, mode, p.cr3, &pages, peers, o, &mut budget.share);
    let region_of = |i: usize| owner.get(i).and_then(|o| o.get());
    let shared_per_region = share::per_region(&pages, region_of, p, &swept, peers, &mut errs);
    a.regions = p
        .regions
        .iter()
        .zip(per_region)
        .zip(shared_per_region)
        .map(|((r, n), shared)| RegionObs {
            region: r.clone(),
            pages_mapped: n,
            shared_pages: shared,
        })
        .collect();
    let room = MAX_RANGES.min(budget.runs);
    let sharing = share::observe(&pages, swept, room);
    budget.runs -= sharing.frames.len();
    if let Some(stop) = sharing.stop {
        // Said whatever else was found: not one of the capped findings.
        a.findings.push(Finding::SharingUnknown(stop));
    }
    a.sharing = Some(sharing);
    if o.tables {
        // After the pages, so they never lose the budget to the tables.
        a.page_tables = Some(tables(mem, host, p.cr3, mode, &mut budget.pages));
    }
    if let Some(pat) = p.pattern {
        let obs = read_back(mem, host, p.cr3, mode, pat);
        if !obs.ok() {
            errs.push(Finding::PatternMismatch { gva: pat.gva });
        }
        a.pattern = Some(obs);
    }
    a.findings.extend(errs.finish());
    a
}

/// Every mapped user page, in GVA order (at most MAX_PAGES); entries the
/// walker cannot follow become findings.
fn enumerate<M: PhysMem + ?Sized>(
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

/// The user half's page tables with their host side; each present entry
/// kept costs one unit of the run's page budget.
fn tables<M: PhysMem + ?Sized, H: HostView + ?Sized>(
    mem: &M,
    host: &H,
    cr3: Cr3,
    mode: PagingMode,
    budget: &mut u64,
) -> TablesObs {
    let (pages, complete) = paging::user_tables(mem, cr3.raw(), mode, WALK_LIMIT, *budget);
    let kept: u64 = pages.iter().map(|t| t.entries.len() as u64).sum();
    *budget = budget.saturating_sub(kept);
    TablesObs {
        tables: pages
            .into_iter()
            .map(|page| TableObs {
                host: host.locate(page.gpa),
                page,
            })
            .collect(),
        complete,
    }
}

/// A page's region as an index into the process's regions (a byte: the
/// abi allows 48; u8::MAX for none), one byte a page for up to 2^20 pages.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Owner(u8);

impl Owner {
    const NONE: Owner = Owner(u8::MAX);

    fn get(self) -> Option<usize> {
        (self != Owner::NONE).then_some(usize::from(self.0))
    }
}

/// Each page's region, found once.
fn owners(pages: &[Page], regions: &[Region]) -> Vec<Owner> {
    pages
        .iter()
        .map(|pg| {
            regions
                .iter()
                .position(|r| r.contains(pg.gva))
                .and_then(|i| u8::try_from(i).ok())
                .filter(|&i| i != u8::MAX)
                .map_or(Owner::NONE, Owner)
        })
        .collect()
}

/// The first or last page of a region (or of a run outside them).
fn is_edge(owner: &[Owner], i: usize) -> bool {
    let here = owner.get(i).copied();
    let before = i.checked_sub(1).and_then(|k| owner.get(k).copied());
    before != here || owner.get(i + 1).is_none_or(|&n| Some(n) != here)
}

/// Cross-check an even sample of at most about `o.max_checked` pages,
/// always including each region's ends, with KVM_TRANSLATE: (page index,
/// answer) for each checked page, in page order; disagreements become
/// findings. Stops at `o.deadline`, with a finding that says how far it got.
fn check<C: Cpu + ?Sized>(
    cpu: &C,
    pages: &[Page],
    owner: &[Owner],
    o: &Options,
    errs: &mut Findings,
) -> (Vec<(usize, Option<Gpa>)>, Option<Finding>) {
    let stride = (pages.len() as u64).div_ceil(o.max_checked.max(1)).max(1);
    let planned = pages
        .iter()
        .enumerate()
        .filter(|&(i, _)| (i as u64).is_multiple_of(stride) || is_edge(owner, i));
    let mut checked = Vec::new();
    for (n, (i, pg)) in planned.enumerate() {
        // A clock read per check costs well under 1% of the ioctl.
        if past(o) {
            let left = pages
                .iter()
                .enumerate()
                .skip(i)
                .filter(|&(k, _)| (k as u64).is_multiple_of(stride) || is_edge(owner, k))
                .count();
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

/// Read back the value the process stored, through the GPA (guest memory)
/// and through the HVA (a raw read of the VMM's own mapping).
fn read_back<M: PhysMem + ?Sized, H: HostView + ?Sized>(
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
