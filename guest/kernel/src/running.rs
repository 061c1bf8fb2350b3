//! The running records (abi::layout::Running, one per vCPU at
//! RUNNING_GPA + 16 * cpu): which process each vCPU runs for, kept in guest memory with plain stores, as a seqlock, so that a
//! VMM thread can charge KVM's counters to it while the vCPU runs, at no
//! exit at all. The kernel's own copy names the process trace events
//! belong to.

use abi::layout::{MAX_CPUS, RUNNING_GPA, Running};
use core::sync::atomic::{AtomicU64, Ordering};

use crate::memlayout::{Pa, p2v};
use crate::vmmdev;

/// pid | image << 32 of the process each CPU runs now.
static CURRENT: [AtomicU64; MAX_CPUS as usize] = [const { AtomicU64::new(0) }; MAX_CPUS as usize];

/// The process running now on this CPU (0: the kernel's own work).
pub fn pid() -> u32 {
    CURRENT[crate::smp::cpu()].load(Ordering::Relaxed) as u32
}

/// Process `pid` (0: the kernel itself), image `image`, runs from now on.
/// Returns the previous pid when (pid, image) changed. The record in guest
/// memory is written only under microvmm (under QEMU the page is not ours).
pub fn set(pid: u32, image: u32) -> Option<u32> {
    let now = u64::from(pid) | (u64::from(image) << 32);
    let c = crate::smp::cpu();
    let before = CURRENT[c].swap(now, Ordering::Relaxed);
    if before == now {
        return None;
    }
    if vmmdev::present() {
        let at = RUNNING_GPA + (c * core::mem::size_of::<Running>()) as u64;
        let r: *mut Running = p2v(Pa(at));
        // SAFETY: RUNNING_GPA is a page below RESERVED_END that the VMM
        // keeps for these records (MAX_CPUS of 16 bytes) and that nothing
        // else in the kernel uses; the kernel window maps it, and each is
        // 16-byte aligned. Only this CPU writes its own record (the VMM
        // only reads). Volatile stores keep their
        // order, and x86 makes them visible to the VMM's thread in that
        // order: odd count, the new owner, even count.
        unsafe {
            let seq = core::ptr::addr_of_mut!((*r).switches);
            let owner = core::ptr::addr_of_mut!((*r).pid) as *mut u64;
            let s = core::ptr::read_volatile(seq) | 1;
            core::ptr::write_volatile(seq, s);
            core::ptr::write_volatile(owner, now);
            core::ptr::write_volatile(seq, s.wrapping_add(1));
        }
    }
    Some(before as u32)
}
