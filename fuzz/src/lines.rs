//! Target `console`: the console's line discipline
//! (`devices/console/lines.rs`) under interleaved writes of the kernel and
//! of three processes.
//!
//! Input: a series of records `who u8 | len u8 | len bytes`; `who % 4` is
//! the writer (0 the kernel, else process 1..3). Two passes:
//! - the bytes as they are, and process 3 named by the first record's
//!   bytes: the output is harmless text, and no line starts as
//!   microvmm's own do;
//! - every byte mapped to a letter or a newline (fixed names): each line
//!   is one writer's, process lines start with their prefix and kernel
//!   lines never with `[`, and each writer's text (newlines aside) comes
//!   out whole and in order; runs of empty lines are one line; each line
//!   out costs two bytes in or one write.

use std::sync::{Arc, Mutex};

use microvmm::devices::console::lines::{Lines, Writer};

use crate::terminal::{Shared, harmless};

/// The records of `data`: (writer, bytes).
fn records(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while let [who, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        out.push((who % 4, &tail[..n]));
        rest = &tail[n..];
    }
    out
}

fn writer(who: u8) -> Writer {
    if who == 0 {
        Writer::Kernel
    } else {
        Writer::Process(u32::from(who))
    }
}

fn run(recs: &[(u8, Vec<u8>)], names: &[String; 4]) -> Vec<u8> {
    let out = Shared(Arc::new(Mutex::new(Vec::new())));
    {
        let mut lines = Lines::new(Box::new(out.clone()), false);
        for (who, bytes) in recs {
            lines.write(writer(*who), &names[usize::from(*who)], bytes);
        }
        lines.flush();
    }
    out.0.lock().map(|v| v.clone()).unwrap_or_default()
}

/// The target.
pub fn console(data: &[u8]) {
    let recs = records(data);
    // Pass 1: raw bytes, a guest-chosen name.
    let evil = recs
        .first()
        .map(|(_, b)| String::from_utf8_lossy(&b[..b.len().min(16)]).into_owned())
        .unwrap_or_default();
    let names = [String::new(), "one".into(), "two".into(), evil];
    let raw: Vec<(u8, Vec<u8>)> = recs.iter().map(|(w, b)| (*w, b.to_vec())).collect();
    let shown = run(&raw, &names);
    assert!(
        harmless(&shown),
        "the line discipline let a control through"
    );
    for line in shown.split(|&b| b == b'\n') {
        assert!(!line.starts_with(b"microvmm:"), "a line passes for ours");
    }

    // Pass 2: letters and newlines only.
    let names = [String::new(), "a".into(), "b".into(), "c".into()];
    let text: Vec<(u8, Vec<u8>)> = recs
        .iter()
        .map(|(w, b)| {
            let t = b
                .iter()
                .map(|&c| if c % 8 == 0 { b'\n' } else { b'a' + c % 26 })
                .collect();
            (*w, t)
        })
        .collect();
    let shown = run(&text, &names);
    let input: usize = text.iter().map(|(_, b)| b.len()).sum();
    // Each line out costs two guest bytes (a character and its newline,
    // or two newlines of a run) or one write (a writer change), and adds
    // at most a prefix (6 bytes here), "(N empty lines)" and a newline.
    let per_line = 6 + 36;
    let bound = input + per_line * (input / 2 + text.len() + 1);
    assert!(shown.len() <= bound, "{} bytes for {input}", shown.len());
    let mut got: [Vec<u8>; 4] = Default::default();
    let body = shown.strip_suffix(b"\n").unwrap_or(&shown);
    let mut previous_blank: Option<u8> = None;
    for line in body.split(|&b| b == b'\n') {
        let (who, rest) = match line {
            [b'[', p @ b'1'..=b'3', b' ', n, b']', b' ', rest @ ..] => {
                let who = p - b'0';
                assert_eq!(
                    *n,
                    b'a' + who - 1,
                    "prefix of pid {who} with another's name"
                );
                (who, rest)
            }
            [b'[', ..] => panic!("a line starting '[' that is no prefix"),
            rest => (0, rest),
        };
        let blank = who != 0 && (rest.is_empty() || rest.starts_with(b"("));
        if blank {
            assert_ne!(
                previous_blank,
                Some(who),
                "two blank-run lines of one process"
            );
            previous_blank = Some(who);
        } else {
            previous_blank = None;
            got[usize::from(who)].extend_from_slice(rest);
        }
    }
    let mut want: [Vec<u8>; 4] = Default::default();
    for (who, b) in &text {
        want[usize::from(*who)].extend(b.iter().filter(|&&c| c != b'\n'));
    }
    assert_eq!(got, want, "a writer's text was lost, reordered or mixed");
}
