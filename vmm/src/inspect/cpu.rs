//! What the analysis needs from a vCPU: its paging mode, its CR3 and
//! KVM_TRANSLATE. A trait, so the analysis runs on synthetic tables in unit
//! tests; `vcpu::LiveCpu` is the real one.

use crate::addr::{Gpa, Gva};
use crate::paging::{Cr3, PagingMode};

/// A vCPU as the analysis sees it, stopped in an exit.
pub trait Cpu {
    /// Its paging mode now, with the CPU's MAXPHYADDR (None if it is not in
    /// 64-bit paging mode or cannot be read).
    fn paging_mode(&self) -> Option<PagingMode>;
    /// CR3 now.
    fn cr3(&self) -> Option<Cr3>;
    /// The hypervisor's own translation of `gva` through the live CR3
    /// (KVM_TRANSLATE); None if it says the address is not mapped.
    fn translate(&self, gva: Gva) -> Option<Gpa>;
}
