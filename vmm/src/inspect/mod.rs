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
mod cpu;
mod finding;
mod host;
#[cfg(test)]
mod tests;
mod walk2d;

pub use analyse::{
    Analysis, Budget, PageObs, PatternObs, RegionObs, WALK_LIMIT, analyse, unmapped_regions,
};
pub use cpu::Cpu;
pub use finding::{Finding, MAX_FINDINGS};
pub use host::{HostPage, HostView, LiveHost};
pub use walk2d::{HwRefs, Walk2d, WalkLevel, hw_refs, walk2d};

use crate::addr::Gva;
use crate::host::Flavour;

/// The most pages listed (and frames kept for --dirty-log) in a whole run:
/// what a fully mapped 2 GiB guest needs (registry::page_budget scales it
/// to the guest's RAM).
pub const PAGE_BUDGET: u64 = 1 << 19;

/// How much to analyse, and what the host's nested paging is.
#[derive(Clone, Debug)]
pub struct Options {
    /// Put every page into the report (else first/last per region + samples).
    pub all_pages: bool,
    /// Compare at most this many pages per process with KVM_TRANSLATE (an
    /// even sample beyond that, always including each region's ends).
    pub max_checked: u64,
    pub flavour: Flavour,
    /// `--walk GVA`: the 2D walk of this address in every process that maps it.
    pub walk: Option<Gva>,
    /// Keep every page's frame and region (for `--dirty-log` attribution).
    pub frames: bool,
    /// Levels of the host's page tables (EPT/NPT nested walk depth).
    pub host_levels: u32,
}
