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
//! run drops it while it waits (`relax`, `idle_wait`: halted, idle.rs). So kernel code still runs on one
//! CPU at a time, as sync.rs assumes, while user code runs on all of them.

use core::sync::atomic::{AtomicU32, Ordering};

use abi::layout::MAX_CPUS;

use crate::arch::{self, Mode, cpu};
use crate::entry::{BKL, SCHED_GEN};
use crate::memlayout;
use crate::sync::KCell;

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
    crate::proc::flush_remote();
    BKL.store(0, Ordering::Release);
    for _ in 0..64 {
        core::hint::spin_loop();
    }
    lock();
}

/// Wait for work without the lock. With `halt` (nothing is due within a
/// timer tick) and the LAPIC timer running, halt until an interrupt: the
/// tick, or an IPI from a CPU that gave this one work (idle.rs). Else
/// spin until another CPU has left the kernel (`SCHED_GEN` moved: it may
/// have made a process runnable, or stopped running one) or about a
/// millisecond has passed (a sleeper's deadline).
pub fn idle_wait(halt: bool) {
    crate::proc::flush_remote();
    if halt && crate::timer::running() {
        crate::idle::halt();
        lock();
        return;
    }
    let seen = SCHED_GEN.load(Ordering::Relaxed);
    BKL.store(0, Ordering::Release);
    let khz = crate::arch::tsc_khz();
    let budget = if khz != 0 { khz } else { 1 << 21 };
    let t0 = cpu::rdtsc();
    while SCHED_GEN.load(Ordering::Relaxed) == seen && cpu::rdtsc().wrapping_sub(t0) < budget {
        core::hint::spin_loop();
    }
    lock();
}

/// Take the big kernel lock (the entry stubs do the same in assembly,
/// and then call `gate` first thing).
pub fn lock() {
    raw_lock();
    gate();
}

fn raw_lock() {
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

// ---- IPIs and TLB shootdowns ------------------------------------------------

/// The vector of every IPI: the entry it causes does the work (`gate`
/// flushes a pending shootdown; `proc::enter` gives up a thread whose
/// group another CPU gathers).
pub const IPI_VECTOR: u8 = 0x21;
/// Pages a shootdown flushes one by one (INVLPG on x86); beyond this, or
/// for a whole-space flush, the target reloads CR3.
pub const FLUSH_CEILING: usize = 8;
const NOBODY: u32 = u32::MAX;

/// Send the IPI to CPU `c` (x2APIC ICR, MSR 0x830: fixed delivery,
/// physical destination = the in-kernel LAPIC's id, the vCPU index).
pub fn ipi(c: usize) {
    cpu::wrmsr(0x830, ((c as u64) << 32) | IPI_VECTOR as u64);
}

/// What a CPU must forget: every page of the space, or these pages.
#[derive(Clone, Copy)]
struct Flush {
    /// The thread group whose address space it is (0: nothing to do).
    tgid: u32,
    full: bool,
    n: usize,
    pages: [u64; FLUSH_CEILING],
}

impl Flush {
    const NONE: Flush = Flush {
        tgid: 0,
        full: false,
        n: 0,
        pages: [0; FLUSH_CEILING],
    };

    fn add(&mut self, va: Option<u64>, npages: u64) {
        match va {
            Some(va) if !self.full && self.n + npages as usize <= FLUSH_CEILING => {
                for k in 0..npages {
                    self.pages[self.n] = va + 4096 * k;
                    self.n += 1;
                }
            }
            _ => self.full = true,
        }
    }
}

/// Per CPU: the thread group whose thread it runs (0: none); what its
/// current kernel entry changed in that group's address space and other
/// CPUs must forget (`BATCH`), and what another CPU asked it to forget
/// (`ASKED`, with `ASKED_FLAG` while it has not yet).
static RUN_TGID: [AtomicU32; MAX_CPUS as usize] = [const { AtomicU32::new(0) }; MAX_CPUS as usize];
/// `BATCH` and `ASKED` are protected by the big kernel lock; slot `c` of
/// `BATCH` is written only by CPU `c`.
static BATCH: KCell<[Flush; MAX_CPUS as usize]> = KCell::new([Flush::NONE; MAX_CPUS as usize]);
static ASKED: KCell<[Flush; MAX_CPUS as usize]> = KCell::new([Flush::NONE; MAX_CPUS as usize]);
static ASKED_FLAG: [AtomicU32; MAX_CPUS as usize] =
    [const { AtomicU32::new(0) }; MAX_CPUS as usize];
/// Per CPU: reload CR3 at the next process switch-in (lazily: it ran no
/// thread of a group that changed a mapping, but may still hold entries
/// of it from before: under PVM a switch back to a cached root need not
/// flush, as with PCIDs on Linux).
static STALE: [AtomicU32; MAX_CPUS as usize] = [const { AtomicU32::new(0) }; MAX_CPUS as usize];

/// Whether this CPU must flush after loading a process's CR3 (and forget
/// that it must).
pub fn take_stale() -> bool {
    STALE[cpu()].swap(0, Ordering::Relaxed) != 0
}

/// The CPU waiting for its shootdown to be done, or NOBODY.
static SHOOTER: AtomicU32 = AtomicU32::new(NOBODY);

/// This CPU now runs a thread of group `tgid` (0: none).
pub fn set_running(tgid: u32) {
    RUN_TGID[cpu()].store(tgid, Ordering::Relaxed);
}

/// Note that this CPU changed `npages` pages from `va` (None: possibly
/// any page) of the running group's address space in a way other CPUs
/// must not keep cached (removed or downgraded): `flush_remote` makes
/// them forget before the lock is next dropped.
pub fn note(va: Option<u64>, npages: u64) {
    if cpus() == 1 {
        return;
    }
    let me = cpu();
    let tgid = RUN_TGID[me].load(Ordering::Relaxed);
    if tgid == 0 {
        return;
    }
    // SAFETY: this CPU's slot, under the lock (sync.rs discipline).
    let b = unsafe { &mut BATCH.get()[me] };
    if b.tgid != tgid {
        *b = Flush::NONE;
        b.tgid = tgid;
    }
    b.add(va, npages);
}

/// What one shootdown cost, for the process's counters.
#[derive(Clone, Copy, Default)]
pub struct Shot {
    /// IPIs sent.
    pub ipis: u32,
    /// Pages each target was asked to forget one by one (0: full flushes).
    pub pages: u32,
    /// TSC cycles from the first IPI until every target had flushed.
    pub cycles: u64,
}

/// Make every other CPU that runs a thread of the group this CPU's entry
/// changed forget what changed: an IPI each, then wait (letting the
/// targets into the kernel: each flushes in `gate` first thing) until all
/// have. No frame the change freed can be reused meanwhile: every other
/// CPU waits in `gate` until the shootdown is over. Called with the lock
/// held, before it is dropped.
pub fn flush_remote() -> Option<(u32, Shot)> {
    let me = cpu();
    // SAFETY: this CPU's slot, under the lock.
    let b = unsafe { core::mem::replace(&mut BATCH.get()[me], Flush::NONE) };
    if b.tgid == 0 || (!b.full && b.n == 0) {
        return None;
    }
    let mut shot = Shot::default();
    let t0 = cpu::rdtsc();
    SHOOTER.store(me as u32, Ordering::Relaxed);
    for c in 0..cpus() {
        if c != me && RUN_TGID[c].load(Ordering::Relaxed) != b.tgid {
            STALE[c].store(1, Ordering::Relaxed);
        }
        if c != me && RUN_TGID[c].load(Ordering::Relaxed) == b.tgid {
            // SAFETY: under the lock; the target reads it under the lock.
            unsafe { ASKED.get()[c] = b };
            ASKED_FLAG[c].store(1, Ordering::Release);
            ipi(c);
            shot.ipis += 1;
            shot.pages += if b.full { 0 } else { b.n as u32 };
        }
    }
    while (0..cpus()).any(|c| ASKED_FLAG[c].load(Ordering::Acquire) != 0) {
        BKL.store(0, Ordering::Release);
        for _ in 0..16 {
            core::hint::spin_loop();
        }
        raw_lock();
    }
    SHOOTER.store(NOBODY, Ordering::Release);
    shot.cycles = cpu::rdtsc().wrapping_sub(t0);
    (shot.ipis > 0).then_some((b.tgid, shot))
}

/// First thing after taking the lock: forget what another CPU asked this
/// one to, and while another CPU's shootdown is not over, let it finish
/// (a frame it freed must not be reused before every CPU has forgotten
/// it).
pub fn gate() {
    loop {
        let me = cpu();
        if ASKED_FLAG[me].load(Ordering::Acquire) != 0 {
            // SAFETY: this CPU's slot, under the lock.
            let a = unsafe { ASKED.get()[me] };
            if a.full {
                arch::local_flush_all();
            } else {
                for &va in &a.pages[..a.n] {
                    arch::local_flush_page(va);
                }
            }
            ASKED_FLAG[me].store(0, Ordering::Release);
        }
        let s = SHOOTER.load(Ordering::Acquire);
        if s == NOBODY || s == me as u32 {
            return;
        }
        BKL.store(0, Ordering::Release);
        for _ in 0..16 {
            core::hint::spin_loop();
        }
        raw_lock();
    }
}
