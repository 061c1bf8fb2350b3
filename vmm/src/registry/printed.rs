//! The `0x...` numbers a process printed: the addresses the report tries
//! to resolve in its address space at exit. The text is the guest's (up to
//! registry::OUTPUT_MAX per process), so both the parse and the lookups
//! are bounded: distinct numbers are found with a hash set, and at most
//! MAX_PRINTED_TRIED of them are returned (each costs a 2D walk when it is
//! printed and one at exit).

use std::collections::HashSet;

use super::{MAX_PRINTED, Registry};
use crate::addr::Gva;
use crate::devices::event::ProcEvent;
use crate::inspect::{self, Cpu, LiveHost};
use crate::observations::{NotMapped, Printed, Seen};

/// Distinct printed numbers looked up per process at most (the first ones
/// printed); registry::MAX_PRINTED of those that are mapped are kept.
pub const MAX_PRINTED_TRIED: usize = 256;

/// The distinct "0x..." numbers in `text`, in the order they first appear
/// (at most 16 hex digits each; longer runs are not addresses), the first
/// MAX_PRINTED_TRIED of them. Linear in `text`.
pub fn printed_addresses(text: &[u8]) -> Vec<Gva> {
    let mut s = Scanner::default();
    let mut out = s.scan(text, false);
    out.extend(s.scan(text, true));
    out
}

/// Finds the printed numbers of a text that grows (a process's output,
/// write by write), so each can be looked up when it was printed: every
/// byte is scanned once, except a trailing word short enough to still
/// become a number (at most `0x` and 16 digits), scanned again when more
/// text comes.
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    /// Where the next scan starts.
    from: usize,
    /// The numbers found so far.
    seen: HashSet<u64>,
}

/// The longest word that is a number: `0x` and 16 digits.
const TOKEN_MAX: usize = 18;

impl Scanner {
    /// Numbers in `text` (which extends the text of earlier calls) not
    /// found before, in order, while fewer than MAX_PRINTED_TRIED were
    /// found in all. Unless `complete`, a word at the very end of `text`
    /// may go on in the next write and is left for the next call.
    pub fn scan(&mut self, text: &[u8], complete: bool) -> Vec<Gva> {
        let mut end = text.len();
        if !complete {
            let word = text
                .iter()
                .rev()
                .take(TOKEN_MAX + 1)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if word <= TOKEN_MAX {
                end -= word;
            }
        }
        let mut out: Vec<Gva> = Vec::new();
        let mut i = self.from.min(end);
        while i + 2 <= end && self.seen.len() < MAX_PRINTED_TRIED {
            let after_word = i == 0 || !text[i - 1].is_ascii_alphanumeric();
            if after_word && text[i] == b'0' && matches!(text[i + 1], b'x' | b'X') {
                let digits = text[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                let stop = i + 2 + digits;
                let ends_word = text.get(stop).is_none_or(|c| !c.is_ascii_alphanumeric());
                if (1..=16).contains(&digits) && ends_word {
                    let hex = std::str::from_utf8(&text[i + 2..stop]).unwrap_or("");
                    if let Ok(v) = u64::from_str_radix(hex, 16)
                        && self.seen.insert(v)
                    {
                        out.push(Gva(v));
                    }
                }
                i = stop.max(i + 1);
            } else {
                i += 1;
            }
        }
        // A number cut by `end` was left whole for the next call.
        self.from = i.min(end).max(self.from);
        out
    }
}

impl Registry<'_> {
    /// An answer for each address `p` printed (`tried`, with its
    /// translation when printed), walked at exit while its CR3 is live:
    /// the first MAX_PRINTED of those in a region or mapped at some point,
    /// then, while there is room, those outside every region; in the order
    /// printed.
    pub(super) fn printed(
        &self,
        cpu: &impl Cpu,
        host: &LiveHost,
        p: &ProcEvent,
        created: &ProcEvent,
        tried: &[(Gva, Option<Seen>)],
    ) -> Vec<Printed> {
        let kind = |e: &ProcEvent, gva| {
            e.region_of(gva)
                .and_then(|i| e.regions.get(i))
                .map(|r| r.kind)
        };
        let mut all = Vec::new();
        for &(gva, seen) in tried {
            let region = kind(p, gva);
            let walk = inspect::walk2d(cpu, self.ram.mem(), host, p.pid, p.cr3, gva, &self.opts);
            let not_mapped = match walk {
                Some(_) => None,
                None => Some(NotMapped::classify(region, seen, kind(created, gva))),
            };
            all.push(Printed {
                gva,
                region,
                walk,
                not_mapped,
            });
        }
        let outside = |a: &Printed| matches!(a.not_mapped, Some(NotMapped::Outside));
        let answered = all.iter().filter(|a| !outside(a)).count();
        let mut room_outside = MAX_PRINTED.saturating_sub(answered);
        let mut room = MAX_PRINTED;
        all.retain(|a| {
            let keep = room > 0 && if outside(a) { room_outside > 0 } else { true };
            if keep {
                room -= 1;
                if outside(a) {
                    room_outside -= 1;
                }
            }
            keep
        });
        all
    }
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

    /// Output arrives write by write, cut anywhere: the numbers found are
    /// those of the whole text, each as soon as its write ends it.
    #[test]
    fn numbers_cut_between_writes_are_found_once_whole() {
        let text: &[u8] =
            b"heap 0x408000\ncut 0x12345\nlong 0xaaaaaaaaaaaaaaaaaaaaaaaa 0x7 x0x9 0x10";
        let whole = printed_addresses(text);
        assert_eq!(
            whole,
            vec![Gva(0x408000), Gva(0x12345), Gva(0x7), Gva(0x10)]
        );
        for step in 1..text.len() {
            let mut s = Scanner::default();
            let mut got = Vec::new();
            let mut n = 0;
            while n < text.len() {
                n = (n + step).min(text.len());
                got.extend(s.scan(&text[..n], false));
            }
            got.extend(s.scan(text, true));
            assert_eq!(got, whole, "{step} bytes a write");
        }
        // A number is found as soon as a separator ends it.
        let mut s = Scanner::default();
        assert_eq!(s.scan(b"at 0x40", false), vec![]);
        assert_eq!(s.scan(b"at 0x4000 ", false), vec![Gva(0x4000)]);
    }
}
