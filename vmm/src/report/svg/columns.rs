//! The guest-physical and host-physical columns of a process's panel:
//! each zoomed to the frames its listed pages use, with their headings,
//! a strip of all guest RAM showing the zoomed span, and a mark per page.

use super::Marks;
use super::canvas::{Axis, Canvas, Font, approx_size};
use super::space::X_BOX;
use crate::addr::PAGE;
use crate::report::model::{ProcessReport, Report};

pub const X_GPA: f64 = 560.0;
pub const X_HPA: f64 = 870.0;
pub const W_BAR: f64 = 26.0;

/// A padded address span covering `[lo, hi)`, inside `0..limit` when a
/// limit is known.
fn zoom(lo: u64, hi: u64, limit: Option<u64>) -> (u64, u64) {
    let pad = ((hi.saturating_sub(lo)) / 20).max(PAGE) & !(PAGE - 1);
    let lo = lo.saturating_sub(pad);
    let hi = hi.saturating_add(pad);
    match limit {
        Some(l) if l > lo => (lo, hi.min(l)),
        _ => (lo, hi),
    }
}

/// The guest-physical and host-physical columns, from `top` to `bottom`:
/// each zoomed to the frames the listed pages use.
pub struct Columns {
    /// The guest-physical span shown, as the heading states it.
    pub gspan: (u64, u64),
    /// Guest RAM frames.
    pub g: Axis,
    /// Host frames; None when no listed page has an HPA.
    pub h: Option<Axis>,
    pub top: f64,
    pub bottom: f64,
}

impl Columns {
    pub fn new(r: &Report, p: &ProcessReport, top: f64, bottom: f64) -> Self {
        let height = bottom - top;
        let mem = (r.memory.size > 0).then_some(r.memory.size);
        let (glo, ghi) = p.pages.iter().fold((u64::MAX, 0), |(lo, hi), pg| {
            (
                lo.min(pg.gpa.raw()),
                hi.max(pg.gpa.raw().saturating_add(pg.guest_page_size.bytes())),
            )
        });
        let gspan = if glo > ghi {
            (0, r.memory.size)
        } else {
            zoom(glo, ghi, mem)
        };
        let hpas: Vec<u64> = p
            .pages
            .iter()
            .filter_map(|pg| pg.hpa.map(|h| h.raw()))
            .collect();
        let hlo = hpas.iter().min().copied();
        let hhi = hpas.iter().map(|h| h.saturating_add(PAGE)).max();
        let h = match (hlo, hhi) {
            (Some(lo), Some(hi)) => {
                let (lo, hi) = zoom(lo & !(PAGE - 1), hi, None);
                Some(Axis::new(lo, hi, top, height))
            }
            _ => None,
        };
        Columns {
            gspan,
            g: Axis::new(gspan.0, gspan.1, top, height),
            h,
            top,
            bottom,
        }
    }
}

/// Why the host-physical column is empty.
pub fn no_hpa_note(c: &mut Canvas, r: &Report, p: &ProcessReport, y0: f64) {
    let pm = &r.host.pagemap;
    let note = if p.pages.is_empty() {
        "no pages listed".to_string()
    } else if pm.starts_with("unavailable") {
        format!("HPA {pm}")
    } else {
        "HPA unavailable (needs CAP_SYS_ADMIN)".into()
    };
    c.text(X_HPA - 20.0, y0 + 54.0, Font::Alert, &note);
}

/// Column 2, guest RAM frames, and column 3, host frames: each listed
/// page marked where it lies.
pub fn frames(c: &mut Canvas, p: &ProcessReport, cols: &Columns) {
    let (top, height) = (cols.top, cols.bottom - cols.top);
    c.rect(
        X_GPA,
        top,
        W_BAR,
        height,
        "fill=\"#f4f4f4\" stroke=\"#666\"",
    );
    let mut seen = Marks::default();
    for pg in &p.pages {
        let gy = cols.g.y(pg.gpa.raw());
        seen.draw(
            c,
            X_GPA,
            W_BAR,
            gy,
            cols.g.len(pg.guest_page_size.bytes()),
            pg.region,
        );
    }
    match &cols.h {
        Some(ha) => {
            c.rect(
                X_HPA,
                top,
                W_BAR,
                height,
                "fill=\"#f4f4f4\" stroke=\"#666\"",
            );
            let mut seen = Marks::default();
            for pg in &p.pages {
                if let Some(h) = pg.hpa {
                    let len = ha.len(
                        pg.host_page_size
                            .unwrap_or(PAGE)
                            .min(pg.guest_page_size.bytes()),
                    );
                    seen.draw(c, X_HPA, W_BAR, ha.y(h.raw()), len, pg.region);
                }
            }
        }
        None => {
            c.rect(
                X_HPA,
                top,
                W_BAR,
                height,
                "fill=\"none\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"",
            );
        }
    }
}

/// Column headings, and a strip of all guest RAM showing which part of it
/// the zoomed guest-physical column covers.
pub fn columns_header(
    c: &mut Canvas,
    r: &Report,
    y0: f64,
    (glo, ghi): (u64, u64),
    ha: Option<&Axis>,
    top: f64,
) {
    let y = y0 + 40.0;
    c.text(X_BOX, y, Font::Bold, "guest-virtual (this process's view)");
    c.text(
        X_BOX,
        y + 14.0,
        Font::Small,
        "regions in address order, low at top; box heights not to scale",
    );
    c.text(
        X_GPA - 60.0,
        y,
        Font::Bold,
        "guest-physical (guest RAM frames)",
    );
    c.text(
        X_GPA - 60.0,
        y + 14.0,
        Font::Small,
        &format!("zoom {:#x}–{:#x} ({})", glo, ghi, approx_size(ghi - glo)),
    );
    c.text(X_HPA - 20.0, y, Font::Bold, "host-physical");
    if let Some(a) = ha {
        c.text(
            X_HPA - 20.0,
            y + 14.0,
            Font::Small,
            &format!("{:#x}–{:#x} ({})", a.lo, a.hi, approx_size(a.hi - a.lo)),
        );
    }
    // All of guest RAM, with the zoomed span highlighted and tied to the bar.
    let size = r.memory.size.max(ghi).max(1);
    let (x0, w, by) = (X_GPA - 60.0, 200.0, y + 24.0);
    c.rect(x0, by, w, 8.0, "fill=\"#f4f4f4\" stroke=\"#666\"");
    let xa = x0 + glo as f64 / size as f64 * w;
    let xb = (x0 + ghi as f64 / size as f64 * w).max(xa + 1.5);
    c.rect(xa, by, xb - xa, 8.0, "fill=\"#555\"");
    c.text(
        x0 + w + 6.0,
        by + 8.0,
        Font::Small,
        &format!("all guest RAM, 0–{}", approx_size(r.memory.size)),
    );
    let dash = "stroke=\"#999\" stroke-dasharray=\"3 3\"";
    c.line(xa, by + 8.0, X_GPA, top, dash);
    c.line(xb, by + 8.0, X_GPA + W_BAR, top, dash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_pads_and_stays_inside_ram() {
        assert_eq!(
            zoom(0x17_0000, 0x49_9000, Some(128 << 20)),
            (0x14_8000, 0x4c_1000)
        );
        assert_eq!(zoom(0x1000, 0x2000, Some(0x2000)), (0, 0x2000));
        assert_eq!(
            zoom(u64::MAX - 10, u64::MAX, None),
            (u64::MAX - 10 - PAGE, u64::MAX)
        );
    }
}
