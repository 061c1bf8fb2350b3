//! The translation analysis: for an address space whose CR3 is live on the
//! vCPU, every mapped user page followed from GVA to GPA (software walk of
//! the guest's tables), to HVA (memslots) and to HPA (pagemap), checked
//! against KVM_TRANSLATE; and the full two-dimensional walk for `whereis`.
//!
//! Pure over its inputs: guest memory (`paging::PhysMem`), the host side
//! (`HostView`) and the vCPU (`Cpu`), so unit tests run it on synthetic
//! tables without /dev/kvm. It returns typed results; the report formats
//! them.

mod analyse;
mod chain;
mod cpu;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
mod finding;
mod gpa_to_hpa;
mod reach;
mod share;
#[cfg(test)]
mod tests;
mod walk2d;

pub use analyse::{Analysis, Budget, RegionObs, TableObs, TablesObs, analyse, unmapped_regions};
pub use chain::{PageObs, PatternObs, WALK_LIMIT, region_or_outside};
pub use cpu::Cpu;
pub use finding::{Finding, MAX_FINDINGS};
pub use gpa_to_hpa::{HostPage, HostView, LiveHost};
pub use reach::{SizeCount, count_sizes};
pub use share::{Peer, PeerShare, SHARE_BUDGET, ShareStop, SharingObs};
pub use walk2d::{HwRefs, Walk2d, WalkLevel, hw_refs, walk2d};

use crate::addr::Gva;
use crate::kvm_probe::Flavour;

/// The most pages listed (and frames kept for --dirty-log) in a whole run:
/// what a fully mapped 2 GiB guest needs (registry::page_budget scales it
/// to the guest's RAM).
pub const PAGE_BUDGET: u64 = 1 << 19;

/// Which pages of a process are cross-checked with KVM_TRANSLATE. Each
/// check is one ioctl, ~6 us here (PVM): every page of a 1 GiB guest cost
/// 363 ms, 7 ms of the 35 ms demo; the software walk covers every page
/// regardless, and is what the report lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Each region's first and last page plus an even sample of at most
    /// SAMPLE pages per process (the default).
    Sample,
    /// Every mapped page (`--verify all`).
    All,
}

impl Verify {
    /// Most pages of the even sample, per process.
    pub const SAMPLE: u64 = 64;

    /// The per-process limit the analysis applies (Options::max_checked).
    pub fn max_checked(self) -> u64 {
        match self {
            Verify::Sample => Verify::SAMPLE,
            Verify::All => u64::MAX,
        }
    }

    /// The JSON value: "sample" or "all".
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Sample => "sample",
            Verify::All => "all",
        }
    }

    /// What was done, for the text report.
    pub fn text(self) -> String {
        match self {
            Verify::Sample => format!(
                "each region's first and last page plus an even sample of at most {} pages per \
                 process (--verify all: every page)",
                Verify::SAMPLE
            ),
            Verify::All => "every mapped page (--verify all)".to_string(),
        }
    }
}

impl std::str::FromStr for Verify {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sample" => Ok(Verify::Sample),
            "all" => Ok(Verify::All),
            _ => Err(format!("'{s}': use sample or all")),
        }
    }
}

/// How much to analyse, and what the host's nested paging is.
#[derive(Clone, Debug)]
pub struct Options {
    /// Put every page into the report (else first/last per region + samples).
    pub all_pages: bool,
    /// Compare at most this many pages per process with KVM_TRANSLATE (an
    /// even sample beyond that, always including each region's ends).
    pub max_checked: u64,
    /// How the host translates GPAs, for the hardware reference count.
    pub flavour: Flavour,
    /// `--walk GVA`: the 2D walk of this address in every process that maps it.
    pub walk: Option<Gva>,
    /// Keep every page's frame and region (for `--dirty-log` attribution).
    pub frames: bool,
    /// Levels of the host's page tables (EPT/NPT nested walk depth).
    pub host_levels: u32,
    /// Keep the user half's page tables (for `--html`, whose page walks any
    /// page in the browser).
    pub tables: bool,
    /// When the guest's time is up (deadline.rs): the KVM_TRANSLATE checks,
    /// ~6 us each, stop there (2^20 of them took 7.5 s), the rest counted
    /// in a finding; None for no limit.
    pub deadline: Option<std::time::Instant>,
}

impl Options {
    /// The guest's time is up (`deadline`).
    fn past(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }
}
