//! A process asks where one of its addresses lives (`Whereis`), and the
//! VMM's answer: the guest walk, the guest-physical and host addresses.

use super::Header;

/// `WhereisAnswer::status`
pub const WHEREIS_OK: u32 = 0;
/// The address is not mapped in the asker's page tables.
pub const WHEREIS_NOT_MAPPED: u32 = 1;
/// No microvmm VMM to ask (the kernel fills this in itself).
pub const WHEREIS_NO_VMM: u32 = 2;
/// The address is outside the asker's address space.
pub const WHEREIS_REFUSED: u32 = 3;

/// `WhereisAnswer::hpa_status`
pub const HPA_OK: u32 = 0;
/// /proc/self/pagemap shows no frame without CAP_SYS_ADMIN.
pub const HPA_NEEDS_CAP: u32 = 1;
/// The host page is not present (never touched, or swapped).
pub const HPA_NOT_PRESENT: u32 = 2;
/// pagemap could not be read at all.
pub const HPA_UNAVAILABLE: u32 = 3;

pub const WALK_MAX: usize = 5;

/// One level of the guest walk: the entry's own address and value.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct WalkStep {
    pub entry_gpa: u64,
    pub entry: u64,
    /// Host-physical address of the entry (0 when `hpa_status` != HPA_OK).
    pub entry_hpa: u64,
}
const _: () = assert!(core::mem::size_of::<WalkStep>() == 24);

/// Where a guest-virtual address lives, as the VMM sees it. This struct is
/// also what the `whereis` system call copies out to the user.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct WhereisAnswer {
    pub status: u32,
    pub hpa_status: u32,
    pub gva: u64,
    pub gpa: u64,
    pub hva: u64,
    pub hpa: u64,
    pub guest_page_size: u64,
    pub host_page_size: u64,
    /// What KVM_TRANSLATE says for the same GVA (u64::MAX if it failed).
    pub kvm_gpa: u64,
    /// Number of valid entries in `walk`, top level first.
    pub levels: u32,
    pub _pad: u32,
    pub walk: [WalkStep; WALK_MAX],
}
const _: () = assert!(core::mem::size_of::<WhereisAnswer>() == 192);

/// A process asks where one of its addresses lives.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Whereis {
    pub hdr: Header,
    pub pid: u32,
    pub _pad: u32,
    /// The page table to walk (the asker's kernel PGD).
    pub cr3: u64,
    pub gva: u64,
    /// Written by the VMM.
    pub answer: WhereisAnswer,
}
const _: () = assert!(core::mem::size_of::<Whereis>() == 232);
