//! The report as JSON (schema in the README, "JSON report").

use super::model::Report;

/// Pretty-printed JSON with a trailing newline.
pub fn render(r: &Report) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
