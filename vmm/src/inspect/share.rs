//! Frames shared between address spaces: which pages of an exiting process
//! another process, live at that moment, also maps. Computed from the page
//! tables themselves (never from a count the guest sends): every other
//! live process's user half is walked with the same enumerator as the
//! analysis, its frames kept as sorted GPA intervals, and the exiting
//! process's pages swept against each in GPA order.
//!
//! Bounded: each walk reads at most WALK_LIMIT entries and keeps at most
//! MAX_PAGES pages, and all of them together draw on one run-wide budget
//! (`Budget::share`: entries read plus pages compared). When a bound or
//! the guest's deadline stops it, the counts are unknown, and said so.

use std::fmt;

use super::Options;
use super::chain::{MAX_PAGES, WALK_LIMIT};
use super::finding::{Finding, Findings};
use crate::addr::{Gpa, Gva};
use crate::devices::event::{ProcEvent, RegionKind};
use crate::paging::{self, Cr3, Page, PagingMode, PhysMem, PteFlags, WalkFault};

/// Page-table entries read plus pages compared by the sharing sweeps in a
/// whole run: a fork bomb of 256 small processes needs well under 2^24; a
/// hostile guest's aliased tables stop here (2^26 reads took ~1 s).
pub const SHARE_BUDGET: u64 = 1 << 26;

/// Another process live when one exits: whose frames are compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its pid.
    pub pid: u32,
    /// Its name (its current image's).
    pub name: String,
    /// The page table it runs on.
    pub cr3: Cr3,
}

/// One other live process and the pages shared with it.
// The report lists it as it is (`processes[].sharing.with[]`): these doc
// comments are the JSON keys' descriptions, under the report's name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "ShareWith")]
pub struct PeerShare {
    /// Its pid.
    pub pid: u32,
    /// Its name then.
    pub name: String,
    /// Pages of the exiting process whose frame it maps too.
    pub pages: u64,
}

/// Why the sharing counts are unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareStop {
    /// The run's budget for sharing sweeps (SHARE_BUDGET) is spent.
    Budget,
    /// A peer's tables hold more than WALK_LIMIT entries to read.
    WalkLimit {
        /// The peer.
        pid: u32,
    },
    /// A peer maps more than MAX_PAGES pages.
    TooManyPages {
        /// The peer.
        pid: u32,
    },
    /// The guest's time (`--timeout`) ran out.
    OutOfTime,
}

impl fmt::Display for ShareStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareStop::Budget => write!(
                f,
                "the run's budget of {SHARE_BUDGET} entries and pages for comparing address spaces is spent"
            ),
            ShareStop::WalkLimit { pid } => write!(
                f,
                "pid {pid}'s page tables hold more than {WALK_LIMIT} entries to read"
            ),
            ShareStop::TooManyPages { pid } => {
                write!(f, "pid {pid} maps more than {MAX_PAGES} pages")
            }
            ShareStop::OutOfTime => f.write_str("--timeout"),
        }
    }
}

/// The frames an exiting process shared with the other processes live
/// at that moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharingObs {
    /// Each other live process compared, with how many of this process's
    /// pages it maps too (those compared before a bound stopped it).
    pub with: Vec<PeerShare>,
    /// All its pages whose frame another live process maps; None when a
    /// bound stopped the comparison.
    pub shared_pages: Option<u64>,
    /// Those frames as runs of 4 KiB frames (first GPA, frames), in GPA
    /// order: at most MAX_RANGES, and what the run's budget leaves.
    pub frames: Vec<(Gpa, u64)>,
    /// How many runs there were (more than `frames` holds when capped).
    pub frames_total: u64,
    /// Why the counts are unknown; None when they are complete.
    pub stop: Option<ShareStop>,
}

/// What the sweep found, page by page (in the order of `pages`).
#[derive(Debug, Default)]
pub(super) struct Swept {
    /// Per page: 1 + the index of the first peer with tables of its own
    /// that maps its frame too; 0 when none does.
    pub by: Vec<u16>,
    /// A peer runs on the same page table: it maps every page.
    pub same_tables: bool,
    /// Every peer compared, in the order given.
    pub with: Vec<PeerShare>,
    /// Set when a bound stopped the sweep: the counts are unknown.
    pub stop: Option<ShareStop>,
}

impl Swept {
    /// Whether page `i` is mapped by another live process.
    pub fn shared(&self, i: usize) -> bool {
        self.same_tables || self.by.get(i).is_some_and(|&b| b != 0)
    }
}

/// Compare the exiting process's `pages` (at `cr3`) with every peer's,
/// within `budget`.
pub(super) fn sweep<M: PhysMem + ?Sized>(
    mem: &M,
    mode: PagingMode,
    cr3: Cr3,
    pages: &[Page],
    peers: &[Peer],
    o: &Options,
    budget: &mut u64,
) -> Swept {
    let mut s = Swept::default();
    if peers.is_empty() {
        // Alone: nothing to sort or mark (a 2^20-page process costs no
        // extra pass).
        return s;
    }
    s.by = vec![0; pages.len()];
    // The pages in GPA order, once for all peers.
    let mut order: Vec<u32> = (0..pages.len() as u32).collect();
    order.sort_unstable_by_key(|&i| pages.get(i as usize).map_or(0, |p| p.gpa.raw()));
    let root = mode.root_table(cr3.raw());
    for (k, peer) in peers.iter().enumerate() {
        if o.past() {
            s.stop = Some(ShareStop::OutOfTime);
            break;
        }
        if mode.root_table(peer.cr3.raw()) == root {
            // The same tables (threads, vfork): every page is the peer's too.
            s.same_tables = true;
            s.with.push(PeerShare {
                pid: peer.pid,
                name: peer.name.clone(),
                pages: pages.len() as u64,
            });
            continue;
        }
        let spans = match frames(mem, mode, peer, budget) {
            Ok(v) => v,
            Err(stop) => {
                s.stop = Some(stop);
                break;
            }
        };
        // The sweep costs a step per page on each side.
        let steps = pages.len() as u64 + spans.len() as u64;
        if *budget < steps {
            *budget = 0;
            s.stop = Some(ShareStop::Budget);
            break;
        }
        *budget -= steps;
        let mark = u16::try_from(k + 1).unwrap_or(u16::MAX);
        let mut n = 0u64;
        let mut at = 0usize;
        for &i in &order {
            let Some(pg) = pages.get(i as usize) else {
                continue;
            };
            let (lo, hi) = (pg.gpa.raw(), pg.gpa.raw() + pg.page_size.bytes());
            // Pages come in ascending start order: an interval that ends
            // at or before this start ends before every later one too.
            while spans.get(at).is_some_and(|&(_, end)| end <= lo) {
                at += 1;
            }
            // Two intervals [a, b) and [c, d) intersect iff a < d && c < b.
            if spans.get(at).is_some_and(|&(start, _)| start < hi) {
                n += 1;
                if let Some(b) = s.by.get_mut(i as usize)
                    && *b == 0
                {
                    *b = mark;
                }
            }
        }
        s.with.push(PeerShare {
            pid: peer.pid,
            name: peer.name.clone(),
            pages: n,
        });
    }
    s
}

/// The GPA intervals [start, end) of every page `peer` maps in its user
/// half, sorted and merged; each entry read is charged to `budget`.
fn frames<M: PhysMem + ?Sized>(
    mem: &M,
    mode: PagingMode,
    peer: &Peer,
    budget: &mut u64,
) -> Result<Vec<(u64, u64)>, ShareStop> {
    let limit = WALK_LIMIT.min(*budget);
    let user_end = 1u64 << (mode.va_bits() - 1);
    let mut it = paging::mapped_pages(mem, peer.cr3.raw(), mode, Gva(0)..Gva(user_end), limit);
    let mut spans = Vec::new();
    let mut stop = None;
    for r in it.by_ref() {
        match r {
            Ok(_) if spans.len() == MAX_PAGES => {
                stop = Some(ShareStop::TooManyPages { pid: peer.pid });
                break;
            }
            Ok(pg) => spans.push((pg.gpa.raw(), pg.gpa.raw() + pg.page_size.bytes())),
            Err(WalkFault::LimitReached { .. }) => {
                stop = Some(if limit < WALK_LIMIT {
                    ShareStop::Budget
                } else {
                    ShareStop::WalkLimit { pid: peer.pid }
                });
            }
            // An entry the hardware would fault on maps nothing.
            Err(_) => {}
        }
    }
    *budget -= it.reads().min(*budget);
    if let Some(stop) = stop {
        return Err(stop);
    }
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// Each region's pages whose frame another live process maps (None for
/// all when the comparison was stopped); `region_of` gives a page's region
/// index. A user-writable page outside a file mapping whose frame a
/// process with its own tables maps is a finding: a private page must be
/// copied on write, never shared writable.
pub(super) fn per_region(
    pages: &[Page],
    region_of: impl Fn(usize) -> Option<usize>,
    p: &ProcEvent,
    s: &Swept,
    peers: &[Peer],
    errs: &mut Findings,
) -> Vec<Option<u64>> {
    let mut counts = vec![0u64; p.regions.len()];
    let user_rw = PteFlags::US.union(PteFlags::RW);
    for (i, pg) in pages.iter().enumerate() {
        if !s.shared(i) {
            continue;
        }
        let region = region_of(i);
        if let Some(n) = region.and_then(|k| counts.get_mut(k)) {
            *n += 1;
        }
        let file = region
            .and_then(|k| p.regions.get(k))
            .is_some_and(|r| r.kind == RegionKind::File);
        let by = s.by.get(i).copied().unwrap_or(0);
        if by != 0 && !file && pg.flags.contains(user_rw) {
            let pid = peers.get(usize::from(by) - 1).map_or(0, |q| q.pid);
            errs.push(Finding::SharedWritable {
                gva: pg.gva,
                gpa: pg.gpa,
                pid,
            });
        }
    }
    let known = s.stop.is_none();
    counts.into_iter().map(|n| known.then_some(n)).collect()
}

/// The sharing observation from the sweep: totals, and the shared frames
/// as at most `room` runs.
pub(super) fn observe(pages: &[Page], s: Swept, room: usize) -> SharingObs {
    let total = (0..pages.len()).filter(|&i| s.shared(i)).count() as u64;
    let (frames, frames_total) = frame_runs(pages, &s, room);
    SharingObs {
        with: s.with,
        shared_pages: s.stop.is_none().then_some(total),
        frames,
        frames_total,
        stop: s.stop,
    }
}

/// The shared frames as runs of 4 KiB frames, (first GPA, frames), in GPA
/// order: at most `max` runs, and how many there were.
fn frame_runs(pages: &[Page], s: &Swept, max: usize) -> (Vec<(Gpa, u64)>, u64) {
    let mut spans: Vec<(u64, u64)> = pages
        .iter()
        .enumerate()
        .filter(|&(i, _)| s.shared(i))
        .map(|(_, p)| (p.gpa.raw() >> 12, p.page_size.bytes() >> 12))
        .collect();
    spans.sort_unstable();
    let mut runs: Vec<(Gpa, u64)> = Vec::new();
    let mut total = 0u64;
    let mut end = None::<u64>;
    for (first, n) in spans {
        match end {
            // Adjacent or overlapping (aliases within the process): one run.
            Some(e) if first <= e => {
                let new_end = e.max(first + n);
                if let Some(last) = runs.last_mut()
                    && total as usize <= max
                {
                    last.1 += new_end - e;
                }
                end = Some(new_end);
            }
            _ => {
                total += 1;
                if runs.len() < max {
                    runs.push((Gpa(first << 12), n));
                }
                end = Some(first + n);
            }
        }
    }
    (runs, total)
}
