//! Several vCPUs (`--cpus N`): per-CPU state, application-processor
//! start-up, and the big kernel lock.
//!
//! The VMM starts every vCPU in the same 64-bit state at `_start`; an
//! application processor (AP: rdi = `AP_START_MAGIC`, rsi = its index)
//! counts itself in `APS_ONLINE` and waits for `AP_GO` (boot.rs,
//! `ap_start`). vCPU 0 sets it once the machine is up (`start_aps`): its
//! TSS descriptor and TSS.rsp0 are written, and the kernel page table
//! exists. Each AP then runs vCPU 0's boot prefix with its own kernel
//! stack, TSS, syscall entry stub and PVM VIF page, registers with PVM
//! itself, and enters the scheduler through `ap_main`.
//!
//! Per-CPU data is found from the stack: CPU `c`'s kernel stack is the
//! 64 KiB at `kstacks + 64 KiB * c`, so `cpu()` is `(rsp - kstacks) >> 16`
//! (no GS base: HOST-KVM.md says not to use GS in the kernel under PVM).
//!
//! Locking is one big kernel lock (`entry::BKL`), honest and simple: every
//! entry from user mode takes it in the stub before it touches anything
//! shared, and the way back to user mode drops it; a CPU with nothing to
//! run drops it while it waits (`relax`). So kernel code still runs on one
//! CPU at a time, as sync.rs assumes, while user code runs on all of them.

use core::sync::atomic::{AtomicU32, Ordering};

use abi::layout::MAX_CPUS;

use crate::arch::{self, Mode, cpu};
use crate::entry::{BKL, SCHED_GEN};
use crate::memlayout;

/// Application processors that reached `ap_start` (incremented there).
#[unsafe(no_mangle)]
static APS_ONLINE: AtomicU32 = AtomicU32::new(0);
/// 0 until vCPU 0 lets the APs go on: then 2 under PVM, 1 on x86.
#[unsafe(no_mangle)]
static AP_GO: AtomicU32 = AtomicU32::new(0);
/// CPUs running the scheduler.
static CPUS: AtomicU32 = AtomicU32::new(1);

unsafe extern "C" {
    static kstacks: u8;
}

/// Bytes of each CPU's kernel stack.
pub const KSTACK: u64 = 65536;

/// Top of CPU `c`'s kernel stack.
pub fn kstack_top(c: usize) -> u64 {
    &raw const kstacks as u64 + KSTACK * (c as u64 + 1)
}

/// The CPU this code runs on, from its kernel stack.
pub fn cpu() -> usize {
    let rsp: u64;
    // SAFETY: reads the stack pointer.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack)) };
    let c = rsp.wrapping_sub(&raw const kstacks as u64) / KSTACK;
    (c as usize).min(MAX_CPUS as usize - 1)
}

/// CPUs running the scheduler (1 until the APs are started).
pub fn cpus() -> usize {
    CPUS.load(Ordering::Relaxed) as usize
}

/// Let another CPU into the kernel for a moment (a CPU that waits for
/// work, holding nothing of the kernel's: no `&mut` from a `KCell` may be
/// live across this call).
pub fn relax() {
    BKL.store(0, Ordering::Release);
    for _ in 0..64 {
        core::hint::spin_loop();
    }
    lock();
}

/// Wait for work without the lock: until another CPU has left the kernel
/// (`SCHED_GEN` moved: it may have made a process runnable, or stopped
/// running one) or about a millisecond has passed (a sleeper's deadline).
pub fn idle_wait() {
    let seen = SCHED_GEN.load(Ordering::Relaxed);
    BKL.store(0, Ordering::Release);
    let khz = crate::tsc_khz();
    let budget = if khz != 0 { khz } else { 1 << 21 };
    let t0 = cpu::rdtsc();
    while SCHED_GEN.load(Ordering::Relaxed) == seen && cpu::rdtsc().wrapping_sub(t0) < budget {
        core::hint::spin_loop();
    }
    lock();
}

/// Take the big kernel lock (the entry stubs do the same in assembly).
pub fn lock() {
    while BKL.fetch_or(1, Ordering::Acquire) & 1 != 0 {
        while BKL.load(Ordering::Relaxed) & 1 != 0 {
            core::hint::spin_loop();
        }
    }
}

/// Write the TSS of CPU `c` (rsp0 = its stack top; no I/O bitmap) and its
/// descriptor at GDT selector 0x40 + 16 * c (CPU 0's come from boot.rs).
fn write_tss(c: usize) {
    let tss = &raw const memlayout::boot_tss as u64 + 128 * c as u64;
    let gdt = &raw const memlayout::boot_gdt as *mut u64;
    // SAFETY: the TSS page holds MAX_CPUS TSSes 128 bytes apart (104
    // each), the GDT page 8 + 2 * MAX_CPUS descriptors (boot.rs); both
    // are the kernel's, and CPU c has not loaded its TSS yet.
    unsafe {
        core::ptr::write_unaligned((tss + 4) as *mut u64, kstack_top(c));
        core::ptr::write_unaligned((tss + 102) as *mut u16, 104);
        let lo = 0x67 | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
        core::ptr::write_volatile(gdt.add(8 + 2 * c), lo);
        core::ptr::write_volatile(gdt.add(9 + 2 * c), tss >> 32);
    }
}

/// Let the `cpus - 1` APs go on into the scheduler (vCPU 0 holds the big
/// lock: they wait for it), after waiting at most about half a second
/// (2^30 TSC cycles when the TSC's rate is unknown) for them to check in.
/// The CPUs online, this one included.
pub fn start_aps(cpus: u32, tsc_khz: u64) -> u32 {
    let want = cpus.saturating_sub(1).min(MAX_CPUS - 1);
    let budget = if tsc_khz != 0 {
        tsc_khz.saturating_mul(500)
    } else {
        1 << 30
    };
    let t0 = cpu::rdtsc();
    while APS_ONLINE.load(Ordering::Acquire) < want && cpu::rdtsc().wrapping_sub(t0) < budget {
        core::hint::spin_loop();
    }
    let online = APS_ONLINE.load(Ordering::Acquire).min(want);
    for c in 1..=online as usize {
        write_tss(c);
    }
    CPUS.store(online + 1, Ordering::Release);
    let go = if arch::mode() == Mode::Pvm { 2 } else { 1 };
    AP_GO.store(go, Ordering::Release);
    online + 1
}

/// An AP, native and on its own stack: the kernel page table, its LAPIC
/// timer, then the scheduler (under the big lock).
#[unsafe(no_mangle)]
extern "C" fn ap_main(_index: u64) -> ! {
    lock();
    arch::set_cr3(crate::mm::kspace::root().get());
    crate::entry::set_kernel_fx();
    if crate::timer::running() {
        crate::timer::init();
    }
    crate::proc::run()
}
