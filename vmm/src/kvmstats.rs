//! KVM's own counters for this VM and its vCPU (KVM_GET_STATS_FD), charged
//! to the guest process that was running: the files are opened once before
//! the first KVM_RUN, and a thread reads them (one pread each) while the
//! vCPU runs, with the guest's running record around each read
//! (sampler.rs says why that is exact; ledger.rs does the sums). Where the
//! kernel has no stats fd (before Linux 5.14) the counters are
//! "unavailable", and why.

pub mod file;
pub mod ledger;
pub mod meaning;
pub mod sampler;

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::Serialize;

pub use file::{Kind, StatsError, StatsFile};
pub use ledger::Ledger;
pub use sampler::Sampler;

mod nr {
    #![allow(missing_docs)]
    // _IO(KVMIO, 0xce), include/uapi/linux/kvm.h: kvm-ioctls 0.25 does not wrap it.
    vmm_sys_util::ioctl_io_nr!(KVM_GET_STATS_FD, kvm_bindings::KVMIO, 0xce);
}
use nr::KVM_GET_STATS_FD;

/// Something that can hand out a KVM stats fd: the VM fd, a vCPU fd, or a
/// fake in tests.
pub trait StatsSource {
    /// KVM_GET_STATS_FD on it.
    fn stats_fd(&self) -> Result<OwnedFd, StatsError>;
}

/// KVM_GET_STATS_FD on any KVM fd (it is both a VM and a vCPU ioctl).
fn ioctl_stats_fd(fd: &impl AsRawFd) -> Result<OwnedFd, StatsError> {
    // SAFETY: KVM_GET_STATS_FD takes no argument and only returns a new fd
    // (or -1); `fd` is an open KVM fd for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), KVM_GET_STATS_FD()) };
    if r < 0 {
        return Err(StatsError::Os {
            what: "KVM_GET_STATS_FD",
            why: std::io::Error::last_os_error().to_string(),
        });
    }
    // SAFETY: the ioctl succeeded, so `r` is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

impl StatsSource for kvm_ioctls::VmFd {
    fn stats_fd(&self) -> Result<OwnedFd, StatsError> {
        ioctl_stats_fd(self)
    }
}

impl StatsSource for kvm_ioctls::VcpuFd {
    fn stats_fd(&self) -> Result<OwnedFd, StatsError> {
        ioctl_stats_fd(self)
    }
}

/// Which file a counter comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The VM's (remote_tlb_flush, mmu_*, pages_*).
    Vm,
    /// The vCPU's (exits, pf_*, tlb_flush, ...).
    Vcpu,
}

/// The two files and the ledger their samples go into.
#[derive(Debug)]
pub struct Live {
    vm: StatsFile,
    vcpu: StatsFile,
    /// (scope, name, kind) of each value, VM's first.
    names: Vec<(Scope, String, Kind)>,
    ledger: Ledger,
    scratch: (Vec<u64>, Vec<u64>),
    all: Vec<u64>,
}

/// Why the counters were not read when nothing would show them.
pub const NOT_SHOWN: &str = "not read: -q with no report file shows no counters";

/// KVM's counters for a run: being sampled, or unavailable and why.
#[derive(Debug)]
pub enum Counters {
    /// Both files open.
    Live(Box<Live>),
    /// No stats fd: the reason, in KVM's words.
    Unavailable(String),
}

impl Counters {
    /// Open the VM's and the vCPU's stats files and take the first sample
    /// (call it before the first KVM_RUN, with the running record then).
    pub fn open(vm: &impl StatsSource, vcpu: &impl StatsSource) -> Counters {
        let open = |s: &dyn Fn() -> Result<OwnedFd, StatsError>| s().and_then(StatsFile::open);
        let files = open(&|| vm.stats_fd()).and_then(|v| Ok((v, open(&|| vcpu.stats_fd())?)));
        let (vm, vcpu) = match files {
            Ok(f) => f,
            Err(e) => return Counters::Unavailable(e.to_string()),
        };
        let names = vm
            .stats()
            .iter()
            .map(|s| (Scope::Vm, s))
            .chain(vcpu.stats().iter().map(|s| (Scope::Vcpu, s)))
            .map(|(sc, s)| (sc, s.name.clone(), s.kind))
            .collect();
        let mut live = Live {
            vm,
            vcpu,
            names,
            ledger: Ledger::default(),
            scratch: (Vec::new(), Vec::new()),
            all: Vec::new(),
        };
        match live.read() {
            Ok(()) => {
                live.ledger = Ledger::new(live.all.clone(), Default::default());
                Counters::Live(Box::new(live))
            }
            Err(e) => Counters::Unavailable(e.to_string()),
        }
    }

    /// The counts by owner, as one value (for a run sampled without the
    /// thread: tests).
    pub fn finish(self) -> KvmCounts {
        match self {
            Counters::Unavailable(why) => KvmCounts::Unavailable(why),
            Counters::Live(l) => KvmCounts::Measured(Box::new(l.counts())),
        }
    }
}

impl Live {
    fn read(&mut self) -> Result<(), StatsError> {
        self.vm.read(&mut self.scratch.0)?;
        self.vcpu.read(&mut self.scratch.1)?;
        self.all.clear();
        self.all.extend_from_slice(&self.scratch.0);
        self.all.extend_from_slice(&self.scratch.1);
        Ok(())
    }

    fn counts(&self) -> Measured {
        let pick = |v: &[u64]| -> Values {
            let mut out = Values::default();
            for ((scope, name, kind), &x) in self.names.iter().zip(v) {
                if *kind != Kind::Counter {
                    continue;
                }
                match scope {
                    Scope::Vm => out.vm.insert(name.clone(), x),
                    Scope::Vcpu => out.vcpu.insert(name.clone(), x),
                };
            }
            out
        };
        let mut levels = BTreeMap::new();
        for ((_, name, kind), &x) in self.names.iter().zip(self.ledger.last()) {
            if *kind == Kind::Level {
                levels.insert(name.clone(), x);
            }
        }
        Measured {
            total: pick(&self.ledger.totals()),
            kernel: pick(&self.ledger.kernel),
            mixed: pick(&self.ledger.mixed),
            other: pick(&self.ledger.other),
            by: self.ledger.by.iter().map(|(&k, v)| (k, pick(v))).collect(),
            levels,
            intervals: self.ledger.intervals,
            mixed_intervals: self.ledger.mixed_intervals,
        }
    }
}

/// Counter values by KVM's name, the VM's and the vCPU's apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Values {
    /// From the VM's stats file.
    pub vm: BTreeMap<String, u64>,
    /// From the vCPU's.
    pub vcpu: BTreeMap<String, u64>,
}

impl Values {
    /// Add `o` into these, name by name.
    pub fn add(&mut self, o: &Values) {
        for (mine, theirs) in [(&mut self.vm, &o.vm), (&mut self.vcpu, &o.vcpu)] {
            for (k, v) in theirs {
                let e = mine.entry(k.clone()).or_insert(0);
                *e = e.wrapping_add(*v);
            }
        }
    }

    /// A vCPU counter, 0 when KVM has none by that name.
    pub fn vcpu(&self, name: &str) -> u64 {
        self.vcpu.get(name).copied().unwrap_or(0)
    }
}

/// The counts of a run where the stats files could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// The whole run: the last sample less the first.
    pub total: Values,
    /// The kernel's own work, no process current.
    pub kernel: Values,
    /// Intervals in which the running process changed.
    pub mixed: Values,
    /// Owners past ledger::MAX_OWNERS.
    pub other: Values,
    /// Per process image (pid, image).
    pub by: BTreeMap<(u32, u32), Values>,
    /// Level statistics (pages_4k, ...) at the end of the run.
    pub levels: BTreeMap<String, u64>,
    /// Samples taken (returns from KVM_RUN).
    pub intervals: u64,
    /// Of them, those charged to `mixed`.
    pub mixed_intervals: u64,
}

/// KVM's counters for the run, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvmCounts {
    /// Read and charged.
    Measured(Box<Measured>),
    /// No stats fd, and why.
    Unavailable(String),
}

impl Default for KvmCounts {
    fn default() -> Self {
        KvmCounts::Unavailable("not measured".into())
    }
}

#[cfg(test)]
mod tests;
