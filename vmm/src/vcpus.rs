//! `--cpus N`: N vCPUs, one host thread each. vCPU 0 (the bootstrap
//! processor) runs on the calling thread, which owns the `--timeout`
//! watchdog and answers SIGINT/SIGTERM; each application processor gets a
//! scoped thread with those signals blocked. Every AP starts in vCPU 0's
//! negotiated 64-bit state (CPUID, sregs, XCR0) at the same entry, with
//! rdi = `AP_START_MAGIC` and rsi = its index, made runnable directly
//! (KVM_SET_MP_STATE) rather than by INIT/SIPI.
//!
//! The first vCPU to stop ends the run: it records its `Stop`, raises the
//! `ending` flag and kicks the others out of KVM_RUN with the watchdog's
//! signal, again every millisecond until each has left its loop (a kick
//! that lands just before KVM_RUN is entered is not lost). An AP that halts
//! with no in-kernel irqchip to wake it (HLT reaches the VMM) waits for the
//! end of the run instead of ending it. The exit handler is shared under a
//! mutex; the report is the same one value as with one vCPU.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kvm_bindings::{KVM_MAX_CPUID_ENTRIES, KVM_MP_STATE_RUNNABLE, kvm_mp_state};
use kvm_ioctls::{VcpuFd, VmFd};

use crate::addr::Gva;
use crate::vcpu::{ExitHandler, Stop, VcpuError, VcpuStats, run_until};
use crate::watchdog::Watchdog;

/// Fewest and most vCPUs (`--cpus`).
pub const MIN_CPUS: u32 = 1;
/// The guest kernel's limit (abi::layout::MAX_CPUS).
pub const MAX_CPUS: u32 = abi::layout::MAX_CPUS;

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VcpuError {
    move |source| VcpuError::Kvm { what, source }
}

/// Give a CPUID the APIC id of vCPU `id` (leaf 1 EBX[31:24], leaves 0xB
/// and 0x1F EDX): the in-kernel LAPIC's id is the vCPU index.
pub fn set_apic_id(entries: &mut [kvm_bindings::kvm_cpuid_entry2], id: u32) {
    for e in entries {
        match e.function {
            1 => e.ebx = (e.ebx & 0x00ff_ffff) | ((id & 0xff) << 24),
            0xb | 0x1f => e.edx = id,
            _ => {}
        }
    }
}

/// Create application processor `id` (1 and up) in `bsp`'s state, before
/// `bsp` has run: its CPUID (with its own APIC id), sregs, XCR0 when the
/// BSP has one (`xcr0` nonzero), at `entry` with rdi = `AP_START_MAGIC`.
pub fn create_ap(
    vm: &VmFd,
    bsp: &VcpuFd,
    id: u32,
    entry: Gva,
    xcr0: u64,
) -> Result<VcpuFd, VcpuError> {
    let ap = vm
        .create_vcpu(u64::from(id))
        .map_err(kvm("KVM_CREATE_VCPU"))?;
    let mut cpuid = bsp
        .get_cpuid2(KVM_MAX_CPUID_ENTRIES)
        .map_err(kvm("KVM_GET_CPUID2"))?;
    set_apic_id(cpuid.as_mut_slice(), id);
    ap.set_cpuid2(&cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
    let sregs = bsp.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    ap.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))?;
    if xcr0 != 0 {
        let x = bsp.get_xcrs().map_err(kvm("KVM_GET_XCRS"))?;
        ap.set_xcrs(&x).map_err(kvm("KVM_SET_XCRS"))?;
    }
    let mut regs = ap.get_regs().map_err(kvm("KVM_GET_REGS"))?;
    regs.rip = entry.raw();
    regs.rflags = 0x2;
    regs.rdi = abi::layout::AP_START_MAGIC;
    regs.rsi = u64::from(id);
    ap.set_regs(&regs).map_err(kvm("KVM_SET_REGS"))?;
    // With an in-kernel LAPIC an AP starts waiting for INIT/SIPI.
    ap.set_mp_state(kvm_mp_state {
        mp_state: KVM_MP_STATE_RUNNABLE,
    })
    .map_err(kvm("KVM_SET_MP_STATE"))?;
    Ok(ap)
}

/// The exit handler, shared by the vCPU threads.
struct Shared<'m, 'h, H>(&'m Mutex<&'h mut H>);

impl<H: ExitHandler> ExitHandler for Shared<'_, '_, H> {
    fn io_out(&mut self, vcpu: &VcpuFd, port: u16, data: &[u8]) -> Option<Stop> {
        // A thread that panicked holding the lock has ended the run anyway.
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        h.io_out(vcpu, port, data)
    }

    fn io_in(&mut self, port: u16, data: &mut [u8]) {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        h.io_in(port, data)
    }
}

/// What the vCPU threads share.
struct Gang {
    ending: AtomicBool,
    first: Mutex<Option<Stop>>,
    /// Each vCPU's thread (pthread_self), by index, once it has started.
    threads: Mutex<Vec<Option<libc::pthread_t>>>,
    /// vCPUs whose loop has returned.
    left: AtomicUsize,
}

impl Gang {
    /// Note `stop` if it is the first, and end the run.
    fn end(&self, stop: Option<Stop>) {
        if let Some(stop) = stop {
            let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert(stop);
        }
        self.ending.store(true, Ordering::Release);
    }

    /// Kick every other vCPU thread until all `n` loops have returned.
    fn kick_until_all_left(&self, me: usize, n: usize) {
        while self.left.load(Ordering::Acquire) < n {
            let threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
            for (i, t) in threads.iter().enumerate() {
                if let (true, Some(t)) = (i != me, t) {
                    // SAFETY: `t` is a thread of this scope, not yet joined
                    // (the scope joins only after every loop has
                    // returned); the signal's handler does nothing.
                    unsafe { libc::pthread_kill(*t, crate::watchdog::kick_signal()) };
                }
            }
            drop(threads);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn register(&self, i: usize) {
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = threads.get_mut(i) {
            // SAFETY: pthread_self has no preconditions.
            *slot = Some(unsafe { libc::pthread_self() });
        }
    }
}

/// Run vCPU 0 on this thread (with `dog`) and each of `aps` on its own,
/// until the first stops; the stop, and every vCPU's stats by index.
pub fn run<H: ExitHandler + Send>(
    bsp: &mut VcpuFd,
    aps: &mut [VcpuFd],
    h: &mut H,
    dog: &Watchdog,
) -> Result<(Stop, Vec<VcpuStats>), VcpuError> {
    let n = aps.len() + 1;
    let mut stats = vec![VcpuStats::default(); n];
    if aps.is_empty() {
        let never = AtomicBool::new(false);
        let stop = run_until(bsp, h, Some(dog), &never, &mut stats[0])?;
        // Nothing else can end the run, so the loop returned a stop.
        return Ok((stop.unwrap_or(Stop::Shutdown(0)), stats));
    }
    let gang = Gang {
        ending: AtomicBool::new(false),
        first: Mutex::new(None),
        threads: Mutex::new(vec![None; n]),
        left: AtomicUsize::new(0),
    };
    let shared = Mutex::new(h);
    let (bsp_stats, ap_stats) = stats.split_at_mut(1);
    let result = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(aps.len());
        for (k, (ap, st)) in aps.iter_mut().zip(ap_stats.iter_mut()).enumerate() {
            let (gang, shared) = (&gang, &shared);
            handles.push(s.spawn(move || -> Result<(), VcpuError> {
                crate::interrupt::block_on_this_thread();
                gang.register(k + 1);
                let mut h = Shared(shared);
                let r = loop {
                    match run_until(ap, &mut h, None, &gang.ending, st) {
                        // Halted with nothing to wake it: park until the end.
                        Ok(Some(Stop::Halted(_))) => {
                            while !gang.ending.load(Ordering::Acquire) {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        Ok(stop) => break Ok(stop),
                        Err(e) => break Err(e),
                    }
                };
                // Whoever stops first kicks the rest; an error ends the run too.
                let first = !matches!(r, Ok(None));
                gang.end(r.as_ref().ok().and_then(Clone::clone));
                gang.left.fetch_add(1, Ordering::AcqRel);
                if first {
                    gang.kick_until_all_left(k + 1, n);
                }
                r.map(|_| ())
            }));
        }
        gang.register(0);
        let mut h = Shared(&shared);
        let r = run_until(bsp, &mut h, Some(dog), &gang.ending, &mut bsp_stats[0]);
        gang.end(r.as_ref().ok().and_then(|s| s.clone()));
        gang.left.fetch_add(1, Ordering::AcqRel);
        gang.kick_until_all_left(0, n);
        let mut ap_err = None;
        for t in handles {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => ap_err = ap_err.or(Some(e)),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        r.and_then(|_| ap_err.map_or(Ok(()), Err))
    });
    result?;
    let stop = gang
        .first
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(Stop::Shutdown(0));
    Ok((stop, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apic_id_goes_where_cpuid_reports_it() {
        let mut e = [
            kvm_bindings::kvm_cpuid_entry2 {
                function: 1,
                ebx: 0x0012_3456,
                ..Default::default()
            },
            kvm_bindings::kvm_cpuid_entry2 {
                function: 0xb,
                index: 1,
                edx: 0,
                ..Default::default()
            },
            kvm_bindings::kvm_cpuid_entry2 {
                function: 2,
                edx: 9,
                ..Default::default()
            },
        ];
        set_apic_id(&mut e, 3);
        assert_eq!(e[0].ebx, 0x0312_3456);
        assert_eq!(e[1].edx, 3);
        assert_eq!(e[2].edx, 9);
    }
}
