//! The efficiency section of a process's report: its TLB reach (pages x
//! page size, per guest page size) and, per (guest, host) page-size
//! combination actually present, the memory references one TLB miss costs
//! on this host's flavour (paging::page_walk_refs), with the formula.

use super::model::{ReachReport, WalkRefsReport};
use crate::inspect::SizeCount;
use crate::kvm_probe::Flavour;
use crate::paging;

/// What the walk counts mean on this host, one sentence for the report.
pub fn meaning(flavour: Flavour, nested: bool) -> String {
    let what = match flavour {
        Flavour::VmxEpt | Flavour::SvmNpt => {
            "two-dimensional walks: g*(h+1)+h references, g guest levels down to the guest page, h host levels down to the host page behind it (the guest's tables assumed on host pages like its data)"
        }
        Flavour::Shadow | Flavour::Pvm => {
            "one-dimensional walks of KVM's shadow table (GVA->HPA), whose leaf is the smaller of the guest page and the host page behind it, so both sizes shorten it; what a program measures also holds the shadow page faults KVM takes to fill that table, which these counts leave out"
        }
    };
    let timing = if nested && matches!(flavour, Flavour::VmxEpt | Flavour::SvmNpt) {
        "; this host is itself a VM: under nested SVM in QEMU TCG the timings are emulated, the reference counts still hold"
    } else if nested {
        "; this host is itself a VM: its own TLB misses also walk the outer host's tables, which these counts leave out"
    } else {
        ""
    };
    format!("{}: {what}{timing}", flavour.as_str())
}

/// TLB reach per guest page size: the bytes the TLB covers if every page
/// had its own entry.
pub fn reach(sizes: &[SizeCount]) -> Vec<ReachReport> {
    let mut out: Vec<ReachReport> = Vec::new();
    for s in sizes {
        match out.iter_mut().find(|r| r.page_size == s.guest_page_size) {
            Some(r) => r.pages += s.pages,
            None => out.push(ReachReport {
                page_size: s.guest_page_size,
                pages: s.pages,
                bytes: 0,
            }),
        }
    }
    for r in &mut out {
        r.bytes = r.pages.saturating_mul(r.page_size);
    }
    out
}

/// The references of one TLB miss for each combination present.
pub fn walk_refs(
    sizes: &[SizeCount],
    flavour: Flavour,
    guest_levels: u32,
    host_levels: u32,
) -> Vec<WalkRefsReport> {
    let nested = matches!(flavour, Flavour::VmxEpt | Flavour::SvmNpt);
    sizes
        .iter()
        .map(|s| {
            let (refs, formula) = paging::page_walk_refs(
                nested,
                guest_levels,
                host_levels,
                s.guest_page_size,
                s.host_page_size,
            );
            WalkRefsReport {
                guest_page_size: s.guest_page_size,
                host_page_size: s.host_page_size,
                pages: s.pages,
                refs,
                formula,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> Vec<SizeCount> {
        vec![
            SizeCount {
                guest_page_size: 4096,
                host_page_size: Some(4096),
                pages: 10,
            },
            SizeCount {
                guest_page_size: 2 << 20,
                host_page_size: Some(4096),
                pages: 4,
            },
            SizeCount {
                guest_page_size: 2 << 20,
                host_page_size: Some(2 << 20),
                pages: 1,
            },
        ]
    }

    #[test]
    fn reach_sums_per_guest_page_size() {
        let r = reach(&sizes());
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].page_size, r[0].pages, r[0].bytes), (4096, 10, 40960));
        assert_eq!(
            (r[1].page_size, r[1].pages, r[1].bytes),
            (2 << 20, 5, 10 << 20)
        );
    }

    #[test]
    fn refs_follow_the_flavour() {
        let n: Vec<u32> = walk_refs(&sizes(), Flavour::SvmNpt, 4, 4)
            .iter()
            .map(|w| w.refs)
            .collect();
        assert_eq!(n, [24, 19, 15]);
        let s: Vec<u32> = walk_refs(&sizes(), Flavour::Pvm, 4, 4)
            .iter()
            .map(|w| w.refs)
            .collect();
        assert_eq!(s, [4, 4, 3]);
        assert!(meaning(Flavour::SvmNpt, true).contains("emulated"));
        assert!(meaning(Flavour::Pvm, true).contains("shadow page faults"));
    }
}
