//! The analysis of one exiting process, whose CR3 is live on the vCPU:
//! enumerate every mapped user page (software walk of the guest's tables),
//! find each page's region, check a sample against KVM_TRANSLATE, and list
//! the pages the report shows with their host side (HVA, HPA, host page).
//! Which pages, and within what budget, is decided here; each page's chain
//! GVA -> GPA -> HVA -> HPA is followed in `chain.rs`.

use super::Options;
use super::chain::{self, PageObs, PatternObs, WALK_LIMIT};
use super::cpu::Cpu;
use super::finding::{Finding, Findings};
use super::gpa_to_hpa::{HostPage, HostView};
use super::reach::{SizeCount, count_sizes};
use super::share::{self, Peer, SharingObs};
use crate::addr::Gpa;
use crate::devices::event::{ProcEvent, Region, RegionKind};
use crate::paging::{self, Cr3, MappedRange, Page, PagingMode, PhysMem, TablePage};

/// Runs listed per process; the rest are counted in a finding.
const MAX_RANGES: usize = 4096;
/// Pages listed between two looks at the clock.
const CLOCK_EVERY: usize = 4096;

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
    let owned = Owned::new(chain::enumerate(mem, p.cr3, mode, &mut errs), &p.regions);
    if o.frames {
        a.tables = table_frames(mem, p.cr3, mode, &mut budget.pages);
    }
    summarise(&mut a, host, &owned.pages, &mut budget.runs);
    let per_region = owned.per_region(&mut errs);
    let checked = if can_check {
        let (checked, late) = chain::check(cpu, &owned.pages, |i| owned.is_edge(i), o, &mut errs);
        // Said whatever else was found: not one of the capped findings.
        a.findings.extend(late);
        checked
    } else {
        Vec::new()
    };
    a.pages_checked = checked.len() as u64;
    list(&mut a, host, &owned, &checked, o, &mut budget.pages);
    let swept = share::sweep(mem, mode, p.cr3, &owned.pages, peers, o, &mut budget.share);
    let region_of = |i: usize| owned.index(i);
    let shared = share::per_region(&owned.pages, region_of, p, &swept, peers, &mut errs);
    a.regions = region_obs(&p.regions, per_region, shared);
    let sharing = share::observe(&owned.pages, swept, MAX_RANGES.min(budget.runs));
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
        let obs = chain::read_back(mem, host, p.cr3, mode, pat);
        if !obs.ok() {
            errs.push(Finding::PatternMismatch { gva: pat.gva });
        }
        a.pattern = Some(obs);
    }
    a.findings.extend(errs.finish());
    a
}

/// The counts over all its pages, listed or not: how many, by page size,
/// the span of their frames, and the runs they make (within what `runs`,
/// the run's budget, leaves).
fn summarise<H: HostView + ?Sized>(a: &mut Analysis, host: &H, pages: &[Page], runs: &mut usize) {
    a.pages_total = pages.len() as u64;
    a.page_sizes = count_sizes(host, pages);
    a.frames_span = pages
        .iter()
        .map(|p| p.gpa)
        .min()
        .zip(pages.iter().map(|p| p.gpa).max());
    let room = MAX_RANGES.min(*runs);
    let (listed, total) = paging::coalesce_at_most(pages.iter().copied(), room);
    *runs -= listed.len();
    a.ranges_total = total as u64;
    a.ranges = listed;
}

/// The pages the report lists, each followed to the host (`chain::follow`),
/// and with `Options::frames` every page's frame: all pages with
/// `--pages`, else each region's ends and samples; both draw on the run's
/// page `budget`. `checked` holds KVM_TRANSLATE's answers, in page order.
fn list<H: HostView + ?Sized>(
    a: &mut Analysis,
    host: &H,
    owned: &Owned,
    checked: &[(usize, Option<Gpa>)],
    o: &Options,
    budget: &mut u64,
) {
    let pages = &owned.pages;
    let mut stopped_at = None;
    let mut late = None;
    // `checked` is in page order: walk it alongside.
    let mut checks = checked.iter().peekable();
    for (i, pg) in pages.iter().enumerate() {
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
        if o.frames && *budget > 0 {
            *budget -= 1;
            a.frames.push((pg.gpa, owned.kind(i)));
        }
        // Past the guest's deadline `--pages` lists what it would without:
        // each region's ends and samples (the host lookups of 2^19 pages
        // took 1.2 s). The clock is read every CLOCK_EVERY pages.
        if o.all_pages && late.is_none() && i % CLOCK_EVERY == 0 && o.past() {
            late = Some(pg.gva);
        }
        let keep = (o.all_pages && late.is_none())
            || owned.is_edge(i)
            || (i as u64).is_multiple_of((pages.len() as u64 / 4).max(1));
        if !keep {
            continue;
        }
        if *budget == 0 {
            // Said once, and never crowded out by the capped findings.
            if stopped_at.is_none() {
                stopped_at = Some(pg.gva);
            }
            continue;
        }
        *budget -= 1;
        a.pages.push(chain::follow(host, pg, owned.kind(i), kvm));
    }
    if let Some(gva) = stopped_at {
        a.findings.push(Finding::BudgetSpent { gva });
    }
    if let Some(gva) = late {
        a.findings.push(Finding::ListingOutOfTime { gva });
    }
}

/// Its regions with their counts of mapped and shared pages.
fn region_obs(regions: &[Region], mapped: Vec<u64>, shared: Vec<Option<u64>>) -> Vec<RegionObs> {
    regions
        .iter()
        .zip(mapped)
        .zip(shared)
        .map(|((r, n), shared)| RegionObs {
            region: r.clone(),
            pages_mapped: n,
            shared_pages: shared,
        })
        .collect()
}

/// Its page-table pages (the tables themselves), for `--dirty-log`
/// attribution, within the run's page `budget`.
fn table_frames<M: PhysMem + ?Sized>(
    mem: &M,
    cr3: Cr3,
    mode: PagingMode,
    budget: &mut u64,
) -> Vec<Gpa> {
    let mut tables = paging::table_pages(mem, cr3.raw(), mode, WALK_LIMIT);
    tables.truncate(usize::try_from(*budget).unwrap_or(usize::MAX));
    *budget -= tables.len() as u64;
    tables
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

/// A process's mapped pages, each with the region it falls in (found
/// once).
struct Owned<'a> {
    /// In GVA order.
    pages: Vec<Page>,
    /// Each page's region, by index.
    owner: Vec<Owner>,
    /// The process's regions, as the kernel reported them.
    regions: &'a [Region],
}

impl<'a> Owned<'a> {
    fn new(pages: Vec<Page>, regions: &'a [Region]) -> Self {
        let owner = pages
            .iter()
            .map(|pg| {
                regions
                    .iter()
                    .position(|r| r.contains(pg.gva))
                    .and_then(|i| u8::try_from(i).ok())
                    .filter(|&i| i != u8::MAX)
                    .map_or(Owner::NONE, Owner)
            })
            .collect();
        Owned {
            pages,
            owner,
            regions,
        }
    }

    /// Page `i`'s region, as an index into the regions.
    fn index(&self, i: usize) -> Option<usize> {
        self.owner.get(i).and_then(|o| o.get())
    }

    /// Page `i`'s region's kind.
    fn kind(&self, i: usize) -> Option<RegionKind> {
        self.index(i)
            .and_then(|k| self.regions.get(k))
            .map(|r| r.kind)
    }

    /// Page `i` is the first or last of a region (or of a run outside them).
    fn is_edge(&self, i: usize) -> bool {
        let owner = &self.owner;
        let here = owner.get(i).copied();
        let before = i.checked_sub(1).and_then(|k| owner.get(k).copied());
        before != here || owner.get(i + 1).is_none_or(|&n| Some(n) != here)
    }

    /// Mapped pages per region; each page outside them is a finding.
    fn per_region(&self, errs: &mut Findings) -> Vec<u64> {
        let mut n = vec![0u64; self.regions.len()];
        for (i, pg) in self.pages.iter().enumerate() {
            match self.index(i).and_then(|k| n.get_mut(k)) {
                Some(n) => *n += 1,
                None => errs.push(Finding::OutsideRegions { gva: pg.gva }),
            }
        }
        n
    }
}
