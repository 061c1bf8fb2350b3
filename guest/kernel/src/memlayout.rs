//! Every address the kernel names, in one place (xv6's memlayout.h).
//!
//! ```text
//! kernel virtual                      physical
//! 0xffff_ffff_8000_0000 + pa  <---->  0 .. min(RAM, 2 GiB)   (KERNEL_BASE window)
//!   kernel image at +1 MiB, then free frames
//! user virtual (every process alike; see abi::syscall):
//! 0x0000_7fff_ffff_f000  stack top, growing down
//! 0x0000_0000_0040_0000  code, rodata, data, then the heap growing up
//! ```

pub use abi::layout::KERNEL_BASE;
pub use abi::syscall::{HEAP_MAX, STACK_MAX, USER_BASE, USER_STACK_TOP};
pub use abi::{Pa, Va};

pub const PAGE: u64 = 4096;

/// RAM the kernel can reach through its window (and so can use).
pub const WINDOW: u64 = 2 << 30;

/// First address above the user half (canonical lower half ends here).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// Kernel pointer to physical address `pa` (which must be below WINDOW).
pub fn p2v<T>(pa: Pa) -> *mut T {
    (KERNEL_BASE + pa.get()) as *mut T
}

/// Physical address of a kernel-image or window address.
pub fn v2p(va: Va) -> Pa {
    Pa(va.get() - KERNEL_BASE)
}

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

pub fn page_up(a: u64) -> Option<u64> {
    Some(a.checked_add(PAGE - 1)? & !(PAGE - 1))
}

unsafe extern "C" {
    static kernel_start: u8;
    static kernel_end: u8;
    static kstack_top: u8;
    pub static boot_idt: u8;
    pub static boot_gdt: u8;
    pub static boot_tss: u8;
    pub static boot_vif: u8;
}

/// Physical end of the kernel image (page aligned by link.ld).
pub fn kernel_end_pa() -> u64 {
    v2p(Va(&raw const kernel_end as u64)).get()
}

pub fn kernel_start_va() -> u64 {
    &raw const kernel_start as u64
}

pub fn kstack_top_va() -> u64 {
    &raw const kstack_top as u64
}
