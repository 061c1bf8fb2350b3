//! The CPU: privileged instructions, and the two platforms the kernel runs
//! on. `Mode::X86` is plain x86-64 (VMX/SVM hosts, QEMU); `Mode::Pvm` is
//! PVM-native mode, where the kernel itself runs in hardware ring 3 and
//! asks the host (hypercalls, `int 0x1b`) for what ring 0 would do.

pub mod cpu;
pub mod fsbase;
pub mod pvm;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    X86,
    Pvm,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::X86 => "x86",
            Mode::Pvm => "pvm-native",
        }
    }
}

static PVM: AtomicBool = AtomicBool::new(false);
/// The host writes the page-fault address into the VIF page (PVM flag
/// bit 4, when it kept it).
static CR2_IN_VIF: AtomicBool = AtomicBool::new(false);
static LEVELS: AtomicU32 = AtomicU32::new(4);

/// Paging levels the CPU walks: 5 when CR4.LA57 is on (set before paging
/// was: by the VMM, or by the PVH entry), else 4. Read once at boot.
pub fn levels() -> u32 {
    LEVELS.load(Ordering::Relaxed)
}

pub fn detect_levels() {
    let la57 = cpu::read_cr4() & (1 << 12) != 0;
    LEVELS.store(if la57 { 5 } else { 4 }, Ordering::Relaxed);
}

/// Which platform we booted on (set once by `startup::rust_start`).
pub fn mode() -> Mode {
    if PVM.load(Ordering::Relaxed) {
        Mode::Pvm
    } else {
        Mode::X86
    }
}

pub fn set_mode(m: Mode) {
    PVM.store(m == Mode::Pvm, Ordering::Relaxed);
    if m == Mode::Pvm {
        let kept = pvm::registered_flags() & pvm::FLAG_CR2_IN_VIF != 0;
        CR2_IN_VIF.store(kept, Ordering::Relaxed);
    }
}

/// The address of the page fault being handled: from the VIF page where
/// the PVM host writes it there, else CR2 (whose read, on PVM, is a VM
/// exit and an emulated instruction).
pub fn fault_address() -> u64 {
    if CR2_IN_VIF.load(Ordering::Relaxed) {
        // This CPU's VIF page: one per CPU from boot_vif (smp.rs).
        let vif = (&raw const crate::memlayout::boot_vif as u64 + 4096 * crate::smp::cpu() as u64)
            as *const u64;
        // SAFETY: that is this CPU's 4 KiB VIF page, registered with the
        // host, which writes the fault address at offset 8 before it
        // delivers a #PF; the kernel takes no other fault before this read.
        unsafe { core::ptr::read_volatile(vif.add(1)) }
    } else {
        cpu::read_cr2()
    }
}

/// Load a new page-table root. Under PVM the hypercall is cheaper than a
/// trapped `mov cr3` (≈4.5k vs 7–9k cycles, HOST-KVM.md) and keeps the
/// pv_kpti pairing (user PGD = cr3 | 0x1000).
pub fn set_cr3(cr3: u64) {
    LOADED_CR3[crate::smp::cpu()].store(cr3, Ordering::Relaxed);
    match mode() {
        Mode::Pvm => pvm::hypercall(pvm::HC_SET_CR3, cr3, 0, 0),
        Mode::X86 => cpu::write_cr3(cr3),
    }
}

/// The root each CPU last loaded with `set_cr3`: a flush reloads it from
/// here, because on PVM reading CR3 is a VM exit and an emulated
/// instruction.
static LOADED_CR3: [AtomicU64; abi::layout::MAX_CPUS as usize] =
    [const { AtomicU64::new(0) }; abi::layout::MAX_CPUS as usize];

/// The root this CPU runs on (CR3 itself until `set_cr3` was first called).
pub fn loaded_cr3() -> u64 {
    match LOADED_CR3[crate::smp::cpu()].load(Ordering::Relaxed) {
        0 => cpu::read_cr3(),
        cr3 => cr3,
    }
}

/// Forget every cached translation of the current address space (a CR3
/// reload; under PVM the host also resyncs its shadow table), here and on
/// every other CPU that runs a thread of it (smp.rs: a TLB shootdown
/// before the kernel lock is next dropped).
pub fn flush_tlb_all() {
    local_flush_all();
    crate::smp::note(None, 0);
}

/// Like `flush_tlb_all` for the `npages` pages from `va`: this CPU
/// reloads CR3 (one flush for the lot), others forget those pages.
pub fn flush_tlb_range(va: u64, npages: u64) {
    local_flush_all();
    crate::smp::note(Some(va), npages);
}

/// `flush_tlb_all` on this CPU only (a TLB shootdown's target).
pub fn local_flush_all() {
    let cr3 = loaded_cr3();
    set_cr3(cr3);
    flushed(abi::trace::FLUSH_ALL, cr3, 0);
}

fn flushed(how: u16, cr3: u64, va: u64) {
    use crate::trace;
    let pid = crate::running::pid();
    trace::record(trace::now(), abi::trace::EV_FLUSH, how, pid, cr3, va, 0, 0);
}

/// `flush_page` on this CPU only.
pub fn local_flush_page(va: u64) {
    match mode() {
        Mode::Pvm => local_flush_all(),
        Mode::X86 => {
            cpu::invlpg(va);
            if crate::trace::on() {
                flushed(abi::trace::FLUSH_PAGE, loaded_cr3(), va);
            }
        }
    }
}

/// Forget the cached translation of the page at `va` in the current
/// address space. Under PVM a CR3 reload: a supervisor `invlpg` there
/// traps and returns, but leaves the host's shadow entry stale (measured
/// on 2026-12-02: after a copy-on-write copy, reads through the old entry
/// still saw the old frame in ~half of 256 pages); the CR3 hypercall makes
/// the host resync.
pub fn flush_page(va: u64) {
    local_flush_page(va);
    crate::smp::note(Some(va), 1);
}

static NX: AtomicBool = AtomicBool::new(false);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);

/// EFER.NXE is on, so page-table entries may carry NX. Set once at boot.
pub fn has_nx() -> bool {
    NX.load(Ordering::Relaxed)
}

pub fn set_has_nx(on: bool) {
    NX.store(on, Ordering::Relaxed);
}

/// TSC frequency in kHz (0 when unknown, e.g. under QEMU). Set once at boot.
pub fn tsc_khz() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

pub fn set_tsc_khz(khz: u64) {
    TSC_KHZ.store(khz, Ordering::Relaxed);
}
