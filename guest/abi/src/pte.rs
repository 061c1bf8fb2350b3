//! The hardware bits of an x86-64 page-table entry, defined once for both
//! sides: the guest kernel writes entries with them (kernel `mm/pte.rs`),
//! the VMM walks the guest's tables with them (`vmm/src/paging/bits.rs`).
//! Software bits (the kernel's COW, SHARED, NONE) are the kernel's own.

/// Bit 0: present, the entry maps something.
pub const P: u64 = 1 << 0;
/// Bit 1: writable.
pub const RW: u64 = 1 << 1;
/// Bit 2: user-accessible.
pub const US: u64 = 1 << 2;
/// Bit 5: accessed.
pub const A: u64 = 1 << 5;
/// Bit 6: dirty (leaf entries).
pub const D: u64 = 1 << 6;
/// Bit 7: page size at PDPT and PD level (a 1 GiB or 2 MiB leaf); PAT at
/// PT level.
pub const PS: u64 = 1 << 7;
/// Bit 63: no-execute, meaningful only with EFER.NXE.
pub const NX: u64 = 1 << 63;
/// Bits 51..12: the next table, or a 4 KiB frame.
pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
/// Bits 51..21: a 2 MiB frame (bit 12 is PAT in such an entry).
pub const ADDR_2M: u64 = 0x000f_ffff_ffe0_0000;
/// Bits 51..30: a 1 GiB frame.
pub const ADDR_1G: u64 = 0x000f_ffff_c000_0000;
