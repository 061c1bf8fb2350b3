//! The kernel's own page table, and the entry area every user PGD maps.
//!
//! Kernel half (top-level entry 511): KERNEL_BASE + pa for all RAM in 2 MiB
//! pages, under 4 or 5 levels as the CPU runs.
//! Under PVM every present entry at every level carries U, or the host's
//! native kernel fetches fault forever (HOST-KVM.md); protection comes from
//! pv_kpti instead: in user mode the host switches to the user PGD at
//! root | 0x1000, whose kernel half maps only the entry area (IDT, GDT, TSS
//! read-only, the top page of the entry stack writable): what the host needs
//! to deliver an exception from user mode, like Linux's cpu_entry_area.

use crate::arch::{self, Mode};
use crate::memlayout::{self, KERNEL_BASE, PAGE, Pa, Va, v2p};
use crate::mm::{frame, pte};
use crate::sync::KCell;

struct Kernel {
    /// Root pair of the kernel's own table.
    root: Pa,
    /// PML4[511] of every kernel PGD.
    kernel_top: u64,
    /// PML4[511] of every user PGD (the entry area), 0 on x86.
    entry_top: u64,
}

/// The kernel page table's roots. Written once by vCPU 0 at boot, before
/// any other CPU runs kernel code; read after that under the big kernel lock.
static KERNEL: KCell<Kernel> = KCell::new(Kernel {
    root: Pa(0),
    kernel_top: 0,
    entry_top: 0,
});

/// The kernel table's roots; every function here takes them once.
fn kernel() -> &'static mut Kernel {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), no
    // re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { KERNEL.get() }
}

/// U on every kernel entry under PVM; none on x86 (U/S protects there).
pub fn kernel_flags() -> u64 {
    match arch::mode() {
        Mode::Pvm => pte::P | pte::W | pte::U,
        Mode::X86 => pte::P | pte::W,
    }
}

/// Build the kernel table for `ram` bytes of RAM, switch to it, and return
/// its root. None if frames run out.
pub fn init(ram: u64) -> Option<Pa> {
    let kf = kernel_flags();
    let root = frame::alloc_pair()?;
    let pdpt = frame::alloc()?;
    let ram = ram.min(memlayout::WINDOW);
    let mut gib = 0;
    while gib * (1 << 30) < ram {
        let pd = frame::alloc()?;
        let mut i = 0;
        while i < 512 && (gib << 30) + (i << 21) < ram {
            let pa = Pa((gib << 30) + (i << 21));
            pte::write(pd, i as usize, pte::entry(pa, kf | pte::PS));
            i += 1;
        }
        pte::write(pdpt, 510 + gib as usize, pte::entry(pd, kf));
        gib += 1;
    }
    // KERNEL_BASE is PML4[511] (and PML5[511] with 5 levels) -> PDPT[510..].
    let kernel_top = if arch::levels() == 5 {
        let pml4 = frame::alloc()?;
        pte::write(pml4, 511, pte::entry(pdpt, kf));
        pte::entry(pml4, kf)
    } else {
        pte::entry(pdpt, kf)
    };
    pte::write(root, 511, kernel_top);
    let k = kernel();
    k.root = root;
    k.kernel_top = kernel_top;
    if arch::mode() == Mode::Pvm {
        k.entry_top = build_entry_area()?;
        pte::write(root.add(PAGE), 511, k.entry_top);
    }
    arch::set_cr3(root.get());
    Some(root)
}

/// The user PGD's kernel half: a PML4[511] entry mapping only the entry area.
fn build_entry_area() -> Option<u64> {
    let scratch = frame::alloc()?;
    let ro = pte::P;
    let pages = {
        [
            (&raw const memlayout::boot_idt as u64, ro),
            (&raw const memlayout::boot_gdt as u64, ro),
            (&raw const memlayout::boot_tss as u64, ro),
        ]
    };
    // The top page of every CPU's kernel stack (smp.rs).
    let stacks = (0..abi::layout::MAX_CPUS as usize)
        .map(|c| (crate::smp::kstack_top(c) - PAGE, pte::P | pte::W));
    for (va, flags) in pages.into_iter().chain(stacks) {
        let va = Va(va);
        let (t, i) = pte::walk(scratch, va, true, pte::P | pte::W, &mut |_, _| {})?;
        pte::write(t, i, pte::entry(v2p(va), flags));
    }
    let top = pte::read(scratch, 511);
    frame::free(scratch);
    Some(top)
}

/// Root of the kernel's own table (the pair base).
pub fn root() -> Pa {
    kernel().root
}

/// Fill the kernel halves of a fresh process root pair.
pub fn share_kernel_half(root: Pa) {
    let k = kernel();
    pte::write(root, 511, k.kernel_top);
    if k.entry_top != 0 {
        pte::write(root.add(PAGE), 511, k.entry_top);
    }
}

/// Whether `va` is a kernel address (upper half).
pub fn is_kernel(va: u64) -> bool {
    va >= KERNEL_BASE
}
