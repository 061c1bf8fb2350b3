//! The boot page tables: VA = GPA (low half) and VA = KERNEL_BASE + GPA
//! for the first 2 GiB of guest RAM, with 2 MiB pages, U set on every entry
//! (PVM requires it of a native kernel); the PML4 at 0x2000 has a copy at
//! 0x3000, the user-PGD slot of PVM's pv_kpti pair, and with LA57 a PML5
//! pair on top.

use abi::layout::{
    BOOT_PD_GPA, BOOT_PDPT_HIGH_GPA, BOOT_PDPT_LOW_GPA, BOOT_PML4_GPA, BOOT_PML5_GPA, KERNEL_BASE,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::BootError;

/// P | RW | U, and PS for 2 MiB leaves.
const TABLE: u64 = abi::pte::P | abi::pte::RW | abi::pte::US;
const LEAF_2M: u64 = TABLE | abi::pte::PS;

/// Write the tables for `ram_size` bytes of guest RAM (a PML5 pair too
/// with `la57`).
pub(super) fn write(mem: &GuestMemoryMmap, ram_size: u64, la57: bool) -> Result<(), BootError> {
    // Up to 2 GiB of 2 MiB pages in two PDs, shared by both halves.
    let gibs = ram_size.div_ceil(1 << 30).clamp(1, 2);
    for g in 0..gibs {
        let pd = BOOT_PD_GPA + 0x1000 * g;
        for i in 0..512u64 {
            let pa = (g << 30) + (i << 21);
            let e = if pa < ram_size { pa | LEAF_2M } else { 0 };
            mem.write_obj(e, GuestAddress(pd + 8 * i))?;
        }
        mem.write_obj(pd | TABLE, GuestAddress(BOOT_PDPT_LOW_GPA + 8 * g))?;
        mem.write_obj(pd | TABLE, GuestAddress(BOOT_PDPT_HIGH_GPA + 8 * (510 + g)))?;
    }
    let high = ((KERNEL_BASE >> 39) & 511) * 8;
    for pml4 in [BOOT_PML4_GPA, BOOT_PML4_GPA + 0x1000] {
        mem.write_obj(BOOT_PDPT_LOW_GPA | TABLE, GuestAddress(pml4))?;
        mem.write_obj(BOOT_PDPT_HIGH_GPA | TABLE, GuestAddress(pml4 + high))?;
    }
    if la57 {
        // Both halves (PML5[0] and PML5[511]) lead to the same PML4.
        for pml5 in [BOOT_PML5_GPA, BOOT_PML5_GPA + 0x1000] {
            mem.write_obj(BOOT_PML4_GPA | TABLE, GuestAddress(pml5))?;
            mem.write_obj(BOOT_PML4_GPA | TABLE, GuestAddress(pml5 + 511 * 8))?;
        }
    }
    Ok(())
}
