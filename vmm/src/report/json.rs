//! The report as JSON (schema in the README, "JSON report").

use std::io::Write;

use super::model::Report;

/// Write pretty-printed JSON and a newline to `w`, streaming (a `--pages`
/// report of a 1 GiB guest is ~80 MB).
pub fn write(r: &Report, w: impl Write) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, r)?;
    w.write_all(b"\n")?;
    w.flush()
}
