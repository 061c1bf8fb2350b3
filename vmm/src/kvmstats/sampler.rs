//! The thread that samples KVM's counters while the vCPU runs: every
//! PERIOD it reads the guest's running record (abi::layout::Running), both
//! stats files, and the record again; when the record's switch count is
//! even and the same both times, the values read belong to that one
//! process (ledger.rs charges the interval). It adds no VM exit: it reads
//! guest memory and KVM's stats files from another host thread.
//!
//! Why a read between two equal, even counts is exact: the guest stores
//! the odd count, then the new owner, then the even count, and only then
//! runs the new process, so every counter KVM bumps for it is stored
//! after the even count. x86 keeps stores in order for other CPUs and
//! loads in order on ours, so a counter value from after the next switch
//! began cannot be read without the second read of the record seeing that
//! switch's odd count; and every value from before the current owner took
//! over is visible after the first read saw its even count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use abi::layout::{RUNNING_GPA, Running};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{Counters, KvmCounts, Live};

/// How long the sampler sleeps between samples. 50 µs asked is 100-150 µs
/// with Linux's default timer slack: about 1% of a host CPU for two preads
/// (measured: scripts/bench.sh "kvm counters"), and a demo fault costs
/// 15-100 µs, so an interval holding a switch holds a few faults at most.
pub const PERIOD: Duration = Duration::from_micros(50);

/// The running record as the guest wrote it, read with acquire loads;
/// all zero when it cannot be read.
fn seq(mem: &GuestMemoryMmap) -> u64 {
    mem.load::<u64>(GuestAddress(RUNNING_GPA), Ordering::Acquire)
        .unwrap_or(0)
}

/// The (pid, image) the guest's running record names now.
pub fn owner(mem: &GuestMemoryMmap) -> (u32, u32) {
    let w = mem
        .load::<u64>(GuestAddress(RUNNING_GPA + 8), Ordering::Acquire)
        .unwrap_or(0);
    (w as u32, (w >> 32) as u32)
}

/// One sample: Some((record, values read under it)) when the record held
/// still around the read; None when a switch was under way.
fn clean(live: &mut Live, mem: &GuestMemoryMmap, last: bool) -> Option<Running> {
    let before = seq(mem);
    let (pid, image) = owner(mem);
    live.read().ok()?;
    let after = seq(mem);
    // At the end the vCPU is stopped: whatever the record says is final
    // (an odd count there, a run cut mid-switch, makes the last interval
    // mixed, as it should be).
    if !last && (before != after || before & 1 == 1) {
        return None;
    }
    Some(Running {
        switches: after,
        pid,
        image,
    })
}

/// The sampling thread, running until `finish`.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Box<Live>>>,
    unavailable: Option<String>,
}

impl Sampler {
    /// Take the first sample now (before the first KVM_RUN: the run's
    /// zero) and start sampling. `mem` is guest RAM, where the record is.
    pub fn start(counters: Counters, mem: &GuestMemoryMmap) -> Sampler {
        let mut live = match counters {
            Counters::Unavailable(why) => {
                return Sampler {
                    stop: Arc::default(),
                    thread: None,
                    unavailable: Some(why),
                };
            }
            Counters::Live(l) => l,
        };
        let mem = mem.clone();
        let first = Running {
            switches: seq(&mem),
            pid: owner(&mem).0,
            image: owner(&mem).1,
        };
        live.ledger = super::Ledger::new(live.all.clone(), first);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kvm-stats".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    if let Some(r) = clean(&mut live, &mem, false) {
                        live.ledger.sample(&live.all, r);
                    }
                    std::thread::sleep(PERIOD);
                }
                if let Some(r) = clean(&mut live, &mem, true) {
                    live.ledger.sample(&live.all, r);
                }
                live
            });
        match thread {
            Ok(t) => Sampler {
                stop,
                thread: Some(t),
                unavailable: None,
            },
            Err(e) => Sampler {
                stop,
                thread: None,
                unavailable: Some(format!("cannot start the sampling thread: {e}")),
            },
        }
    }

    /// The vCPU has stopped: take the last sample and return the counts.
    pub fn finish(mut self) -> KvmCounts {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(live)) => KvmCounts::Measured(Box::new(live.counts())),
            Some(Err(_)) => KvmCounts::Unavailable("the sampling thread panicked".into()),
            None => KvmCounts::Unavailable(self.unavailable.take().unwrap_or_default()),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        // An early return (an error) must not leave the thread reading.
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
