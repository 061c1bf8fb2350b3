//! Several vCPUs (`--cpus N`): what the kernel does with the ones it did
//! not boot on. The VMM starts every vCPU in the same 64-bit state at
//! `_start`; an application processor (rdi = `AP_START_MAGIC`) checks in
//! here by counting itself and parks in HLT with interrupts off (boot.rs,
//! `ap_start`). The scheduler, the entry stubs, the kernel stack, the TSS
//! and PVM's VIF page are still single-CPU (sync.rs), so no AP runs kernel
//! Rust code or user processes yet: `--cpus N` shows the VMM's side (one
//! host thread per vCPU, per-vCPU exits and run time) and that the APs
//! came up, not parallel execution.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::cpu;

/// Application processors that reached `ap_start` (incremented there).
#[unsafe(no_mangle)]
static APS_ONLINE: AtomicU32 = AtomicU32::new(0);

/// Wait (bounded: about half a second, or 2^30 TSC cycles when the TSC's
/// rate is unknown) until the `cpus - 1` application processors have
/// checked in; the vCPUs online, this one included.
pub fn wait_for_aps(cpus: u32, tsc_khz: u64) -> u32 {
    let want = cpus.saturating_sub(1);
    let budget = if tsc_khz != 0 {
        tsc_khz.saturating_mul(500)
    } else {
        1 << 30
    };
    let t0 = cpu::rdtsc();
    while APS_ONLINE.load(Ordering::Acquire) < want && cpu::rdtsc().wrapping_sub(t0) < budget {
        core::hint::spin_loop();
    }
    APS_ONLINE.load(Ordering::Acquire).min(want) + 1
}
