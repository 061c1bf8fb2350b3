//! The bits of an x86-64 page-table entry that more than one concept here
//! reads (entries, levels, walkers, the builder), by the names the walker
//! uses: defined once, in `abi::pte`, which the guest kernel's page tables
//! use too.

use abi::pte;

/// Bit 0: the entry maps something.
pub const P_BIT: u64 = pte::P;
/// Bit 7: "page size" at PDPT and PD level (a 1G or 2M leaf); PAT at PT level.
pub const PS_BIT: u64 = pte::PS;
/// Bit 63: no-execute, meaningful only with EFER.NXE.
pub const NX_BIT: u64 = pte::NX;
/// Bits 51..12: the next table, or a 4K frame.
pub const ADDR_MASK: u64 = pte::ADDR;
/// Bits 51..21: a 2M frame.
pub const ADDR_MASK_2M: u64 = pte::ADDR_2M;
/// Bits 51..30: a 1G frame.
pub const ADDR_MASK_1G: u64 = pte::ADDR_1G;
