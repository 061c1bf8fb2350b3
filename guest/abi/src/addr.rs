//! Guest-virtual and guest-physical addresses as distinct types, so that a
//! guest-virtual address used where a guest-physical one is meant (a kernel
//! `map(pa, va)` with its arguments swapped) does not compile. Both are the
//! guest's view; the VMM has its own Gva/Gpa/Hva/Hpa (vmm/src/addr.rs).

use core::fmt;

/// A guest-virtual address: what a page table translates.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Va(pub u64);

/// A guest-physical address: a frame, a page table, what an entry points at.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Pa(pub u64);

macro_rules! addr {
    ($t:ident) => {
        impl $t {
            pub const fn get(self) -> u64 {
                self.0
            }

            /// `n` bytes further on (the caller knows it does not wrap).
            pub const fn add(self, n: u64) -> $t {
                $t(self.0 + n)
            }

            /// The offset inside its 4 KiB page.
            pub const fn page_offset(self) -> u64 {
                self.0 & 0xfff
            }
        }

        impl fmt::LowerHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}
addr!(Va);
addr!(Pa);
