//! The report's "what it cost KVM": KVM's own counters for the run
//! (`kvm`) and for each process image (`processes[].kvm`), with KVM's
//! names. Every count has one owner: the processes in `processes[]`, the
//! kernel, "mixed" (intervals in which the running process changed) or
//! "other" (owners not in `processes[]`); their sums are the totals.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kvm_probe::Flavour;
use crate::kvmstats::{KvmCounts, Values, meaning};

/// The run's KVM counters (`kvm` in the JSON).
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct KvmReport {
    /// Whether KVM's stats files could be read.
    pub available: bool,
    /// Why not (e.g. "KVM_GET_STATS_FD: Inappropriate ioctl for device");
    /// null when available.
    pub why: Option<String>,
    /// The whole run: the last sample less the first (counters only).
    pub total: Values,
    /// The kernel's own work with no process current (boot, the end).
    pub kernel: Values,
    /// Intervals between two exits in which the running process changed:
    /// KVM's counters cannot be split between the processes that ran.
    pub mixed: Values,
    /// Owners not in `processes[]` (past the report's caps).
    pub other: Values,
    /// Samples taken: one per return from KVM_RUN.
    pub samples: u64,
    /// Of them, the ones charged to `mixed`.
    pub mixed_samples: u64,
    /// KVM's level statistics at the end (pages_4k, ...): values, not counts.
    pub at_end: BTreeMap<String, u64>,
    /// What each counter shown in the text means on this host's flavour.
    #[serde(skip)]
    pub meanings: Vec<(&'static str, &'static str, &'static str)>,
}

/// The report from the run's counts: `process` gives the processes[]
/// index of a (pid, image), if it has one; the per-process values come
/// back in that index's slot.
pub fn build(
    counts: &KvmCounts,
    flavour: Flavour,
    process: impl Fn(u32, u32) -> Option<usize>,
    nprocs: usize,
) -> (KvmReport, Vec<Option<Values>>) {
    let mut per = vec![None; nprocs];
    let m = match counts {
        KvmCounts::Unavailable(why) => {
            let r = KvmReport {
                why: Some(why.clone()),
                ..KvmReport::default()
            };
            return (r, per);
        }
        KvmCounts::Measured(m) => m,
    };
    let mut other = m.other.clone();
    for (&(pid, image), v) in &m.by {
        match process(pid, image).and_then(|i| per.get_mut(i)) {
            Some(slot) => slot.get_or_insert_with(Values::default).add(v),
            None => other.add(v),
        }
    }
    let meanings = meaning::SHOWN
        .iter()
        .filter_map(|&(scope, name)| Some((scope, name, meaning::meaning(flavour, name)?)))
        .collect();
    let r = KvmReport {
        available: true,
        why: None,
        total: m.total.clone(),
        kernel: m.kernel.clone(),
        mixed: m.mixed.clone(),
        other,
        samples: m.intervals,
        mixed_samples: m.mixed_intervals,
        at_end: m.levels.clone(),
        meanings,
    };
    (r, per)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvmstats::Measured;

    fn vals(exits: u64) -> Values {
        let mut v = Values::default();
        v.vcpu.insert("exits".into(), exits);
        v.vm.insert("remote_tlb_flush".into(), exits / 2);
        v
    }

    #[test]
    fn processes_kernel_mixed_and_other_sum_to_the_totals() {
        let mut by = BTreeMap::new();
        by.insert((1, 0), vals(10));
        by.insert((2, 0), vals(20));
        by.insert((2, 1), vals(6));
        by.insert((99, 0), vals(4)); // not in processes[]
        let m = Measured {
            total: vals(10 + 20 + 6 + 4 + 3 + 5 + 2),
            kernel: vals(3),
            mixed: vals(5),
            other: vals(2),
            by,
            ..Measured::default()
        };
        let index = |pid, image| match (pid, image) {
            (1, 0) => Some(0),
            (2, 0) => Some(1),
            (2, 1) => Some(2),
            _ => None,
        };
        let (r, per) = build(&KvmCounts::Measured(Box::new(m)), Flavour::Pvm, index, 3);
        assert!(r.available);
        let mut sum = r.kernel.clone();
        sum.add(&r.mixed);
        sum.add(&r.other);
        for p in per.iter().flatten() {
            sum.add(p);
        }
        assert_eq!(sum.vcpu, r.total.vcpu);
        assert_eq!(r.other.vcpu["exits"], 6);
        assert_eq!(per[2].as_ref().map(|v| v.vcpu["exits"]), Some(6));
        assert!(r.meanings.iter().any(|m| m.1 == "pf_fixed"));
    }

    #[test]
    fn unavailable_is_said_plainly() {
        let (r, per) = build(
            &KvmCounts::Unavailable("KVM_GET_STATS_FD: Inappropriate ioctl for device".into()),
            Flavour::Pvm,
            |_, _| Some(0),
            1,
        );
        assert!(!r.available);
        assert!(r.why.is_some_and(|w| w.contains("KVM_GET_STATS_FD")));
        assert_eq!(per, vec![None]);
    }
}
