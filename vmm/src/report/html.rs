//! The report as one interactive HTML page: the report model embedded as
//! JSON, drawn in the browser by a script of ours. Self-contained (inline
//! CSS, script and data; no network, no external fonts), so it opens from
//! disk. The page's look and behaviour live in `html/` as plain CSS and
//! JavaScript files, one concept each, included here at compile time.

use std::io::{self, Write};

use super::model::Report;

const CSS: &str = include_str!("html/report.css");
/// The script, in order: the parts share one function's scope (so the page
/// defines no globals but `window.microvmm`, for tests).
const JS: [&str; 6] = [
    include_str!("html/data.js"),
    include_str!("html/overview.js"),
    include_str!("html/pages.js"),
    include_str!("html/frames.js"),
    include_str!("html/timeline.js"),
    include_str!("html/start.js"),
];
const BODY: &str = include_str!("html/body.html");

/// The id of the `<script type="application/json">` element that holds the
/// report; the page's script and the tests find the data by it.
pub const DATA_ID: &str = "report-data";

/// Write the HTML page for `r` to `w`, streaming (a `--pages` report of a
/// 1 GiB guest embeds ~60 MB of JSON).
pub fn write(r: &Report, w: impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    // The policy forbids every fetch: the page must work from disk alone,
    // and a hostile string that slipped through could not phone home.
    write!(
        w,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>microvmm report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{BODY}\
         <script type=\"application/json\" id=\"{DATA_ID}\">"
    )?;
    serde_json::to_writer(ScriptSafe(&mut w), r)?;
    w.write_all(b"</script>\n<script>\n'use strict';\n(function () {\n")?;
    for part in JS {
        w.write_all(part.as_bytes())?;
    }
    w.write_all(b"}());\n</script>\n</body>\n</html>\n")?;
    w.flush()
}

/// A writer for JSON inside a `<script>` element: `<`, `>` and `&` become
/// `\u003c`, `\u003e` and `\u0026`, so no guest string can close the element
/// (`</script>`) or open a comment (`<!--`). Valid because those characters
/// occur in JSON only inside strings, where the escapes mean the same.
struct ScriptSafe<W: Write>(W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, b) in buf.iter().enumerate() {
            let esc: &[u8] = match b {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                _ => continue,
            };
            self.0.write_all(&buf[start..i])?;
            self.0.write_all(esc)?;
            start = i + 1;
        }
        self.0.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests;
