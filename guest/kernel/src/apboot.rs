//! Starting the application processors under QEMU's PVH boot, where no
//! VMM sets them up: QEMU holds every CPU but the boot one in
//! wait-for-SIPI, so vCPU 0 sends each INIT, SIPI, SIPI through its LAPIC
//! (apic.rs), as the Intel SDM's MP start-up says (10 ms after INIT,
//! 200 us between the SIPIs; the second only if the first did not take).
//!
//! The SIPI starts the AP in real mode at `TRAMPOLINE_PA` (vector =
//! page number), where vCPU 0 copied the trampoline below: real ->
//! protected mode on the kernel's GDT (boot.rs, 0x08 CS32, 0x10 CS64,
//! 0x18 DS) -> long mode on the static `pvh_*` tables (identity 1 GiB and
//! the kernel window, as `pvh_entry32` builds them; LA57 as vCPU 0 chose),
//! then `pvh_ap_entry` (boot.rs) in the kernel window: vCPU 0's CR4 and
//! XCR0, and on into microvmm's AP path (`ap_start`: own stack, TSS,
//! syscall entry, then smp::ap_main: kernel page table, LAPIC timer,
//! scheduler).
//!
//! One AP at a time: vCPU 0 offers CPU index i in `PVH_AP_TICKET`, the AP
//! takes it with an exchange (leaving 0). If no AP took it in time, vCPU 0
//! takes it back the same way and starts no more; an AP that arrives
//! later finds 0 and halts for ever, so no CPU runs with an index the
//! kernel did not set up.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::apic;
use crate::arch::{self, cpu};
use crate::memlayout::{Pa, Va, p2v, v2p};

/// Where the trampoline is copied (SIPI vector 0x08): below 1 MiB, page
/// aligned; bootinfo.rs checks that the PVH memory map calls it RAM. Under
/// PVH nothing else uses it once the boot information has been read.
pub const TRAMPOLINE_PA: u64 = 0x8000;

/// CPU index offered to the next AP (0: none).
#[unsafe(no_mangle)]
static PVH_AP_TICKET: AtomicU32 = AtomicU32::new(0);
/// vCPU 0's CR4 and XCR0 (0: no XSAVE), for each AP to load.
#[unsafe(no_mangle)]
static PVH_AP_CR4: AtomicU64 = AtomicU64::new(0);
#[unsafe(no_mangle)]
static PVH_AP_XCR0: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    static ap_tramp_start: u8;
    static ap_tramp_end: u8;
    static ap_tramp_cr3: u8;
    static ap_tramp_cr4: u8;
    static pvh_pml4: u8;
    static pvh_pml5: u8;
}

global_asm!(
    r#"
    .set AP_TRAMP_PA, {tramp}
    .section .rodata.ap_tramp, "a"
    .balign 16
    .globl ap_tramp_start
ap_tramp_start:
    .code16
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_tramp_gdtr - ap_tramp_start
    mov %cr0, %eax
    or $1, %eax                     /* PE */
    mov %eax, %cr0
    ljmpl $0x08, $AP_TRAMP_PA + (ap_tramp_32 - ap_tramp_start)
    .code32
ap_tramp_32:
    mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov AP_TRAMP_PA + (ap_tramp_cr4 - ap_tramp_start), %eax
    mov %eax, %cr4                  /* PAE, LA57 as vCPU 0 */
    mov AP_TRAMP_PA + (ap_tramp_cr3 - ap_tramp_start), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER: SCE | LME | NXE */
    rdmsr
    or $0x901, %eax
    wrmsr
    mov %cr0, %eax
    and $0xfffffffb, %eax           /* clear EM */
    or $0x80010023, %eax            /* PG | WP | NE | MP | PE */
    mov %eax, %cr0
    ljmp $0x10, $AP_TRAMP_PA + (ap_tramp_64 - ap_tramp_start)
    .code64
ap_tramp_64:
    mov ap_tramp_entry(%rip), %rax
    jmp *%rax
    .balign 8
ap_tramp_gdtr:
    .word 10 * 8 - 1
    .long boot_gdt_pa
    .balign 8
    .globl ap_tramp_cr3
ap_tramp_cr3:
    .long 0
    .globl ap_tramp_cr4
ap_tramp_cr4:
    .long 0
ap_tramp_entry:
    .quad pvh_ap_entry
    .globl ap_tramp_end
ap_tramp_end:
"#,
    tramp = const TRAMPOLINE_PA,
    options(att_syntax)
);

/// Wait up to `us` microseconds (at `khz`) for an AP to take the ticket.
fn taken_within(us: u64, khz: u64) -> bool {
    let budget = khz.saturating_mul(us) / 1000;
    let t0 = cpu::rdtsc();
    loop {
        if PVH_AP_TICKET.load(Ordering::Acquire) == 0 {
            return true;
        }
        if cpu::rdtsc().wrapping_sub(t0) >= budget {
            return false;
        }
        core::hint::spin_loop();
    }
}

fn delay_us(us: u64, khz: u64) {
    let budget = khz.saturating_mul(us) / 1000;
    let t0 = cpu::rdtsc();
    while cpu::rdtsc().wrapping_sub(t0) < budget {
        core::hint::spin_loop();
    }
}

/// Start the APs whose APIC ids are `ids[1..]` (ids[0] is vCPU 0), CPU
/// index = position, one at a time; `khz` is the TSC's rate (0: assume
/// 2 GHz). Returns how many took their index: they are on their way to
/// `ap_start`, where smp::start_aps waits for them.
pub fn wake(ids: &[u32], khz: u64) -> u32 {
    let khz = if khz == 0 { 2_000_000 } else { khz };
    let start = &raw const ap_tramp_start as u64;
    let len = &raw const ap_tramp_end as u64 - start;
    let (cr3, cr4) = if arch::levels() == 5 {
        (v2p(Va(&raw const pvh_pml5 as u64)), 0x1620u32)
    } else {
        (v2p(Va(&raw const pvh_pml4 as u64)), 0x620)
    };
    let at = |sym: u64| p2v::<u32>(Pa(TRAMPOLINE_PA + (sym - start)));
    // SAFETY: the trampoline (well under a page) goes to the RAM page at
    // TRAMPOLINE_PA, which the kernel window maps and nothing uses under
    // PVH (bootinfo.rs checked the memory map); the two words patched
    // are inside the copy.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, p2v(Pa(TRAMPOLINE_PA)), len as usize);
        at(&raw const ap_tramp_cr3 as u64).write_volatile(cr3.get() as u32);
        at(&raw const ap_tramp_cr4 as u64).write_volatile(cr4);
    }
    let cr4 = cpu::read_cr4();
    PVH_AP_CR4.store(cr4, Ordering::Relaxed);
    PVH_AP_XCR0.store(
        if cr4 & (1 << 18) != 0 { xgetbv0() } else { 0 },
        Ordering::Relaxed,
    );
    let sipi = 0x4600 | (TRAMPOLINE_PA >> 12) as u32;
    let mut started = 0;
    for (i, &id) in ids.iter().enumerate().skip(1) {
        PVH_AP_TICKET.store(i as u32, Ordering::Release);
        apic::send(id, 0x4500); // INIT, level assert
        delay_us(10_000, khz);
        apic::send(id, sipi);
        // The second SIPI only if the first did not take: then a whole
        // second (TCG starts a CPU slowly) before giving up on it.
        if !taken_within(200, khz) {
            apic::send(id, sipi);
            if !taken_within(1_000_000, khz) && PVH_AP_TICKET.swap(0, Ordering::AcqRel) == i as u32
            {
                break;
            }
        }
        started += 1;
    }
    started
}

fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: called only with CR4.OSXSAVE on, so xgetbv exists.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}
