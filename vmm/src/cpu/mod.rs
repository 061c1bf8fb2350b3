//! The CPU the guest is given: which features KVM offers, which the user
//! takes away (`--cpu`), and which KVM really accepts in the first state.
//!
//! ```text
//! KVM_GET_SUPPORTED_CPUID ──mask (--cpu)──▶ wanted ──negotiate (try each bit)──▶ agreed
//!                                                      └─ refused: hidden from CPUID too
//! ```

pub mod feature;
pub mod mask;
pub mod negotiate;
pub mod xsave;

pub use feature::Feature;
pub use mask::CpuMask;
pub use negotiate::{Agreed, InitialState, Refusal};
