//! Renders the report as an SVG picture (to be written).

use super::model::Report;

/// The SVG document.
pub fn render(_r: &Report) -> String {
    String::from("<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n")
}
