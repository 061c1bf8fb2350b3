//! What reaches the user's terminal from the guest. Guest bytes are
//! hostile: a raw ESC can set the window title, erase lines, or make the
//! terminal answer (ESC [6n) into the user's shell. So control characters
//! other than newline and tab are shown escaped (`\x1b`), invalid UTF-8
//! too, unless the user asks for raw bytes (`--raw-console`). So are the
//! C1 controls (U+0080-U+009F: U+009B is a CSI to many terminals) and the
//! characters that reorder or break a line as it is shown (bidi embeddings,
//! overrides and isolates, marks, U+2028/U+2029): guest text must not make
//! a line look like another. A name or a path is one line: in it, newline
//! and tab are shown escaped too.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` changes the order or the lines of the text around it as a
/// terminal shows it: U+061C, U+200E/F, U+2028/9, U+202A-E, U+2066-9.
pub fn reorders(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` must not appear raw even inside a JSON string, which
/// escapes only U+0000-U+001F: the C1 controls and the reordering ones.
pub fn unsafe_in_json(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c) || reorders(c)
}

/// Whether `c` may reach a terminal as itself in running text.
fn harmless(c: char) -> bool {
    c == '\n' || c == '\t' || !(c.is_control() || reorders(c))
}

/// Whether `c` may stand as itself in a one-line field (a name, a path).
fn harmless_in_line(c: char) -> bool {
    !(c.is_control() || reorders(c))
}

/// `bytes` with every control character but newline and tab, and every
/// byte that is not UTF-8, written as `\xNN` (C1 controls as `\u{NN}`).
/// Borrowed when nothing needed escaping.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.is_ascii() && bytes.iter().all(|&b| harmless(char::from(b))) {
        return Cow::Borrowed(bytes);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c, harmless);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out.into_bytes())
}

/// `text`, a one-line field (a process name, a path), with every control
/// character escaped, newline and tab included: one line stays one line.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(harmless_in_line) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_char(&mut out, c, harmless_in_line);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char, harmless: fn(char) -> bool) {
    if harmless(c) {
        out.push(c);
    } else if (c as u32) < 0x80 {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        let evil = b"\x1b]0;pwned\x07title\x1b[6n\r\x9b2J ok\tend\n";
        let got = escape_bytes(evil);
        assert_eq!(
            std::str::from_utf8(&got).expect("utf-8"),
            "\\x1b]0;pwned\\x07title\\x1b[6n\\x0d\\x9b2J ok\tend\n"
        );
        assert!(!got.contains(&0x1b));
    }

    #[test]
    fn plain_text_is_borrowed_and_unicode_kept() {
        assert!(matches!(escape_bytes(b"hello\n"), Cow::Borrowed(_)));
        assert_eq!(
            &*escape_bytes("grüße →\n".as_bytes()),
            "grüße →\n".as_bytes()
        );
        assert_eq!(escape_text("a\u{85}b\u{7f}"), "a\\u{85}b\\x7f");
        assert!(matches!(escape_text("name"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_name_stays_on_its_line() {
        assert_eq!(
            escape_text("x\nmicrovmm: ok \t"),
            "x\\x0amicrovmm: ok \\x09"
        );
        // Running console text keeps its newlines and tabs.
        assert_eq!(&*escape_bytes(b"a\tb\n"), b"a\tb\n");
    }

    #[test]
    fn c1_and_reordering_characters_are_escaped() {
        let evil = "\u{9b}31m \u{202e}gnp.exe\u{202c} \u{2028}\u{2029}\u{200e}\u{200f}\u{61c}\u{2066}\u{2069}";
        let want = "\\u{9b}31m \\u{202e}gnp.exe\\u{202c} \\u{2028}\\u{2029}\\u{200e}\\u{200f}\\u{61c}\\u{2066}\\u{2069}";
        assert_eq!(escape_text(evil), want);
        assert_eq!(&*escape_bytes(evil.as_bytes()), want.as_bytes());
        // Their neighbours are text.
        assert_eq!(
            escape_text("\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}"),
            "\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}"
        );
        for c in ['\u{80}', '\u{9f}', '\u{202a}', '\u{2068}'] {
            assert!(unsafe_in_json(c), "{c:?}");
        }
        assert!(!unsafe_in_json('\u{a0}') && !unsafe_in_json('é'));
    }
}
