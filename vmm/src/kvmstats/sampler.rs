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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use abi::layout::{RUNNING_GPA, Running};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{Counters, KvmCounts, Live};

/// How long the sampler sleeps between samples by default
/// (`--kvm-sample-us`). Each wake-up arms a host timer, which in a nested
/// host is itself an exit to the outer one: at 200 µs the demo ran
/// 1.08-1.31x the default in different rounds here (2026-12-03, load 7 on
/// 2 cores, scripts/bench.sh section 10); at 1 ms it is within the noise
/// of sampling only at exits. Shorter periods make fewer intervals
/// "mixed" (the demo: 15-33% of its exits at 1 ms, 10-14% at 200 µs).
pub const PERIOD: Duration = Duration::from_micros(1000);

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

type Shared = Arc<Mutex<Box<Live>>>;

fn sample(live: &Shared, mem: &GuestMemoryMmap, stopped: bool) {
    let mut l = live.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(r) = clean(&mut l, mem, stopped) {
        let Live { ledger, all, .. } = &mut **l;
        ledger.sample(all, r);
    }
}

/// Samples taken on the vCPU thread at each return from KVM_RUN: the
/// vCPU is stopped, so the record holds still (free precision at the
/// exits that happen anyway).
#[derive(Clone)]
pub struct AtExit {
    live: Shared,
    mem: GuestMemoryMmap,
}

impl AtExit {
    /// KVM_RUN returned: sample.
    pub fn sample(&self) {
        sample(&self.live, &self.mem, true);
    }
}

/// The sampling thread, running until `finish`.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    live: Option<Shared>,
    thread: Option<JoinHandle<()>>,
    unavailable: Option<String>,
    mem: GuestMemoryMmap,
}

impl Sampler {
    /// Take the first sample now (before the first KVM_RUN: the run's
    /// zero) and start sampling every `period` (never with a zero period:
    /// then only at exits). `mem` is guest RAM, where the record is.
    pub fn start(counters: Counters, mem: &GuestMemoryMmap, period: Duration) -> Sampler {
        let mem = mem.clone();
        let mut live = match counters {
            Counters::Unavailable(why) => {
                return Sampler {
                    stop: Arc::default(),
                    live: None,
                    thread: None,
                    unavailable: Some(why),
                    mem,
                };
            }
            Counters::Live(l) => l,
        };
        let (pid, image) = owner(&mem);
        let first = Running {
            switches: seq(&mem),
            pid,
            image,
        };
        live.ledger = super::Ledger::new(live.all.clone(), first);
        let live: Shared = Arc::new(Mutex::new(live));
        let stop = Arc::new(AtomicBool::new(false));
        let mut s = Sampler {
            stop: stop.clone(),
            live: Some(live.clone()),
            thread: None,
            unavailable: None,
            mem: mem.clone(),
        };
        if period.is_zero() {
            return s;
        }
        let t = std::thread::Builder::new()
            .name("kvm-stats".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    sample(&live, &mem, false);
                    std::thread::sleep(period);
                }
            });
        // Without the thread the exits still sample.
        s.thread = t.ok();
        s
    }

    /// The handle the vCPU thread samples with at each exit; None when the
    /// counters are unavailable.
    pub fn at_exit(&self) -> Option<AtExit> {
        Some(AtExit {
            live: self.live.clone()?,
            mem: self.mem.clone(),
        })
    }

    /// The vCPU has stopped: take the last sample and return the counts.
    pub fn finish(mut self) -> KvmCounts {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        match self.live.take() {
            Some(live) => {
                sample(&live, &self.mem, true);
                let l = live.lock().unwrap_or_else(PoisonError::into_inner);
                KvmCounts::Measured(Box::new(l.counts()))
            }
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
