//! `whereis` answers: the 2D walk of the address a process asked about,
//! from its own table to the host, kept for the report (with `--walk`'s
//! walks, the first MAX_RECORDS) and checked against KVM_TRANSLATE.

use super::{MAX_RECORDS, Registry};
use crate::devices::event::WhereisRequest;
use crate::inspect::{self, Cpu, LiveHost, Walk2d};
use crate::observations::RunError;

impl Registry<'_> {
    /// Answer `whereis`: walk the asker's table and follow the GPA to the
    /// host. None if the address is not mapped.
    pub fn whereis(&mut self, cpu: &impl Cpu, q: &WhereisRequest) -> Option<Walk2d> {
        let host = LiveHost::new(self.ram, self.pagemap);
        let w = inspect::walk2d(cpu, self.ram.mem(), &host, q.pid, q.cr3, q.gva, &self.opts)?;
        self.record(w.clone());
        Some(w)
    }

    /// Keep a 2D walk for the report (the first MAX_RECORDS), and flag it if
    /// KVM_TRANSLATE disagrees with the software walk.
    pub(super) fn record(&mut self, w: Walk2d) {
        if let Some(kvm) = w.kvm.filter(|_| w.disagrees()) {
            self.error(RunError::WhereisMismatch {
                gva: w.gva,
                software: w.gpa,
                kvm,
            });
        }
        if self.whereis.len() < MAX_RECORDS {
            self.whereis.push(w);
        }
    }
}
