//! Per-page address labels beside a column, and the curves that join a
//! page's marks from column to column.

use super::canvas::{Canvas, Font, n, spread};
use super::colour;
use crate::devices::event::RegionKind;

/// Advance of one character of the 11px monospace font.
const MONO_CHAR: f64 = 6.7;
const LABEL_GAP: f64 = 11.0;
/// Per-page address labels only while they stay legible.
pub const MAX_LABELS: usize = 24;

/// Labels for the linked pages on one column, moved apart to stay legible:
/// per page the label's y, or `None` when they do not fit.
fn label_ys(ys: &[f64], top: f64, bottom: f64) -> Option<Vec<f64>> {
    if ys.is_empty() || ys.len() > MAX_LABELS {
        return None;
    }
    let mut order: Vec<usize> = (0..ys.len()).collect();
    order.sort_by(|&a, &b| ys[a].total_cmp(&ys[b]));
    let wanted: Vec<f64> = order.iter().map(|&i| ys[i]).collect();
    let placed = spread(&wanted, LABEL_GAP, top + 4.0, bottom.max(top + 4.0))?;
    let mut out = vec![0.0; ys.len()];
    for (k, &i) in order.iter().enumerate() {
        out[i] = placed[k];
    }
    Some(out)
}

/// Draws `labels` beside a column edge at `x` with short leaders from the
/// marks at `ys`; returns where each page's line leaves the column.
pub fn labels(
    c: &mut Canvas,
    x: f64,
    ys: &[f64],
    texts: &[String],
    top: f64,
    bottom: f64,
) -> Vec<(f64, f64)> {
    match label_ys(ys, top, bottom) {
        Some(ly) => {
            for ((y, l), t) in ys.iter().zip(&ly).zip(texts) {
                c.line(x, *y, x + 6.0, *l, "stroke=\"#888\" stroke-width=\"0.6\"");
                c.text(x + 8.0, l + 3.5, Font::Mono, t);
            }
            // Each line leaves from the end of its label.
            ly.into_iter()
                .zip(texts)
                .map(|(l, t)| (x + 12.0 + t.len() as f64 * MONO_CHAR, l))
                .collect()
        }
        None => ys.iter().map(|y| (x, *y)).collect(),
    }
}

/// A curve from one column to the next, coloured by region kind.
pub fn curve(c: &mut Canvas, from: (f64, f64), to: (f64, f64), kind: Option<RegionKind>) {
    let xm = (from.0 + to.0) / 2.0;
    let d = format!(
        "M{} {}C{} {} {} {} {} {}",
        n(from.0),
        n(from.1),
        n(xm),
        n(from.1),
        n(xm),
        n(to.1),
        n(to.0),
        n(to.1)
    );
    c.path(&d, &format!("stroke=\"{}\"", colour(kind)));
}
