//! The `0x...` numbers a process printed: the addresses the report tries
//! to resolve in its address space at exit. The text is the guest's (up to
//! registry::OUTPUT_MAX per process), so both the parse and the lookups
//! are bounded: distinct numbers are found with a hash set, and at most
//! MAX_PRINTED_TRIED of them are returned (each costs a 2D walk).

use std::collections::HashSet;

use crate::addr::Gva;

/// Distinct printed numbers looked up per process at most (the first ones
/// printed); registry::MAX_PRINTED of those that are mapped are kept.
pub const MAX_PRINTED_TRIED: usize = 256;

/// The distinct "0x..." numbers in `text`, in the order they first appear
/// (at most 16 hex digits each; longer runs are not addresses), the first
/// MAX_PRINTED_TRIED of them. Linear in `text`.
pub fn printed_addresses(text: &[u8]) -> Vec<Gva> {
    let mut out: Vec<Gva> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut i = 0;
    while i + 2 <= text.len() && out.len() < MAX_PRINTED_TRIED {
        let after_word = i == 0 || !text[i - 1].is_ascii_alphanumeric();
        if after_word && text[i] == b'0' && matches!(text[i + 1], b'x' | b'X') {
            let digits = text[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let end = i + 2 + digits;
            let ends_word = text.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
            if (1..=16).contains(&digits) && ends_word {
                let hex = std::str::from_utf8(&text[i + 2..end]).unwrap_or("");
                if let Ok(v) = u64::from_str_radix(hex, 16)
                    && seen.insert(v)
                {
                    out.push(Gva(v));
                }
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_addresses_are_found_once_each_in_order() {
        let text = b"location of code  : 0x4014f0\nheap 0x4c52a0, again 0x4014f0\n\
            not 0x, nor x0x12, nor 0x12345678901234567, nor 0x12g; (0x7ffd0a10)\n";
        assert_eq!(
            printed_addresses(text),
            vec![Gva(0x4014f0), Gva(0x4c52a0), Gva(0x7ffd_0a10)]
        );
        assert_eq!(printed_addresses(b""), vec![]);
        assert_eq!(printed_addresses(b"0x"), vec![]);
        assert_eq!(printed_addresses(b"0xFFFF"), vec![Gva(0xffff)]);
    }

    /// 4 MiB of distinct tokens (issue 16: the quadratic de-duplication
    /// took seconds): the first MAX_PRINTED_TRIED, quickly.
    #[test]
    fn a_flood_of_numbers_is_capped_and_repeats_are_one() {
        let mut text = Vec::new();
        let mut n = 0u64;
        while text.len() < 4 << 20 {
            text.extend_from_slice(format!("0x{:x} ", 0x1000_0000 + n).as_bytes());
            n += 1;
        }
        let got = printed_addresses(&text);
        assert_eq!(got.len(), MAX_PRINTED_TRIED);
        assert_eq!(got[1], Gva(0x1000_0001));
        // Repeats are no work either: the same number 4 MiB long.
        let same = b"0x1 ".repeat(1 << 20);
        assert_eq!(printed_addresses(&same), vec![Gva(1)]);
    }
}
