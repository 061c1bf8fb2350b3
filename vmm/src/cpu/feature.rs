//! The CPU features microvmm can take away from the guest (`--cpu`), where
//! each lives in CPUID, and what else goes with it.
//!
//! A feature is one CPUID bit the guest kernel or its programs act on. Some
//! drag others along: without XSAVE no AVX state can be enabled, without
//! AVX no AVX-512 — as Linux's `cpuid-deps.c` and QEMU's feature
//! dependencies have it. Hiding a feature clears its own bit and every
//! bit in `also`.

use kvm_bindings::kvm_cpuid_entry2;

/// Which register of a CPUID leaf a bit is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// EAX.
    Eax,
    /// EBX.
    Ebx,
    /// ECX.
    Ecx,
    /// EDX.
    Edx,
}

/// One CPUID bit: leaf, subleaf, register, bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bit {
    /// CPUID function (EAX in).
    pub leaf: u32,
    /// CPUID index (ECX in).
    pub sub: u32,
    /// The output register.
    pub reg: Reg,
    /// The bit in it.
    pub bit: u8,
}

const fn bit(leaf: u32, sub: u32, reg: Reg, bit: u8) -> Bit {
    Bit {
        leaf,
        sub,
        reg,
        bit,
    }
}

/// A feature `--cpu` can mask, named as QEMU and /proc/cpuinfo name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// 5-level paging (CR4.LA57).
    La57,
    /// XSAVE/XRSTOR and XCR0 (CR4.OSXSAVE).
    Xsave,
    /// 256-bit AVX registers (XCR0 bit 2).
    Avx,
    /// AVX-512 foundation: zmm0-31 and k0-7 (XCR0 bits 5-7).
    Avx512f,
    /// RDFSBASE/WRFSBASE and friends (CR4.FSGSBASE).
    Fsgsbase,
    /// Process-context identifiers (CR4.PCIDE).
    Pcid,
    /// 1 GiB pages.
    Pdpe1gb,
    /// No-execute pages (EFER.NXE).
    Nx,
}

impl Feature {
    /// Every feature, in the order reports list them.
    pub const ALL: [Feature; 8] = [
        Feature::La57,
        Feature::Xsave,
        Feature::Avx,
        Feature::Avx512f,
        Feature::Fsgsbase,
        Feature::Pcid,
        Feature::Pdpe1gb,
        Feature::Nx,
    ];

    /// Its name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Feature::La57 => "la57",
            Feature::Xsave => "xsave",
            Feature::Avx => "avx",
            Feature::Avx512f => "avx512f",
            Feature::Fsgsbase => "fsgsbase",
            Feature::Pcid => "pcid",
            Feature::Pdpe1gb => "pdpe1gb",
            Feature::Nx => "nx",
        }
    }

    /// The feature named `name` (case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Its own CPUID bit.
    pub fn bit(self) -> Bit {
        match self {
            Feature::La57 => bit(7, 0, Ecx, 16),
            Feature::Xsave => bit(1, 0, Ecx, 26),
            Feature::Avx => bit(1, 0, Ecx, 28),
            Feature::Avx512f => bit(7, 0, Ebx, 16),
            Feature::Fsgsbase => bit(7, 0, Ebx, 0),
            Feature::Pcid => bit(1, 0, Ecx, 17),
            Feature::Pdpe1gb => bit(0x8000_0001, 0, Edx, 26),
            Feature::Nx => bit(0x8000_0001, 0, Edx, 20),
        }
    }

    /// Features that cannot be had without this one.
    pub fn dependents(self) -> &'static [Feature] {
        match self {
            Feature::Xsave => &[Feature::Avx, Feature::Avx512f],
            Feature::Avx => &[Feature::Avx512f],
            _ => &[],
        }
    }

    /// CPUID bits that are not features of their own here but go with
    /// this one (an AVX2 without AVX would lie to the program).
    pub fn also(self) -> &'static [Bit] {
        match self {
            Feature::Xsave => XSAVE_ALSO,
            Feature::Avx => AVX_ALSO,
            Feature::Avx512f => AVX512_ALSO,
            _ => &[],
        }
    }

    /// This feature and everything that depends on it, transitively.
    pub fn with_dependents(self) -> Vec<Feature> {
        let mut out = vec![self];
        let mut i = 0;
        while let Some(&f) = out.get(i) {
            for &d in f.dependents() {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
            i += 1;
        }
        out
    }
}

use Reg::{Eax, Ebx, Ecx, Edx};

/// XSAVEOPT, XSAVEC, XGETBV1, XSAVES; AMX-BF16, AMX-TILE, AMX-INT8.
const XSAVE_ALSO: &[Bit] = &[
    bit(0xd, 1, Eax, 0),
    bit(0xd, 1, Eax, 1),
    bit(0xd, 1, Eax, 2),
    bit(0xd, 1, Eax, 3),
    bit(7, 0, Edx, 22),
    bit(7, 0, Edx, 24),
    bit(7, 0, Edx, 25),
];

/// FMA, F16C, AVX2, VAES, VPCLMULQDQ, AVX-VNNI.
const AVX_ALSO: &[Bit] = &[
    bit(1, 0, Ecx, 12),
    bit(1, 0, Ecx, 29),
    bit(7, 0, Ebx, 5),
    bit(7, 0, Ecx, 9),
    bit(7, 0, Ecx, 10),
    bit(7, 1, Eax, 4),
];

/// The AVX-512 family: DQ, IFMA, PF, ER, CD, BW, VL; VBMI, VBMI2, VNNI,
/// BITALG, VPOPCNTDQ; 4VNNIW, 4FMAPS, VP2INTERSECT, FP16; BF16.
const AVX512_ALSO: &[Bit] = &[
    bit(7, 0, Ebx, 17),
    bit(7, 0, Ebx, 21),
    bit(7, 0, Ebx, 26),
    bit(7, 0, Ebx, 27),
    bit(7, 0, Ebx, 28),
    bit(7, 0, Ebx, 30),
    bit(7, 0, Ebx, 31),
    bit(7, 0, Ecx, 1),
    bit(7, 0, Ecx, 6),
    bit(7, 0, Ecx, 11),
    bit(7, 0, Ecx, 12),
    bit(7, 0, Ecx, 14),
    bit(7, 0, Edx, 2),
    bit(7, 0, Edx, 3),
    bit(7, 0, Edx, 8),
    bit(7, 0, Edx, 23),
    bit(7, 1, Eax, 5),
];

fn reg_mut(e: &mut kvm_cpuid_entry2, r: Reg) -> &mut u32 {
    match r {
        Reg::Eax => &mut e.eax,
        Reg::Ebx => &mut e.ebx,
        Reg::Ecx => &mut e.ecx,
        Reg::Edx => &mut e.edx,
    }
}

fn reg(e: &kvm_cpuid_entry2, r: Reg) -> u32 {
    match r {
        Reg::Eax => e.eax,
        Reg::Ebx => e.ebx,
        Reg::Ecx => e.ecx,
        Reg::Edx => e.edx,
    }
}

/// Is `b` set in this CPUID table? A leaf the table lacks reads as zero.
pub fn has_bit(entries: &[kvm_cpuid_entry2], b: Bit) -> bool {
    entries
        .iter()
        .any(|e| e.function == b.leaf && e.index == b.sub && reg(e, b.reg) & (1 << b.bit) != 0)
}

/// Clear `b` in this CPUID table.
pub fn clear_bit(entries: &mut [kvm_cpuid_entry2], b: Bit) {
    for e in entries
        .iter_mut()
        .filter(|e| e.function == b.leaf && e.index == b.sub)
    {
        *reg_mut(e, b.reg) &= !(1 << b.bit);
    }
}

/// Does this CPUID table offer `f`?
pub fn offers(entries: &[kvm_cpuid_entry2], f: Feature) -> bool {
    has_bit(entries, f.bit())
}

/// Take `f` away: its bit, its dependents' bits and the bits that go with
/// each of them.
pub fn hide(entries: &mut [kvm_cpuid_entry2], f: Feature) {
    for g in f.with_dependents() {
        clear_bit(entries, g.bit());
        for &b in g.also() {
            clear_bit(entries, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(function: u32, index: u32, ebx: u32, ecx: u32, edx: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index,
            ebx,
            ecx,
            edx,
            ..Default::default()
        }
    }

    /// Leaf 1 and 7 as KVM reported them on an AVX-512 host.
    fn table() -> Vec<kvm_cpuid_entry2> {
        vec![
            entry(1, 0, 0, (1 << 26) | (1 << 28) | (1 << 17) | (1 << 12), 0),
            entry(7, 0, (1 << 16) | (1 << 5) | 1 | (1 << 30), 1 << 16, 0),
            entry(0x8000_0001, 0, 0, 0, (1 << 20) | (1 << 26)),
        ]
    }

    #[test]
    fn names_round_trip() {
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
        }
        assert_eq!(Feature::from_name("AVX512F"), Some(Feature::Avx512f));
        assert_eq!(Feature::from_name("sse"), None);
    }

    #[test]
    fn hiding_xsave_takes_avx_and_avx512_along() {
        let mut t = table();
        for f in Feature::ALL {
            assert!(offers(&t, f), "{f:?} offered before");
        }
        hide(&mut t, Feature::Xsave);
        for f in [Feature::Xsave, Feature::Avx, Feature::Avx512f] {
            assert!(!offers(&t, f), "{f:?} hidden");
        }
        // AVX2 and AVX512BW went with them; FSGSBASE, LA57, PCID stayed.
        assert!(!has_bit(&t, bit(7, 0, Ebx, 5)));
        assert!(!has_bit(&t, bit(7, 0, Ebx, 30)));
        for f in [
            Feature::Fsgsbase,
            Feature::La57,
            Feature::Pcid,
            Feature::Nx,
            Feature::Pdpe1gb,
        ] {
            assert!(offers(&t, f), "{f:?} kept");
        }
    }

    #[test]
    fn hiding_avx512f_keeps_avx() {
        let mut t = table();
        hide(&mut t, Feature::Avx512f);
        assert!(!offers(&t, Feature::Avx512f));
        assert!(offers(&t, Feature::Avx));
        assert!(has_bit(&t, bit(7, 0, Ebx, 5)), "AVX2 stays");
    }

    #[test]
    fn a_missing_leaf_reads_as_absent() {
        let t = vec![entry(1, 0, 0, 0, 0)];
        assert!(!offers(&t, Feature::La57));
        let mut t = t;
        hide(&mut t, Feature::La57); // nothing to clear, no panic
    }
}
