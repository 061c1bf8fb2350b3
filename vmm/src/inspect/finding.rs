//! What an analysis can find wrong, as values: the report prints them, and
//! tests match on them.

use std::fmt;

use super::share::ShareStop;
use crate::addr::{Gpa, Gva};
use crate::paging::{Cr3, WalkFault};

/// Detailed findings kept per analysis; beyond that they are only counted.
pub const MAX_FINDINGS: usize = 16;

/// One problem an analysis found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The vCPU's registers say it is not in 64-bit paging mode.
    NotPagingMode,
    /// The live CR3 is another address space's: nothing can be cross-checked.
    Cr3NotLive {
        /// CR3 as the vCPU holds it.
        live: u64,
        /// The process's own page table.
        process: Cr3,
    },
    /// The tables map more pages than the analysis looks at.
    TooManyPages {
        /// Pages analysed at most per address space.
        max: usize,
    },
    /// An entry the enumerator could not follow.
    Walk(WalkFault),
    /// A page mapped outside every region the kernel reported.
    OutsideRegions {
        /// The page's address.
        gva: Gva,
    },
    /// The software walk and KVM_TRANSLATE disagree.
    Mismatch {
        /// The page's address.
        gva: Gva,
        /// What the software walk gave.
        software: Gpa,
        /// What KVM_TRANSLATE gave; None if it found no mapping.
        kvm: Option<Gpa>,
    },
    /// The run-wide budget of listed pages ran out at `gva`.
    BudgetSpent {
        /// The first address not listed.
        gva: Gva,
    },
    /// The value the process stored did not read back.
    PatternMismatch {
        /// Where the process stored it.
        gva: Gva,
    },
    /// This many more findings were not kept.
    More(u64),
    /// The guest's time ran out during the KVM_TRANSLATE cross-check.
    OutOfTime {
        /// Pages checked by then.
        checked: u64,
        /// Pages the check was to cover.
        planned: u64,
    },
    /// A user-writable page (outside a file mapping) whose frame another
    /// live process, on tables of its own, maps too: copy-on-write must
    /// leave a frame mapped by two processes read-only in both, or a write
    /// in one shows in the other.
    SharedWritable {
        /// The page's address.
        gva: Gva,
        /// Its frame.
        gpa: Gpa,
        /// The other process.
        pid: u32,
    },
    /// The frames shared with other live processes could not be counted.
    SharingUnknown(ShareStop),
    /// The guest's time ran out while `--pages` listed every page: from
    /// `gva` on only each region's ends and samples are listed.
    ListingOutOfTime {
        /// The first page listed as without `--pages`.
        gva: Gva,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::NotPagingMode => write!(f, "the vCPU is not in 64-bit paging mode"),
            Finding::Cr3NotLive { live, process } => write!(
                f,
                "CR3 {live:#x} is not the process's {process}: KVM_TRANSLATE cross-check skipped"
            ),
            Finding::TooManyPages { max } => {
                write!(f, "more than {max} pages mapped: analysis stopped there")
            }
            Finding::Walk(e) => write!(f, "page-table walk: {e}"),
            Finding::OutsideRegions { gva } => write!(
                f,
                "{gva} is mapped but outside every region the kernel reported"
            ),
            Finding::Mismatch { gva, software, kvm } => write!(
                f,
                "{gva}: software walk says GPA {software} but KVM_TRANSLATE says {}",
                kvm.map_or("not mapped".into(), |g| g.to_string())
            ),
            Finding::BudgetSpent { gva } => write!(
                f,
                "page listing stopped at {gva}: the run's budget of listed pages is spent"
            ),
            Finding::PatternMismatch { gva } => {
                write!(f, "pattern read-back at GVA {gva} failed")
            }
            Finding::More(n) => write!(f, "... and {n} more errors like these"),
            Finding::OutOfTime { checked, planned } => write!(
                f,
                "KVM_TRANSLATE cross-check stopped at --timeout after {checked} of {planned} pages"
            ),
            Finding::SharedWritable { gva, gpa, pid } => write!(
                f,
                "{gva} is writable and its frame {gpa} is mapped by pid {pid} too: a page shared \
                 after fork must be read-only in both until a write copies it"
            ),
            Finding::SharingUnknown(why) => write!(
                f,
                "pages shared with other live processes not counted: {why}"
            ),
            Finding::ListingOutOfTime { gva } => write!(
                f,
                "--pages listing cut to region ends and samples from {gva} on: --timeout"
            ),
        }
    }
}

/// The findings of one analysis: the first MAX_FINDINGS in full, then a
/// count, so hostile tables cannot make the report grow without bound.
#[derive(Default)]
pub(super) struct Findings {
    kept: Vec<Finding>,
    more: u64,
}

impl Findings {
    pub(super) fn push(&mut self, e: Finding) {
        if self.kept.len() < MAX_FINDINGS {
            self.kept.push(e);
        } else {
            self.more += 1;
        }
    }

    pub(super) fn finish(mut self) -> Vec<Finding> {
        if self.more > 0 {
            self.kept.push(Finding::More(self.more));
        }
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_capped_and_counted() {
        let mut f = Findings::default();
        for i in 0..MAX_FINDINGS as u64 + 5 {
            f.push(Finding::OutsideRegions { gva: Gva(i << 12) });
        }
        let v = f.finish();
        assert_eq!(v.len(), MAX_FINDINGS + 1);
        assert_eq!(v.last(), Some(&Finding::More(5)));
        assert_eq!(
            v.last().map(ToString::to_string).as_deref(),
            Some("... and 5 more errors like these")
        );
    }

    #[test]
    fn addresses_print_in_hex() {
        let m = Finding::Mismatch {
            gva: Gva(0x40_0000),
            software: Gpa(0x1000),
            kvm: None,
        };
        assert_eq!(
            m.to_string(),
            "0x400000: software walk says GPA 0x1000 but KVM_TRANSLATE says not mapped"
        );
        let p = Finding::PatternMismatch {
            gva: Gva(0x7fff_0000),
        };
        assert_eq!(p.to_string(), "pattern read-back at GVA 0x7fff0000 failed");
    }
}
