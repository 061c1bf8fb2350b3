//! What reaches the user's terminal from the guest. Guest bytes are
//! hostile: a raw ESC can set the window title, erase lines, or make the
//! terminal answer (ESC [6n) into the user's shell. So control characters
//! other than newline and tab are shown escaped (`\x1b`), invalid UTF-8
//! too, unless the user asks for raw bytes (`--raw-console`).

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` may reach a terminal as itself.
fn harmless(c: char) -> bool {
    c == '\n' || c == '\t' || !c.is_control()
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
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out.into_bytes())
}

/// `text` with control characters other than newline and tab escaped.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(harmless) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
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
}
