//! What the guest prints reaches the user's terminal as text: escape
//! sequences are shown, not obeyed; guest lines cannot pass for the VMM's;
//! a continued line keeps its prefix; a flood of newlines is not amplified.

use std::fs;
use std::time::Instant;

use crate::common::*;
use crate::scratch;

/// Hole 4: escape sequences in console output and process names never
/// reach the terminal raw; --raw-console lets them through on request.
#[test]
fn escape_sequences_are_shown_not_obeyed() {
    let guest = test_guest("amplify");
    let r = microvmm(&[&guest, "--timeout", "60"], 1);
    assert!(!r.stdout.contains('\u{1b}'), "raw ESC on stdout");
    assert!(!r.stdout.contains('\r'), "raw CR on stdout");
    assert!(
        r.stdout.contains("\\x1b]0;pwned\\x07\\x1b[6n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\\x1b]0;x\\x07\\x1b[H"),
        "the name, escaped"
    );
    let raw = microvmm(&[&guest, "--timeout", "60", "-q", "--raw-console"], 1);
    assert!(raw.stdout.contains("\u{1b}]0;pwned\u{7}"), "{}", raw.stdout);
}

/// Whether `c` would reach a terminal as something other than text: a C1
/// control, or one that reorders or breaks the line.
fn hostile_char(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Issue 16, items 5 and 6: a process named `x\nmicrovmm: ok ` does not
/// split microvmm's failure line into one that starts with `microvmm:`;
/// its C1, bidi and line-separator characters reach neither the terminal
/// nor, raw, the JSON on stdout.
#[test]
fn guest_text_cannot_pass_for_ours() {
    let Some(prog) = build("spoof", Cc::Static) else {
        return;
    };
    let d = scratch("spoof");
    let link = d.join("x\nmicrovmm: ok ");
    std::os::unix::fs::symlink(&prog, &link).expect("symlink");
    let spec = format!("'{}'", link.display());
    let json = microvmm(&["--run", &spec, "--json", "-"], 1);
    let text = microvmm(&["--run", &spec], 1);
    for (what, out) in [
        ("json stdout", &json.stdout),
        ("json stderr", &json.stderr),
        ("text stdout", &text.stdout),
        ("text stderr", &text.stderr),
    ] {
        for line in out.lines() {
            assert!(!line.starts_with("microvmm: ok"), "{what}: {line}");
        }
        assert!(!out.chars().any(hostile_char), "{what}: {out}");
    }
    assert!(
        text.stderr
            .contains("(x\\x0amicrovmm: ok ) exited with status 1"),
        "{}",
        text.stderr
    );
    assert!(text.stdout.contains("spoof: \\u{9b}2J"), "{}", text.stdout);
    assert!(text.stdout.contains("\\u{202e}txt.exe"), "{}", text.stdout);
    let j = json.json();
    let out = j["processes"][0]["output"].as_str().unwrap_or_default();
    assert!(
        out.contains("\u{9b}2J cleared?"),
        "JSON keeps the text: {out}"
    );
    let _ = fs::remove_dir_all(&d);
}

/// Issue 16, item 5: a program writes `x` without a newline, another then
/// prints a line, and the first ends its line with text that reads like
/// microvmm's. Every part of the first program's text goes out on a line
/// of its own with its `[pid name]` prefix (it used to continue, bare,
/// the other program's line: `microvmm: pid 3 was killed`).
#[test]
fn a_continued_line_keeps_its_prefix() {
    let (Some(half), Some(one)) = (build("halfline", Cc::Static), build("oneline", Cc::Static))
    else {
        return;
    };
    let r = microvmm(
        &[
            "--run",
            &half.display().to_string(),
            "--run",
            &one.display().to_string(),
            "-q",
        ],
        0,
    );
    let guest: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("x") || l.contains("oneline: here"))
        .collect();
    let half_lines = lines_of(&r.stdout, "halfline");
    assert_eq!(
        half_lines,
        ["x", "microvmm: pid 3 was killed"],
        "{}",
        r.stdout
    );
    assert_eq!(
        lines_of(&r.stdout, "oneline"),
        ["oneline: here"],
        "{guest:?}"
    );
    for line in r.stdout.lines() {
        assert!(
            !line.starts_with("microvmm:") && !line.starts_with("[guest] microvmm:"),
            "unprefixed: {line}\n{}",
            r.stdout
        );
    }
}

/// Issue 16, item 9: 4 MiB of empty lines from a program named with
/// sixteen escaped bytes went out as 79x as many bytes (a `[pid name] `
/// prefix per newline). A run of empty lines is one line now.
#[test]
fn a_newline_flood_is_not_amplified() {
    let Some(prog) = build("newlines", Cc::Static) else {
        return;
    };
    let d = scratch("newlines");
    // A name that escapes to four characters per byte: the longest prefix.
    let link = d.join("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12");
    std::os::unix::fs::symlink(&prog, &link).expect("symlink");
    let spec = format!("'{}'", link.display());
    let t0 = Instant::now();
    let r = microvmm(&["--run", &spec, "-q", "--timeout", "60"], 0);
    let secs = t0.elapsed().as_secs_f64();
    assert!(r.stdout.contains("newlines: done"), "{}", r.stdout);
    assert!(
        r.stdout.contains("(4194304 empty lines)"),
        "{}",
        &r.stdout[..r.stdout.len().min(2000)]
    );
    assert!(
        r.stdout.len() < 64 << 10,
        "4 MiB of newlines became {} bytes of stdout in {secs:.1} s",
        r.stdout.len()
    );
    let _ = fs::remove_dir_all(&d);
}
