//! Negotiation of the vCPU's first state: every optional CR4/EFER/XCR0 bit
//! is tried, not assumed. A CPUID bit from KVM_GET_SUPPORTED_CPUID is not
//! a promise: on an Intel PVM host KVM offers LA57 and then refuses
//! CR4.LA57 (its host kernel runs 4-level paging). What KVM refuses is
//! dropped, and the caller hides it from the guest's CPUID too.

use std::io;

use kvm_bindings::kvm_sregs;

use super::feature::Feature;
use crate::boot::{self, CpuFeatures};

/// XCR0 components: x87 and SSE (always), AVX, and AVX-512's three (opmask,
/// ZMM_Hi256, Hi16_ZMM).
pub const XCR0_X87_SSE: u64 = 0x3;
/// XCR0 bit 2: the upper halves of ymm0-15.
pub const XCR0_AVX: u64 = 1 << 2;
/// XCR0 bits 5-7: k0-7, the upper halves of zmm0-15, zmm16-31.
pub const XCR0_AVX512: u64 = 0xe0;

/// The ioctls a first state is tried with; a fake in the tests refuses
/// chosen bits, as a KVM that cannot give them does.
pub trait InitialState {
    /// KVM_SET_SREGS; Err carries the errno.
    fn set_sregs(&mut self, s: &kvm_sregs) -> Result<(), i32>;
    /// KVM_SET_XCRS with XCR0 = `xcr0`; Err carries the errno.
    fn set_xcr0(&mut self, xcr0: u64) -> Result<(), i32>;
}

/// A feature KVM offered in CPUID and then refused in the state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The feature, as `--cpu` names it.
    pub feature: Feature,
    /// Which ioctl refused which bit, and what it said.
    pub why: String,
}

/// What KVM accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The state bits the guest starts with.
    pub cpu: CpuFeatures,
    /// XCR0 the guest starts with (0 when CR4.OSXSAVE is off).
    pub xcr0: u64,
    /// What was dropped, in the order it was tried.
    pub refused: Vec<Refusal>,
}

/// KVM refused even the state every 64-bit guest needs.
#[derive(Debug, thiserror::Error)]
#[error(
    "KVM_SET_SREGS refused the minimal 64-bit state (CR0 {cr0:#x}, CR4 {cr4:#x}, EFER {efer:#x}): {source}"
)]
pub struct MandatoryRefused {
    /// CR0 tried.
    pub cr0: u64,
    /// CR4 tried.
    pub cr4: u64,
    /// EFER tried.
    pub efer: u64,
    /// What KVM said.
    pub source: io::Error,
}

/// The optional state bits, in the order they are tried, with their names.
const OPTIONAL: [(Feature, &str); 4] = [
    (Feature::La57, "CR4.LA57"),
    (Feature::Fsgsbase, "CR4.FSGSBASE"),
    (Feature::Xsave, "CR4.OSXSAVE"),
    (Feature::Nx, "EFER.NXE"),
];

/// "errno 22, Invalid argument": io::Error's text without its "(os error N)".
/// Is the state bit of `f` on in `c`? Features without one (avx, pcid,
/// ...) are CPUID-only and read false.
fn has(c: &CpuFeatures, f: Feature) -> bool {
    match f {
        Feature::Nx => c.nx,
        Feature::Fsgsbase => c.fsgsbase,
        Feature::La57 => c.la57,
        Feature::Xsave => c.osxsave,
        _ => false,
    }
}

/// Turn the state bit of `f` on or off (no-op for CPUID-only features).
fn set(c: &mut CpuFeatures, f: Feature, on: bool) {
    match f {
        Feature::Nx => c.nx = on,
        Feature::Fsgsbase => c.fsgsbase = on,
        Feature::La57 => c.la57 = on,
        Feature::Xsave => c.osxsave = on,
        _ => {}
    }
}

/// Set `c`'s state; KVM refusing it is the end of negotiation.
fn set_agreed(
    v: &mut impl InitialState,
    base: kvm_sregs,
    c: CpuFeatures,
) -> Result<(), MandatoryRefused> {
    let s = boot::sregs(base, c);
    v.set_sregs(&s).map_err(|e| MandatoryRefused {
        cr0: s.cr0,
        cr4: s.cr4,
        efer: s.efer,
        source: io::Error::from_raw_os_error(e),
    })
}

fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let what = text.split(" (os error").next().unwrap_or(&text);
    format!("errno {errno}, {what}")
}

/// The control-register step: all of `want` in one KVM_SET_SREGS where KVM
/// agrees, else the mandatory base and then each optional feature bit by
/// bit, each refusal noted in `refused`. The agreed sregs are left set.
fn agree_sregs(
    v: &mut impl InitialState,
    base: kvm_sregs,
    want: CpuFeatures,
    refused: &mut Vec<Refusal>,
) -> Result<CpuFeatures, MandatoryRefused> {
    if v.set_sregs(&boot::sregs(base, want)).is_ok() {
        return Ok(want);
    }
    let mut acc = want;
    for (f, _) in OPTIONAL {
        set(&mut acc, f, false);
    }
    set_agreed(v, base, acc)?;
    for (f, bit) in OPTIONAL {
        if !has(&want, f) {
            continue;
        }
        let mut next = acc;
        set(&mut next, f, true);
        match v.set_sregs(&boot::sregs(base, next)) {
            Ok(()) => acc = next,
            Err(e) => refused.push(Refusal {
                feature: f,
                why: format!(
                    "KVM_SET_SREGS refused {bit} ({}), though KVM_GET_SUPPORTED_CPUID offers it",
                    errno_text(e)
                ),
            }),
        }
    }
    // The last try may have been a refusal: leave the agreed state set.
    set_agreed(v, base, acc)?;
    Ok(acc)
}

/// Try `want` (from CPUID and `--cpu`) on the vCPU: all of it first, which
/// is one ioctl where KVM agrees; otherwise bit by bit. Then XCR0, widest
/// first. `base` is the vCPU's current sregs.
pub fn negotiate(
    v: &mut impl InitialState,
    base: kvm_sregs,
    want: CpuFeatures,
    want_xcr0: u64,
) -> Result<Agreed, MandatoryRefused> {
    let mut refused = Vec::new();
    let mut cpu = agree_sregs(v, base, want, &mut refused)?;
    if !cpu.osxsave {
        return Ok(Agreed {
            cpu,
            xcr0: 0,
            refused,
        });
    }
    // Widest first; each step down drops one feature's components.
    let steps = [
        (want_xcr0, None),
        (want_xcr0 & !XCR0_AVX512, Some(Feature::Avx512f)),
        (want_xcr0 & !(XCR0_AVX512 | XCR0_AVX), Some(Feature::Avx)),
    ];
    let mut last_err = 0;
    for (xcr0, drops) in steps {
        if let Some(f) = drops {
            let had = match f {
                Feature::Avx512f => XCR0_AVX512,
                _ => XCR0_AVX,
            };
            if want_xcr0 & had == 0 {
                continue; // never asked for, nothing to drop
            }
            refused.push(Refusal {
                feature: f,
                why: format!(
                    "KVM_SET_XCRS refused XCR0 {:#x} ({})",
                    xcr0 | had,
                    errno_text(last_err)
                ),
            });
        }
        match v.set_xcr0(xcr0) {
            Ok(()) => {
                return Ok(Agreed { cpu, xcr0, refused });
            }
            Err(e) => last_err = e,
        }
    }
    // Not even x87|SSE: no XSAVE for the guest.
    refused.push(Refusal {
        feature: Feature::Xsave,
        why: format!(
            "KVM_SET_XCRS refused XCR0 {:#x} ({})",
            want_xcr0 & XCR0_X87_SSE,
            errno_text(last_err)
        ),
    });
    cpu.osxsave = false;
    set_agreed(v, base, cpu)?;
    Ok(Agreed {
        cpu,
        xcr0: 0,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EINVAL: i32 = 22;

    /// A vCPU that refuses any CR4/EFER bit in its masks and any XCR0 with
    /// a bit in `xcr0_no`, and remembers the last state it accepted.
    #[derive(Default)]
    struct Refusing {
        cr4_no: u64,
        efer_no: u64,
        xcr0_no: u64,
        calls: usize,
        sregs: Option<kvm_sregs>,
        xcr0: Option<u64>,
    }

    impl InitialState for Refusing {
        fn set_sregs(&mut self, s: &kvm_sregs) -> Result<(), i32> {
            self.calls += 1;
            if s.cr4 & self.cr4_no != 0 || s.efer & self.efer_no != 0 {
                return Err(EINVAL);
            }
            self.sregs = Some(*s);
            Ok(())
        }
        fn set_xcr0(&mut self, xcr0: u64) -> Result<(), i32> {
            self.calls += 1;
            if xcr0 & self.xcr0_no != 0 {
                return Err(EINVAL);
            }
            self.xcr0 = Some(xcr0);
            Ok(())
        }
    }

    fn all() -> CpuFeatures {
        CpuFeatures {
            nx: true,
            fsgsbase: true,
            la57: true,
            osxsave: true,
            maxphyaddr: 46,
        }
    }

    const LA57: u64 = 1 << 12;
    const FSGSBASE: u64 = 1 << 16;
    const OSXSAVE: u64 = 1 << 18;

    #[test]
    fn a_kvm_that_agrees_costs_two_ioctls() {
        let mut v = Refusing::default();
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect("agreed");
        assert_eq!(a.cpu, all());
        assert_eq!(a.xcr0, 0xe7);
        assert!(a.refused.is_empty());
        assert_eq!(v.calls, 2);
        let s = v.sregs.expect("set");
        assert_eq!(
            s.cr4 & (LA57 | FSGSBASE | OSXSAVE),
            LA57 | FSGSBASE | OSXSAVE
        );
    }

    #[test]
    fn la57_refused_as_on_intel_pvm() {
        let mut v = Refusing {
            cr4_no: LA57,
            ..Default::default()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect("agreed");
        assert!(!a.cpu.la57);
        assert!(a.cpu.fsgsbase && a.cpu.osxsave && a.cpu.nx);
        assert_eq!(a.refused.len(), 1);
        assert_eq!(a.refused[0].feature, Feature::La57);
        assert!(
            a.refused[0].why.contains("CR4.LA57"),
            "{}",
            a.refused[0].why
        );
        let s = v.sregs.expect("set");
        assert_eq!(s.cr4 & LA57, 0, "the state left set has no LA57");
        assert_eq!(s.cr3, abi::layout::BOOT_PML4_GPA, "4-level tables");
    }

    #[test]
    fn each_refused_bit_is_named_and_the_rest_kept() {
        let mut v = Refusing {
            cr4_no: FSGSBASE | OSXSAVE,
            efer_no: 1 << 11,
            ..Default::default()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect("agreed");
        let names: Vec<_> = a.refused.iter().map(|r| r.feature).collect();
        assert_eq!(names, [Feature::Fsgsbase, Feature::Xsave, Feature::Nx]);
        assert!(a.cpu.la57);
        assert_eq!(a.xcr0, 0, "no XCR0 without OSXSAVE");
        assert_eq!(v.xcr0, None, "KVM_SET_XCRS never tried");
        let s = v.sregs.expect("set");
        assert_eq!(s.efer & (1 << 11), 0);
        assert_ne!(s.cr4 & LA57, 0);
    }

    #[test]
    fn xcr0_steps_down_one_feature_at_a_time() {
        let mut v = Refusing {
            xcr0_no: XCR0_AVX512,
            ..Default::default()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect("agreed");
        assert_eq!(a.xcr0, 0x7);
        assert_eq!(a.refused.len(), 1);
        assert_eq!(a.refused[0].feature, Feature::Avx512f);
        assert!(a.refused[0].why.contains("0xe7"), "{}", a.refused[0].why);

        let mut v = Refusing {
            xcr0_no: XCR0_AVX,
            ..Default::default()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0x7).expect("agreed");
        assert_eq!(a.xcr0, 0x3);
        let names: Vec<_> = a.refused.iter().map(|r| r.feature).collect();
        assert_eq!(names, [Feature::Avx], "avx512f was never asked for");
    }

    #[test]
    fn no_xcr0_at_all_drops_osxsave_again() {
        let mut v = Refusing {
            xcr0_no: 1,
            ..Default::default()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect("agreed");
        assert!(!a.cpu.osxsave);
        assert_eq!(a.xcr0, 0);
        let names: Vec<_> = a.refused.iter().map(|r| r.feature).collect();
        assert_eq!(names, [Feature::Avx512f, Feature::Avx, Feature::Xsave]);
        assert_eq!(v.sregs.expect("set").cr4 & OSXSAVE, 0);
    }

    #[test]
    fn a_refused_minimal_state_is_an_error() {
        let mut v = Refusing {
            cr4_no: 1 << 5, // PAE
            ..Default::default()
        };
        let e = negotiate(&mut v, kvm_sregs::default(), all(), 0xe7).expect_err("refused");
        assert!(e.to_string().contains("minimal 64-bit state"), "{e}");
    }

    #[test]
    fn what_was_not_wanted_is_not_tried() {
        let mut v = Refusing {
            cr4_no: LA57,
            ..Default::default()
        };
        let want = CpuFeatures {
            la57: false,
            ..all()
        };
        let a = negotiate(&mut v, kvm_sregs::default(), want, 0xe7).expect("agreed");
        assert!(a.refused.is_empty(), "{:?}", a.refused);
        assert_eq!(v.calls, 2);
    }
}
