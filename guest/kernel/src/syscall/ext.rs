//! microvmm's own system calls (numbers from 1000): where is this address
//! (asked of the VMM), demand-paging counts, and a pattern for the VMM to
//! read back.

use abi::msg::{
    REGION_HEAP, REGION_STACK, WHEREIS_NO_VMM, WHEREIS_NOT_MAPPED, WHEREIS_REFUSED, Whereis,
    WhereisAnswer,
};
use abi::syscall::{EFAULT, Stats};

use super::{current, put};
use crate::memlayout::Va;
use crate::mm::pte;
use crate::vmmdev;

/// Ask the VMM where `gva` lives; copy its answer to `out`.
pub fn whereis(gva: u64, out: u64) -> i64 {
    let p = current();
    let pid = p.tgid;
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    let size = core::mem::size_of::<WhereisAnswer>() as u64;
    if !a.check(out, size) {
        return EFAULT;
    }
    let mut ans = WhereisAnswer {
        gva,
        ..Default::default()
    };
    if a.region_of(gva).is_none() {
        ans.status = WHEREIS_REFUSED;
    } else {
        let mut m = Whereis {
            pid,
            cr3: a.root.get(),
            gva,
            ..Default::default()
        };
        match vmmdev::send(&mut m) {
            Some(_) => ans = m.answer,
            None => {
                // No VMM to ask: the kernel can still say the GPA itself.
                let gva = Va(gva);
                match pte::lookup(a.root, gva) {
                    Some(e) => {
                        ans.status = WHEREIS_NO_VMM;
                        ans.gpa = pte::addr(e).add(gva.page_offset()).get();
                        ans.guest_page_size = if pte::huge_entry(a.root, gva).is_some() {
                            crate::mm::frame::HUGE
                        } else {
                            4096
                        };
                    }
                    None => ans.status = WHEREIS_NOT_MAPPED,
                }
            }
        }
    }
    put(a, out, &ans)
}

pub fn stats(out: u64) -> i64 {
    let Some(a) = current().aspace.as_mut() else {
        return EFAULT;
    };
    let s = Stats {
        heap_faults: a.kind_faults(REGION_HEAP),
        stack_faults: a.kind_faults(REGION_STACK),
        pages_resident: a.resident,
        tsc_khz: crate::arch::tsc_khz(),
    };
    put(a, out, &s)
}

/// Store `value` at user `gva` and remember both for the exit report, so the
/// VMM can read the value back through the GPA and HVA it computes.
pub fn pattern(gva: u64, value: u64) -> i64 {
    let p = current();
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    if !gva.is_multiple_of(8) || !a.copy_out(gva, &value.to_le_bytes()) {
        return EFAULT;
    }
    p.pattern_gva = gva;
    p.pattern = value;
    0
}

/// `n` exits to the VMM (an `out` to its null port) back to back; the TSC
/// cycles they took. Capped, so one call cannot hold the CPU for long.
pub fn exitloop(n: u64) -> i64 {
    if n > 100_000 {
        return abi::syscall::EINVAL;
    }
    let t = crate::arch::cpu::rdtsc();
    for _ in 0..n {
        crate::arch::cpu::outb(abi::PORT_NULL, 0);
    }
    (crate::arch::cpu::rdtsc() - t) as i64
}
