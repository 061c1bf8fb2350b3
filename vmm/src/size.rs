//! Byte sizes as people write them: `--mem 128M` in, "128 MiB" out.
//!
//! Units are binary (K = 1024) because guest RAM is counted in pages.

/// Why a size string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Nothing was given.
    #[error("empty size: use a number with an optional K, M or G suffix, e.g. 128M")]
    Empty,
    /// The text does not start with digits.
    #[error(
        "invalid size '{0}': it does not start with a number; use a number with an optional K, M or G suffix, e.g. 128M"
    )]
    NotANumber(String),
    /// A suffix other than K, M or G.
    #[error("invalid size '{0}': use a number with an optional K, M or G suffix, e.g. 128M")]
    UnknownSuffix(String),
    /// The number times its unit is 2^64 bytes or more.
    #[error("invalid size '{0}': it does not fit in 64 bits of bytes")]
    Overflow(String),
    /// Zero bytes.
    #[error("invalid size '{0}': a size must be more than zero bytes")]
    Zero(String),
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Parse a byte count: decimal digits, then an optional K, M or G
/// (or KiB, MiB, GiB, any case); no suffix means bytes.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(SizeError::NotANumber(s.to_string()));
    }
    // Only ASCII digits are left, so the one way parse can fail is overflow.
    let number: u64 = digits
        .parse()
        .map_err(|_| SizeError::Overflow(s.to_string()))?;
    // "128 MiB" (what format_size prints) parses back.
    let unit = match suffix.trim_start().to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        _ => return Err(SizeError::UnknownSuffix(s.to_string())),
    };
    let bytes = number
        .checked_mul(unit)
        .ok_or_else(|| SizeError::Overflow(s.to_string()))?;
    if bytes == 0 {
        return Err(SizeError::Zero(s.to_string()));
    }
    Ok(bytes)
}

/// Write a byte count in the largest binary unit that divides it exactly:
/// "128 MiB", "1 GiB", "1536 KiB", "1000 bytes".
pub fn format_size(bytes: u64) -> String {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes != 0 && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    if bytes == 1 {
        "1 byte".to_string()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_suffix() {
        let cases = [
            ("4096", 4096),
            ("4K", 4 * KIB),
            ("4k", 4 * KIB),
            ("4KiB", 4 * KIB),
            ("4kib", 4 * KIB),
            ("128M", 128 * MIB),
            ("128m", 128 * MIB),
            ("128MiB", 128 * MIB),
            ("128 MiB", 128 * MIB),
            (" 2G ", 2 * GIB),
            ("2g", 2 * GIB),
            ("2GiB", 2 * GIB),
            ("1536K", 1536 * KIB),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(parse_size(""), Err(SizeError::Empty));
        assert_eq!(parse_size("   "), Err(SizeError::Empty));
        for text in ["M", "abc", "-1", "+5", ".5G"] {
            assert_eq!(parse_size(text), Err(SizeError::NotANumber(text.into())));
        }
        for text in ["12X", "1.5G", "128MB", "4T", "0x100", "12 K B"] {
            assert_eq!(parse_size(text), Err(SizeError::UnknownSuffix(text.into())));
        }
        for text in [
            "18446744073709551616",
            "17179869184G",
            "99999999999999999999K",
        ] {
            assert_eq!(parse_size(text), Err(SizeError::Overflow(text.into())));
        }
        for text in ["0", "0M", "000G"] {
            assert_eq!(parse_size(text), Err(SizeError::Zero(text.into())));
        }
        // The largest size that fits is accepted.
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("17179869183G"), Ok(17_179_869_183 * GIB));
    }

    #[test]
    fn messages_name_the_input_and_the_accepted_forms() {
        let err = parse_size("12X").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid size '12X': use a number with an optional K, M or G suffix, e.g. 128M"
        );
        assert!(parse_size("0").unwrap_err().to_string().contains("'0'"));
        assert!(
            parse_size("")
                .unwrap_err()
                .to_string()
                .contains("e.g. 128M")
        );
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        assert_eq!(format_size(128 * MIB), "128 MiB");
        assert_eq!(format_size(GIB), "1 GiB");
        assert_eq!(format_size(3 * GIB), "3 GiB");
        assert_eq!(format_size(4 * KIB), "4 KiB");
        assert_eq!(format_size(1536 * KIB), "1536 KiB");
        assert_eq!(format_size(1000), "1000 bytes");
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(u64::MAX), "18446744073709551615 bytes");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(kib in 1u64..(1 << 40)) {
            let bytes = kib * KIB;
            prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
    }
}
