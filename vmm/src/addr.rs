//! Distinct types for the four kinds of address microvmm deals in, so a
//! guest-virtual address cannot be passed where a guest-physical one is
//! meant (the mistake behind Hyperlight's issue #1403).
//!
//! GVA --guest page tables--> GPA --memslots--> HVA --host page tables--> HPA

use std::fmt;

/// The base page size of x86-64 (guest and host): 4 KiB.
pub const PAGE: u64 = 4096;

/// The JSON Schema of an address (or register) as the report writes it:
/// a "0x..." string of lower-case hex digits.
pub fn hex_schema() -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^0x[0-9a-f]+$"
    })
}

/// A register value the report writes as "0x..." text (an XCR0): named
/// for its JSON Schema only (`#[schemars(with = "Option<Hex>")]`).
pub struct Hex;

impl schemars::JsonSchema for Hex {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hex".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        hex_schema()
    }
}

macro_rules! address {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw value.
            pub const fn raw(self) -> u64 {
                self.0
            }
            /// This address plus `n`, or `None` on overflow.
            pub fn checked_add(self, n: u64) -> Option<Self> {
                self.0.checked_add(n).map(Self)
            }
            /// The address rounded down to a multiple of `size` (a power of two).
            pub const fn align_down(self, size: u64) -> Self {
                Self(self.0 & !(size - 1))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                hex_schema()
            }
        }

        impl serde::Serialize for $name {
            /// Addresses are JSON strings ("0x7fff..."): kernel addresses do
            /// not fit the 53 bits a JSON number keeps exactly.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&format!("{:#x}", self.0))
            }
        }
    };
}

address!(
    /// Guest-virtual address: what a guest process or the guest kernel uses.
    Gva
);
address!(
    /// Guest-physical address: what the guest's page tables point to.
    Gpa
);
address!(
    /// Host-virtual address: where the VMM process has guest RAM mapped.
    Hva
);
address!(
    /// Host-physical address (on a host that is itself a VM: the outer
    /// VM's guest-physical address).
    Hpa
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_align() {
        assert_eq!(Gva(0x40_1234).align_down(0x1000), Gva(0x40_1000));
        assert_eq!(Gpa(0x1f).to_string(), "0x1f");
        assert_eq!(Hva(u64::MAX).checked_add(1), None);
        assert_eq!(
            serde_json::to_string(&Hpa(0xffff_ffff_8000_0000)).ok(),
            Some("\"0xffffffff80000000\"".to_string())
        );
    }
}
