//! The report as JSON (schema: docs/report.schema.json; docs/report.md).
//!
//! JSON itself escapes only U+0000-U+001F in strings, so serde_json would
//! write guest text with C1 controls (U+009B is a CSI to many terminals)
//! and bidi or line-separator characters raw, and `--json -` would hand
//! them to the terminal. The formatter here writes those as `\u009b`:
//! the same JSON value, harmless bytes.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter, Serializer};

use super::model::Report;
use crate::terminal::unsafe_in_json;

/// Write pretty-printed JSON and a newline to `w`, streaming (a `--pages`
/// report of a 1 GiB guest is ~80 MB).
pub fn write(r: &Report, w: impl Write) -> io::Result<()> {
    to_writer(r, w)
}

/// Any value as `write` writes a report.
fn to_writer<T: Serialize + ?Sized>(value: &T, w: impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    let mut ser = Serializer::with_formatter(&mut w, Escaping(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// serde_json's pretty formatter, with C1 controls and reordering
/// characters escaped inside strings.
struct Escaping<'a>(PrettyFormatter<'a>);

impl Formatter for Escaping<'_> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if unsafe_in_json(c) {
                w.write_all(&s.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&s.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        to_writer(v, &mut out).expect("write");
        String::from_utf8(out).expect("UTF-8")
    }

    /// The keys fork and exec add, as integration tests read them.
    #[test]
    fn fork_and_exec_keys() {
        use crate::addr::{Gpa, Gva};
        use crate::report::model::*;
        let r = Report {
            processes: vec![ProcessReport {
                pid: 3,
                ppid: 2,
                image: 1,
                shared_pages: Some(5),
                sharing: Some(SharingReport {
                    with: vec![PeerShare {
                        pid: 2,
                        name: "sh".into(),
                        pages: 5,
                    }],
                    frames: vec![(Gpa(0x25_0000), 5)],
                    frames_total: 1,
                    complete: true,
                    why: None,
                }),
                exit: ExitReport {
                    kind: ExitKind::Exec,
                    ..Default::default()
                },
                regions: vec![RegionReport {
                    kind: crate::devices::event::RegionKind::File,
                    start: Gva(0x7000_0000),
                    end: Gva(0x7000_8000),
                    prot: "rw-".parse().expect("rwx"),
                    pages_mapped: 8,
                    faults: 8,
                    cow_faults: 3,
                    file: Some("/tmp/m\u{9b}".into()),
                    shared_pages: Some(5),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        write(&r, &mut out).expect("JSON");
        let j: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        let p = &j["processes"][0];
        assert_eq!(
            (p["pid"].clone(), p["ppid"].clone(), p["image"].clone()),
            (3.into(), 2.into(), 1.into())
        );
        assert_eq!(p["exit"]["kind"], "exec");
        assert_eq!(p["shared_pages"], 5);
        assert_eq!(
            p["sharing"],
            serde_json::json!({
                "with": [{"pid": 2, "name": "sh", "pages": 5}],
                "frames": [["0x250000", 5]],
                "frames_total": 1,
                "complete": true,
                "why": null,
            })
        );
        let rg = &p["regions"][0];
        assert_eq!(
            (
                rg["kind"].clone(),
                rg["cow_faults"].clone(),
                rg["shared_pages"].clone()
            ),
            ("file".into(), 3.into(), 5.into())
        );
        assert_eq!(rg["file"], "/tmp/m\u{9b}");
        assert!(String::from_utf8_lossy(&out).contains(r#""file": "/tmp/m\u009b""#));
    }

    #[test]
    fn c1_and_reordering_characters_are_escaped_in_strings() {
        let v = serde_json::json!({
            "out\u{85}": ["\u{9b}2J\u{202e}txt.exe\u{2028}é\u{a0}", 1],
        });
        let text = json(&v);
        assert!(text.contains(r#""out\u0085": ["#), "{text}");
        assert!(
            text.contains("\"\\u009b2J\\u202etxt.exe\\u2028é\u{a0}\""),
            "{text}"
        );
        assert!(!text.chars().any(unsafe_in_json), "{text}");
        // The same value, pretty as serde_json writes it.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).expect("JSON"),
            v
        );
        assert_eq!(
            json(&serde_json::json!({"a": [1, "b"]})),
            "{\n  \"a\": [\n    1,\n    \"b\"\n  ]\n}\n"
        );
    }
}
