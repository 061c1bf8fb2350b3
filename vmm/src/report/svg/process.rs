//! One process's panel: its address space (regions in address order), the
//! guest-physical frames its pages landed in and the host-physical frames
//! behind those, with one line per listed page GVA -> GPA -> HPA.

use super::Marks;
use super::canvas::{Axis, Canvas, Font, approx_size, wrap};
use super::links::{self, MAX_LABELS};
use super::space::{self, Space, W_STRIP, X_BOX, X_STRIP};
use crate::addr::PAGE;
use crate::report::faults::faults_text;
use crate::report::model::{ExitKind, PageObs, ProcessReport, Report};

const X_GPA: f64 = 560.0;
const X_HPA: f64 = 870.0;
const W_BAR: f64 = 26.0;
const X_INFO: f64 = 1010.0;
/// Beyond this many listed pages only an even sample gets lines: thousands
/// of lines are slow to render and read as a solid fill anyway.
const MAX_LINKED: usize = 2000;

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

/// How the process ended, in a few words.
fn ending(p: &ProcessReport) -> String {
    p.exit.summary()
}

/// Draws the panel for `p` from `y0` down; returns the y below it.
pub fn draw(c: &mut Canvas, r: &Report, p: &ProcessReport, y0: f64) -> f64 {
    c.text(
        X_BOX - 12.0,
        y0 + 18.0,
        Font::Title,
        &format!("pid {} {}: {}", p.pid, p.name, ending(p)),
    );
    let top = y0 + 92.0;
    let space = Space::new(&p.regions, top);
    let bottom = space.bottom.max(top + 220.0);
    let cols = Columns::new(r, p, top, bottom);
    columns_header(c, r, y0, cols.gspan, cols.h.as_ref(), top);
    if cols.h.is_none() {
        no_hpa_note(c, r, p, y0);
    }
    space::draw(c, p, &space, bottom);
    frames(c, p, &cols);
    // Which pages get lines: beyond MAX_LINKED an even sample.
    let stride = p.pages.len().div_ceil(MAX_LINKED).max(1);
    let linked: Vec<&PageObs> = p.pages.iter().step_by(stride).collect();
    chain_lines(c, &linked, &space, &cols);
    info(c, p, &linked, stride, top);
    let end = bottom + 22.0;
    c.line(10.0, end, super::WIDTH - 10.0, end, "stroke=\"#ccc\"");
    end
}

/// The guest-physical and host-physical columns, from `top` to `bottom`:
/// each zoomed to the frames the listed pages use.
struct Columns {
    /// The guest-physical span shown, as the heading states it.
    gspan: (u64, u64),
    /// Guest RAM frames.
    g: Axis,
    /// Host frames; None when no listed page has an HPA.
    h: Option<Axis>,
    top: f64,
    bottom: f64,
}

impl Columns {
    fn new(r: &Report, p: &ProcessReport, top: f64, bottom: f64) -> Self {
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
fn no_hpa_note(c: &mut Canvas, r: &Report, p: &ProcessReport, y0: f64) {
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
fn frames(c: &mut Canvas, p: &ProcessReport, cols: &Columns) {
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

/// The lines GVA -> GPA -> HPA of the `linked` pages, labelled when few.
fn chain_lines(c: &mut Canvas, linked: &[&PageObs], space: &Space, cols: &Columns) {
    let (top, bottom) = (cols.top, cols.bottom);
    let centre = |a: &Axis, v: u64, len: u64| a.y(v) + a.len(len).max(1.5) / 2.0;
    let mut gva_ys = Vec::new();
    let mut gva_txt = Vec::new();
    let mut rows = Vec::new();
    for pg in linked {
        let Some(a) = space.axis(pg.gva.raw()) else {
            continue;
        };
        gva_ys.push(centre(a, pg.gva.raw(), pg.guest_page_size.bytes()));
        gva_txt.push(pg.gva.to_string());
        rows.push(*pg);
    }
    let gpa_ys: Vec<f64> = rows
        .iter()
        .map(|pg| centre(&cols.g, pg.gpa.raw(), pg.guest_page_size.bytes()))
        .collect();
    let gpa_txt: Vec<String> = rows.iter().map(|pg| pg.gpa.to_string()).collect();
    let few = rows.len() <= MAX_LABELS;
    let c1 = if few {
        links::labels(c, X_STRIP + W_STRIP, &gva_ys, &gva_txt, top, bottom)
    } else {
        gva_ys.iter().map(|y| (X_STRIP + W_STRIP, *y)).collect()
    };
    let c2 = if few {
        links::labels(c, X_GPA + W_BAR, &gpa_ys, &gpa_txt, top, bottom)
    } else {
        gpa_ys.iter().map(|y| (X_GPA + W_BAR, *y)).collect()
    };
    let opacity = if rows.len() > 200 { "0.25" } else { "0.7" };
    c.raw(&format!(
        "<g fill=\"none\" stroke-width=\"0.9\" stroke-opacity=\"{opacity}\">"
    ));
    let mut hrows = Vec::new();
    for (i, pg) in rows.iter().enumerate() {
        links::curve(c, c1[i], (X_GPA, gpa_ys[i]), pg.region);
        if let (Some(ha), Some(h)) = (&cols.h, pg.hpa) {
            let len = pg
                .host_page_size
                .unwrap_or(PAGE)
                .min(pg.guest_page_size.bytes());
            hrows.push((i, centre(ha, h.raw(), len), h.to_string()));
        }
    }
    let hys: Vec<f64> = hrows.iter().map(|h| h.1).collect();
    for (i, hy, _) in &hrows {
        links::curve(c, c2[*i], (X_HPA, *hy), rows[*i].region);
    }
    c.raw("</g>");
    if few {
        let txt: Vec<String> = hrows.iter().map(|h| h.2.clone()).collect();
        links::labels(c, X_HPA + W_BAR, &hys, &txt, top, bottom);
    }
}

/// Column headings, and a strip of all guest RAM showing which part of it
/// the zoomed guest-physical column covers.
fn columns_header(
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

/// Facts about the process that the columns do not show.
fn info(c: &mut Canvas, p: &ProcessReport, linked: &[&PageObs], stride: usize, top: f64) {
    let mut lines = vec![format!("CR3 {}", p.cr3)];
    if let Some(u) = p.user_pgd {
        lines.push(format!("user PGD {u}"));
    }
    lines.push(format!(
        "{} pages mapped, {} listed",
        p.pages_total,
        p.pages.len()
    ));
    if stride > 1 {
        lines.push(format!(
            "lines for {} of them (one in {stride}): too many to draw",
            linked.len()
        ));
    } else if (p.pages.len() as u64) < p.pages_total {
        lines.push("lines for the listed samples (--pages lists all)".into());
    }
    lines.push(format!("faults: {}", faults_text(&p.faults_by_kind)));
    lines.push(format!(
        "{} pages checked against KVM_TRANSLATE",
        p.pages_checked
    ));
    let sizes = |f: &dyn Fn(&PageObs) -> Option<u64>| {
        let mut v: Vec<u64> = p.pages.iter().filter_map(f).collect();
        v.sort_unstable();
        v.dedup();
        v.iter()
            .map(|s| approx_size(*s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    lines.push(format!(
        "guest pages {}",
        sizes(&|pg| Some(pg.guest_page_size.bytes()))
    ));
    let host = sizes(&|pg| pg.host_page_size);
    let host = if host.is_empty() {
        "unknown".into()
    } else {
        host
    };
    lines.push(format!("host pages {host}"));
    let no_hpa = p.pages.iter().filter(|pg| pg.hpa.is_none()).count();
    if no_hpa > 0 {
        lines.push(format!("{no_hpa} pages without HPA"));
    }
    if let Some(pt) = &p.pattern {
        lines.push(format!(
            "pattern at {}: {}",
            pt.gva,
            if pt.ok {
                "read back via GPA and HVA"
            } else {
                "MISMATCH"
            }
        ));
    }
    let mut y = top + 10.0;
    let mut lines: Vec<(Font, String)> = lines.into_iter().map(|l| (Font::Small, l)).collect();
    if p.exit.kind == ExitKind::Fault {
        let at = p.exit.address.map_or("?".into(), |a| a.to_string());
        lines.push((
            Font::Alert,
            format!("fault at {at}: marked in red on the left"),
        ));
    }
    for (font, l) in lines {
        for w in wrap(&l, 34) {
            c.text(X_INFO, y, font, &w);
            y += 13.0;
        }
    }
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

    #[test]
    fn endings_read_as_words() {
        let mut p = ProcessReport::default();
        p.exit.kind = ExitKind::Exit;
        p.exit.status = Some(3);
        assert_eq!(ending(&p), "exit 3");
        p.exit.kind = ExitKind::Fault;
        p.exit.vector = Some(14);
        assert_eq!(ending(&p), "killed: fault at ? (rip ?)");
        // Only a page fault has an address of its own.
        p.exit.vector = Some(6);
        assert_eq!(ending(&p), "killed: fault at rip ?");
        p.exit.kind = ExitKind::Running;
        assert_eq!(ending(&p), "running");
    }
}
