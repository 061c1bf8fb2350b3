//! Charging KVM's counters to the guest's processes, as pure arithmetic.
//!
//! KVM's counters move only while the vCPU runs (one vCPU: the VM-wide
//! ones too, except host work such as an MMU notifier, which lands in
//! whichever interval it happens in). The sampler (sampler.rs) reads them
//! with the guest's running record (abi::layout::Running) held still
//! around the read. The counts of one interval, from one sample to the
//! next, belong to:
//! - the process in the record, when the record's switch count did not
//!   move in the interval: that one process ran throughout (the kernel's
//!   work for it — its faults and system calls — included). This is exact.
//! - "mixed", when it moved: two or more ran, and KVM's counters carry no
//!   time to split them by. Never guessed.
//! - "kernel", when the record says pid 0 throughout: boot, and the end.
//!
//! Every delta goes to exactly one owner, so the owners' sums equal the
//! run's totals (last sample less first), whatever the guest writes.

use std::collections::BTreeMap;

use abi::layout::Running;

/// Most (pid, image) owners kept; a guest that names more has the rest
/// charged to `other` (the record is the guest's, so it is bounded).
pub const MAX_OWNERS: usize = 4096;

/// Who an interval's counts go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// The guest kernel, with no process current.
    Kernel,
    /// One process image (pid, image).
    Process(u32, u32),
    /// More than one ran in the interval.
    Mixed,
}

/// Counts per owner, one value per counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    first: Vec<u64>,
    last: Vec<u64>,
    running: Running,
    /// The kernel's own intervals.
    pub kernel: Vec<u64>,
    /// Intervals in which the running process changed.
    pub mixed: Vec<u64>,
    /// Intervals of owners past MAX_OWNERS.
    pub other: Vec<u64>,
    /// Per process image.
    pub by: BTreeMap<(u32, u32), Vec<u64>>,
    /// Intervals seen, and how many of them were mixed.
    pub intervals: u64,
    /// Intervals charged to `mixed`.
    pub mixed_intervals: u64,
}

fn add(into: &mut [u64], now: &[u64], then: &[u64]) {
    for ((s, n), t) in into.iter_mut().zip(now).zip(then) {
        *s = s.wrapping_add(n.wrapping_sub(*t));
    }
}

impl Ledger {
    /// Start from the counters before the first KVM_RUN and the record then.
    pub fn new(first: Vec<u64>, running: Running) -> Ledger {
        let zero = vec![0; first.len()];
        Ledger {
            last: first.clone(),
            first,
            running,
            kernel: zero.clone(),
            mixed: zero.clone(),
            other: zero,
            ..Ledger::default()
        }
    }

    /// Who the interval that ends with `running` belongs to.
    pub fn owner(before: Running, now: Running) -> Owner {
        if now.switches != before.switches {
            Owner::Mixed
        } else if now.pid == 0 {
            Owner::Kernel
        } else {
            Owner::Process(now.pid, now.image)
        }
    }

    /// A sample `now` taken under `running`: charge the counts since the
    /// last one. A sample of another length (which KVM never gives) is
    /// ignored.
    pub fn sample(&mut self, now: &[u64], running: Running) {
        if now.len() != self.last.len() {
            return;
        }
        self.intervals += 1;
        let owner = Ledger::owner(self.running, running);
        let n = self.last.len();
        let into = match owner {
            Owner::Kernel => &mut self.kernel,
            Owner::Mixed => {
                self.mixed_intervals += 1;
                &mut self.mixed
            }
            Owner::Process(pid, image) => {
                if self.by.len() < MAX_OWNERS || self.by.contains_key(&(pid, image)) {
                    self.by.entry((pid, image)).or_insert_with(|| vec![0; n])
                } else {
                    &mut self.other
                }
            }
        };
        add(into, now, &self.last);
        self.last.copy_from_slice(now);
        self.running = running;
    }

    /// The run's totals: the last sample less the first.
    pub fn totals(&self) -> Vec<u64> {
        self.last
            .iter()
            .zip(&self.first)
            .map(|(l, f)| l.wrapping_sub(*f))
            .collect()
    }

    /// The last values sampled (for the counters that are levels).
    pub fn last(&self) -> &[u64] {
        &self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pid: u32, image: u32, switches: u64) -> Running {
        Running {
            switches,
            pid,
            image,
        }
    }

    fn sum_all(l: &Ledger) -> Vec<u64> {
        let mut s = l.kernel.clone();
        for v in l.by.values().chain([&l.mixed, &l.other]) {
            for (a, b) in s.iter_mut().zip(v) {
                *a = a.wrapping_add(*b);
            }
        }
        s
    }

    #[test]
    fn an_interval_without_a_switch_is_the_process_s() {
        let mut l = Ledger::new(vec![10, 100], run(0, 0, 0));
        l.sample(&[12, 100], run(0, 0, 0)); // boot
        l.sample(&[15, 103], run(3, 0, 1)); // switched to 3 within: mixed
        l.sample(&[20, 110], run(3, 0, 1)); // 3 throughout
        l.sample(&[21, 111], run(3, 1, 2)); // 3 exec'd: mixed
        l.sample(&[25, 111], run(3, 1, 2));
        l.sample(&[26, 112], run(0, 0, 3)); // the last exit: mixed
        l.sample(&[30, 112], run(0, 0, 3)); // the kernel's end
        assert_eq!(l.kernel, vec![2 + 4, 0]);
        assert_eq!(l.by[&(3, 0)], vec![5, 7]);
        assert_eq!(l.by[&(3, 1)], vec![4, 0]);
        assert_eq!(l.mixed, vec![3 + 1 + 1, 3 + 1 + 1]);
        assert_eq!(l.mixed_intervals, 3);
        assert_eq!(l.intervals, 7);
        assert_eq!(l.totals(), vec![20, 12]);
        assert_eq!(sum_all(&l), l.totals());
    }

    #[test]
    fn a_switch_and_back_between_two_samples_is_mixed() {
        // pid 5 -> 6 -> 5 between two samples: the record names 5 again,
        // but its switch count moved by two.
        assert_eq!(Ledger::owner(run(5, 0, 7), run(5, 0, 9)), Owner::Mixed);
        assert_eq!(
            Ledger::owner(run(5, 0, 7), run(5, 0, 7)),
            Owner::Process(5, 0)
        );
    }

    #[test]
    fn owners_past_the_cap_go_to_other_and_sums_still_hold() {
        let mut l = Ledger::new(vec![0], run(0, 0, 0));
        let mut v = 0u64;
        for pid in 1..=(MAX_OWNERS as u32 + 10) {
            v += 1;
            l.sample(&[v], run(pid, 0, pid as u64)); // mixed (a switch)
            v += 2;
            l.sample(&[v], run(pid, 0, pid as u64)); // pid's own
        }
        assert_eq!(l.by.len(), MAX_OWNERS);
        assert_eq!(l.other, vec![20]);
        assert_eq!(sum_all(&l), l.totals());
    }

    #[test]
    fn counters_that_wrap_still_sum_to_the_totals() {
        let mut l = Ledger::new(vec![u64::MAX - 1], run(0, 0, 0));
        l.sample(&[3], run(0, 0, 0));
        assert_eq!(l.kernel, vec![5]);
        assert_eq!(l.totals(), vec![5]);
        // A sample of the wrong length is ignored.
        l.sample(&[1, 2], run(1, 0, 0));
        assert_eq!(l.intervals, 1);
    }
}
