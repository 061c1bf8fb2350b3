//! One process's panel: its address space (regions in address order), the
//! guest-physical frames its pages landed in and the host-physical frames
//! behind those (the two columns: columns.rs), with one line per listed
//! page GVA -> GPA -> HPA.

use super::canvas::{Axis, Canvas, Font, approx_size, wrap};
use super::columns::{Columns, W_BAR, X_GPA, X_HPA, columns_header, frames, no_hpa_note};
use super::links::{self, MAX_LABELS};
use super::space::{self, Space, W_STRIP, X_BOX, X_STRIP};
use crate::addr::PAGE;
use crate::report::faults::faults_text;
use crate::report::model::{ExitKind, PageObs, ProcessReport, Report};

const X_INFO: f64 = 1010.0;
/// Beyond this many listed pages only an even sample gets lines: thousands
/// of lines are slow to render and read as a solid fill anyway.
const MAX_LINKED: usize = 2000;

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
