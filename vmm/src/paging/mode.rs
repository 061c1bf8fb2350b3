//! Which paging the CPU is doing, from CR0/CR4/EFER: the walker only
//! understands long-mode paging (4-level, or 5-level with LA57).

use std::fmt;

use super::entry::clamp_maxphyaddr;
use crate::addr::Gpa;

const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_LA57: u64 = 1 << 12;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

/// Why the registers do not describe long-mode paging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("paging is off (CR0.PG = 0, cr0 = {cr0:#x})")]
    /// CR0.PG is clear: addresses are physical.
    PagingDisabled {
        /// The CR0 read.
        cr0: u64,
    },
    #[error("32-bit paging without PAE is not supported (CR4.PAE = 0, cr4 = {cr4:#x})")]
    /// 32-bit paging, which the walker does not know.
    NoPae {
        /// The CR4 read.
        cr4: u64,
    },
    #[error("PAE paging outside long mode is not supported (EFER.LMA = 0, efer = {efer:#x})")]
    /// PAE paging in 32-bit mode, which the walker does not know.
    NotLongMode {
        /// The EFER read.
        efer: u64,
    },
    /// CPUID gave a physical address width no x86 CPU has.
    #[error("MAXPHYADDR {0} is outside 12..=52")]
    BadMaxPhyAddr(u8),
}

/// The value of CR3: the root table's guest-physical address, plus flag
/// or PCID bits below bit 12 and above MAXPHYADDR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cr3(pub u64);

impl Cr3 {
    /// The raw register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The root table's address under `mode`.
    pub const fn root(self, mode: PagingMode) -> Gpa {
        Gpa(mode.root_table(self.0))
    }

    /// Whether both select the same root table (flag bits ignored).
    pub const fn same_table(self, other: Cr3) -> bool {
        self.0 & !0xfff == other.0 & !0xfff
    }
}

impl fmt::Display for Cr3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl schemars::JsonSchema for Cr3 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cr3".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::addr::hex_schema()
    }
}

impl serde::Serialize for Cr3 {
    /// A "0x..." string, like every address in the report.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Long-mode paging as one CPU runs it: how many levels, whether bit 63 of
/// an entry is NX or reserved, and how many physical address bits exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagingMode {
    /// CR4.LA57: 5-level paging (57-bit addresses) instead of 4 (48-bit).
    pub la57: bool,
    /// EFER.NXE: bit 63 of an entry is no-execute (else it must be 0).
    pub nxe: bool,
    /// Physical address width; bits from here to 51 must be 0 in entries.
    /// Values outside 12..=52 are clamped by the walker.
    pub maxphyaddr: u8,
}

impl PagingMode {
    /// 4-level paging with NX and a 52-bit physical address width.
    pub const fn four_level() -> Self {
        Self {
            la57: false,
            nxe: true,
            maxphyaddr: 52,
        }
    }

    /// 5-level paging with NX and a 52-bit physical address width.
    pub const fn five_level() -> Self {
        Self {
            la57: true,
            nxe: true,
            maxphyaddr: 52,
        }
    }

    /// Decode the paging mode from the control registers; MAXPHYADDR is 52
    /// until `with_maxphyaddr` says what CPUID reported.
    pub fn from_regs(cr0: u64, cr4: u64, efer: u64) -> Result<Self, ModeError> {
        if cr0 & CR0_PG == 0 {
            return Err(ModeError::PagingDisabled { cr0 });
        }
        if cr4 & CR4_PAE == 0 {
            return Err(ModeError::NoPae { cr4 });
        }
        if efer & EFER_LMA == 0 {
            return Err(ModeError::NotLongMode { efer });
        }
        Ok(Self {
            la57: cr4 & CR4_LA57 != 0,
            nxe: efer & EFER_NXE != 0,
            maxphyaddr: 52,
        })
    }

    /// This mode with another physical address width (CPUID `0x8000_0008 EAX[7:0]`).
    pub fn with_maxphyaddr(self, maxphyaddr: u8) -> Result<Self, ModeError> {
        if !(12..=52).contains(&maxphyaddr) {
            return Err(ModeError::BadMaxPhyAddr(maxphyaddr));
        }
        Ok(Self { maxphyaddr, ..self })
    }

    /// The number of table levels a 4K translation reads (4 or 5).
    #[inline]
    pub const fn levels(self) -> u32 {
        if self.la57 { 5 } else { 4 }
    }

    /// Bits of linear address the tables translate (48 or 57).
    #[inline]
    pub const fn va_bits(self) -> u32 {
        if self.la57 { 57 } else { 48 }
    }

    /// The table level CR3 points to.
    #[inline]
    pub const fn root(self) -> super::LevelName {
        if self.la57 {
            super::LevelName::Pml5
        } else {
            super::LevelName::Pml4
        }
    }

    /// Whether `va` is canonical: bits 63..va_bits-1 all equal.
    #[inline]
    pub const fn is_canonical(self, va: u64) -> bool {
        let unused = 64 - self.va_bits();
        (((va << unused) as i64) >> unused) as u64 == va
    }

    /// The root table's address in `cr3`: bits 11..0 are PWT/PCD or the PCID,
    /// bits 63..MAXPHYADDR are flags (LAM, no-flush) or reserved.
    #[inline]
    pub const fn root_table(self, cr3: u64) -> u64 {
        cr3 & ((1u64 << clamp_maxphyaddr(self.maxphyaddr)) - 1) & !0xfff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR0: u64 = CR0_PG | 1;
    const EFER: u64 = EFER_LMA | 1 << 8;

    #[test]
    fn from_regs_reads_la57_and_nxe() {
        let m = PagingMode::from_regs(CR0, CR4_PAE, EFER).unwrap();
        assert_eq!(
            m,
            PagingMode {
                la57: false,
                nxe: false,
                maxphyaddr: 52
            }
        );
        let m = PagingMode::from_regs(CR0, CR4_PAE | CR4_LA57, EFER | EFER_NXE).unwrap();
        assert_eq!(m, PagingMode::five_level());
        assert_eq!((m.levels(), m.va_bits()), (5, 57));
    }

    #[test]
    fn from_regs_refuses_other_paging() {
        assert_eq!(
            PagingMode::from_regs(1, CR4_PAE, EFER),
            Err(ModeError::PagingDisabled { cr0: 1 })
        );
        assert!(matches!(
            PagingMode::from_regs(CR0, 0, EFER),
            Err(ModeError::NoPae { .. })
        ));
        assert!(matches!(
            PagingMode::from_regs(CR0, CR4_PAE, EFER_NXE),
            Err(ModeError::NotLongMode { .. })
        ));
        let msg = PagingMode::from_regs(1, 0, 0).unwrap_err().to_string();
        assert_eq!(msg, "paging is off (CR0.PG = 0, cr0 = 0x1)");
    }

    #[test]
    fn maxphyaddr_is_checked() {
        let m = PagingMode::four_level();
        assert_eq!(m.with_maxphyaddr(46).map(|m| m.maxphyaddr), Ok(46));
        assert_eq!(m.with_maxphyaddr(53), Err(ModeError::BadMaxPhyAddr(53)));
    }

    #[test]
    fn canonical_depends_on_levels() {
        let four = PagingMode::four_level();
        let five = PagingMode::five_level();
        assert!(four.is_canonical(0x0000_7fff_ffff_ffff));
        assert!(four.is_canonical(0xffff_8000_0000_0000));
        assert!(!four.is_canonical(0x0000_8000_0000_0000));
        assert!(!four.is_canonical(0xff00_0000_0000_0000));
        assert!(five.is_canonical(0x0000_8000_0000_0000));
        assert!(five.is_canonical(0xff00_0000_0000_0000));
        assert!(!five.is_canonical(0x0100_0000_0000_0000));
        assert!(!five.is_canonical(0xfe00_0000_0000_0000));
    }

    #[test]
    fn cr3_flags_pcid_and_high_bits_are_dropped() {
        let m = PagingMode::four_level().with_maxphyaddr(40).unwrap();
        assert_eq!(
            m.root_table(1 << 63 | 1 << 45 | 0x1234_5000 | 0x018),
            0x1234_5000
        );
        assert_eq!(
            PagingMode::four_level().root_table(0x000f_ffff_ffff_ffff),
            ADDR
        );
    }

    const ADDR: u64 = 0x000f_ffff_ffff_f000;
}
