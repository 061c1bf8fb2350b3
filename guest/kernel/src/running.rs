//! The running record (abi::layout::Running): which process the vCPU runs
//! for, kept in guest memory with plain stores, as a seqlock, so that a
//! VMM thread can charge KVM's counters to it while the vCPU runs, at no
//! exit at all.

use abi::layout::{RUNNING_GPA, Running};

use crate::memlayout::{Pa, p2v};
use crate::vmmdev;

/// Process `pid` (0: the kernel itself), image `image`, runs from now on.
/// A no-op when nothing changed, and without microvmm's device (under QEMU
/// the page is not ours to write).
pub fn set(pid: u32, image: u32) {
    if !vmmdev::present() {
        return;
    }
    let r: *mut Running = p2v(Pa(RUNNING_GPA));
    // SAFETY: RUNNING_GPA is a page below RESERVED_END that the VMM keeps
    // for this record and that nothing else in the kernel uses; the kernel
    // window maps it, and it is 16-byte aligned. One vCPU: no other writer
    // (the VMM only reads). Volatile stores keep their order, and x86 makes
    // them visible to the VMM's thread in that order: odd count, the new
    // owner, even count.
    unsafe {
        let seq = core::ptr::addr_of_mut!((*r).switches);
        let owner = core::ptr::addr_of_mut!((*r).pid) as *mut u64;
        let now = u64::from(pid) | (u64::from(image) << 32);
        if core::ptr::read_volatile(owner) == now {
            return;
        }
        let s = core::ptr::read_volatile(seq) | 1;
        core::ptr::write_volatile(seq, s);
        core::ptr::write_volatile(owner, now);
        core::ptr::write_volatile(seq, s.wrapping_add(1));
    }
}
