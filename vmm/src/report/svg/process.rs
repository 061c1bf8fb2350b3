//! One process's panel: its address space (regions in address order), the
//! guest-physical frames its pages landed in and the host-physical frames
//! behind those, with one line per listed page GVA -> GPA -> HPA.

use std::collections::HashSet;

use super::canvas::{Axis, Canvas, Font, approx_size, n, spread, wrap};
use super::{colour, kind_index};
use crate::report::model::{PageReport, ProcessReport, RegionReport, Report};

const X_BOX: f64 = 44.0;
const W_BOX: f64 = 256.0;
const X_STRIP: f64 = 302.0;
const W_STRIP: f64 = 12.0;
const X_GPA: f64 = 560.0;
const X_HPA: f64 = 870.0;
const W_BAR: f64 = 26.0;
const X_INFO: f64 = 1010.0;
/// Advance of one character of the 11px monospace font.
const MONO_CHAR: f64 = 6.7;
const GAP_H: f64 = 36.0;
const LABEL_GAP: f64 = 11.0;
/// Beyond this many listed pages only an even sample gets lines: thousands
/// of lines are slow to render and read as a solid fill anyway.
const MAX_LINKED: usize = 2000;
/// Per-page address labels only while they stay legible.
const MAX_LABELS: usize = 24;
const PAGE: u64 = 4096;

/// Where the regions of one address space are drawn, in address order.
struct Space<'a> {
    blocks: Vec<(&'a RegionReport, Axis)>,
    /// Unmapped stretches between regions: (first byte, end, top pixel).
    gaps: Vec<(u64, u64, f64)>,
    bottom: f64,
}

impl Space<'_> {
    /// Regions stacked from `top` down, each as tall as the log of its size
    /// (a 8 MiB stack next to a 4 KiB data page would vanish to scale), with
    /// a break drawn where addresses skip.
    fn new(regions: &[RegionReport], top: f64) -> Space<'_> {
        let mut sorted: Vec<&RegionReport> = regions.iter().collect();
        sorted.sort_by_key(|r| (r.start, r.end));
        let mut s = Space {
            blocks: Vec::new(),
            gaps: Vec::new(),
            bottom: top,
        };
        let mut prev_end: Option<u64> = None;
        for r in sorted {
            if let Some(pe) = prev_end
                && r.start.raw() > pe
            {
                s.gaps.push((pe, r.start.raw(), s.bottom));
                s.bottom += GAP_H;
            }
            let size = r.end.raw().saturating_sub(r.start.raw());
            let pages = (size / PAGE).max(1) as f64;
            let h = (30.0 + 6.0 * pages.log2()).min(110.0);
            s.blocks
                .push((r, Axis::new(r.start.raw(), r.end.raw(), s.bottom, h)));
            s.bottom += h;
            prev_end = Some(prev_end.unwrap_or(0).max(r.end.raw()));
        }
        s
    }

    /// The axis of the region holding `gva`.
    fn axis(&self, gva: u64) -> Option<&Axis> {
        self.blocks
            .iter()
            .find(|(r, _)| r.start.raw() <= gva && gva < r.end.raw())
            .map(|(_, a)| a)
    }

    /// Where a marker for `gva` goes: in its region, or in the middle of the
    /// break it falls into.
    fn marker(&self, gva: u64) -> Option<f64> {
        if let Some(a) = self.axis(gva) {
            return Some(a.y(gva));
        }
        self.gaps
            .iter()
            .find(|(lo, hi, _)| *lo <= gva && gva < *hi)
            .map(|(_, _, top)| top + GAP_H / 2.0)
    }
}

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

/// A mark for one page on a column: its top, height and colour class.
fn mark(
    c: &mut Canvas,
    seen: &mut HashSet<(i64, i64, usize)>,
    x: f64,
    w: f64,
    y: f64,
    h: f64,
    kind: &str,
) {
    let h = h.max(1.5);
    // Marks that land on the same pixel row add nothing but bytes.
    if seen.insert(((y * 2.0) as i64, (h * 2.0) as i64, kind_index(kind))) {
        c.rect(x, y, w, h, &format!("fill=\"{}\"", colour(kind)));
    }
}

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
fn labels(
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

fn curve(c: &mut Canvas, from: (f64, f64), to: (f64, f64), kind: &str) {
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

/// How the process ended, in a few words.
fn ending(p: &ProcessReport) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    match p.exit.kind.as_str() {
        "exit" => format!("exit {}", opt(p.exit.status.map(|s| s.to_string()))),
        "fault" => format!(
            "killed: {} at {} (rip {})",
            p.exit.reason.clone().unwrap_or_else(|| "fault".into()),
            opt(p.exit.address.map(|a| a.to_string())),
            opt(p.exit.rip.map(|a| a.to_string()))
        ),
        k => k.to_string(),
    }
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
    let height = bottom - top;

    // Which pages get lines, and where each sits in the three columns.
    let stride = p.pages.len().div_ceil(MAX_LINKED).max(1);
    let linked: Vec<&PageReport> = p.pages.iter().step_by(stride).collect();
    let mem = (r.memory.size > 0).then_some(r.memory.size);
    let (glo, ghi) = p.pages.iter().fold((u64::MAX, 0), |(lo, hi), pg| {
        (
            lo.min(pg.gpa.raw()),
            hi.max(pg.gpa.raw().saturating_add(pg.guest_page_size.max(1))),
        )
    });
    let (glo, ghi) = if glo > ghi {
        (0, r.memory.size)
    } else {
        zoom(glo, ghi, mem)
    };
    let gaxis = Axis::new(glo, ghi, top, height);
    let hpas: Vec<u64> = p
        .pages
        .iter()
        .filter_map(|pg| pg.hpa.map(|h| h.raw()))
        .collect();
    let hlo = hpas.iter().min().copied();
    let hhi = hpas.iter().map(|h| h.saturating_add(PAGE)).max();
    let haxis = match (hlo, hhi) {
        (Some(lo), Some(hi)) => {
            let (lo, hi) = zoom(lo & !(PAGE - 1), hi, None);
            Some(Axis::new(lo, hi, top, height))
        }
        _ => None,
    };

    columns_header(c, r, y0, (glo, ghi), haxis.as_ref(), top);

    // Column 1: the regions, the breaks between them, the pages in them.
    for (rg, a) in &space.blocks {
        let fill = colour(&rg.kind);
        c.rect(
            X_BOX,
            a.top,
            W_BOX,
            a.height,
            &format!("fill=\"{fill}\" fill-opacity=\"0.18\" stroke=\"{fill}\""),
        );
        c.text(
            X_BOX + 6.0,
            a.top + 13.0,
            Font::Bold,
            &format!(
                "{} {}  {} page{} mapped",
                rg.kind,
                rg.prot,
                rg.pages_mapped,
                if rg.pages_mapped == 1 { "" } else { "s" }
            ),
        );
        let size = approx_size(rg.end.raw().saturating_sub(rg.start.raw()));
        c.text(
            X_BOX + 6.0,
            a.top + 26.0,
            Font::Mono,
            &format!("{}–{} ({size})", rg.start, rg.end),
        );
        let grows = match rg.kind.as_str() {
            "stack" => "grows toward lower addresses (up here)",
            "heap" => "grows toward higher addresses (down here)",
            _ => "",
        };
        if !grows.is_empty() && a.height >= 46.0 {
            c.text(X_BOX + 6.0, a.top + 40.0, Font::Small, grows);
        }
    }
    for (lo, hi, gy) in &space.gaps {
        let zig = |y: f64| {
            let mut d = format!("M{} {}", n(X_BOX), n(y));
            let mut x = X_BOX;
            let mut up = true;
            while x < X_BOX + W_BOX {
                x = (x + 10.0).min(X_BOX + W_BOX);
                d.push_str(&format!(
                    "L{} {}",
                    n(x),
                    n(if up { y - 3.0 } else { y + 3.0 })
                ));
                up = !up;
            }
            d
        };
        c.path(&zig(gy + 6.0), "fill=\"none\" stroke=\"#999\"");
        c.path(&zig(gy + GAP_H - 6.0), "fill=\"none\" stroke=\"#999\"");
        c.text_styled(
            X_BOX + W_BOX / 2.0,
            gy + GAP_H / 2.0 + 4.0,
            Font::Small,
            "text-anchor=\"middle\"",
            &format!("unmapped: {}", approx_size(hi - lo)),
        );
    }
    if space.blocks.is_empty() {
        c.text(X_BOX, top + 14.0, Font::Small, "no regions reported");
    }
    let mut seen = HashSet::new();
    for pg in &p.pages {
        if let Some(a) = space.axis(pg.gva.raw()) {
            let len = a.len(pg.guest_page_size);
            mark(
                c,
                &mut seen,
                X_STRIP,
                W_STRIP,
                a.y(pg.gva.raw()),
                len,
                &pg.region,
            );
        }
    }
    if p.exit.kind == "fault"
        && let Some(addr) = p.exit.address
    {
        fault_marker(c, &space, addr.raw(), bottom);
    }

    // Column 2: guest RAM frames; column 3: host frames.
    c.rect(
        X_GPA,
        top,
        W_BAR,
        height,
        "fill=\"#f4f4f4\" stroke=\"#666\"",
    );
    let mut seen = HashSet::new();
    for pg in &p.pages {
        let gy = gaxis.y(pg.gpa.raw());
        mark(
            c,
            &mut seen,
            X_GPA,
            W_BAR,
            gy,
            gaxis.len(pg.guest_page_size),
            &pg.region,
        );
    }
    match &haxis {
        Some(ha) => {
            c.rect(
                X_HPA,
                top,
                W_BAR,
                height,
                "fill=\"#f4f4f4\" stroke=\"#666\"",
            );
            let mut seen = HashSet::new();
            for pg in &p.pages {
                if let Some(h) = pg.hpa {
                    let len = ha.len(
                        pg.host_page_size
                            .unwrap_or(PAGE)
                            .min(pg.guest_page_size.max(1)),
                    );
                    mark(c, &mut seen, X_HPA, W_BAR, ha.y(h.raw()), len, &pg.region);
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
            let pm = &r.host.pagemap;
            let note = if pm.starts_with("unavailable") {
                format!("HPA {pm}")
            } else {
                "HPA unavailable (needs CAP_SYS_ADMIN)".into()
            };
            let mut y = top + 20.0;
            for l in wrap(&note, 18) {
                c.text(X_HPA + W_BAR + 8.0, y, Font::Text, &l);
                y += 14.0;
            }
        }
    }

    // The lines: GVA -> GPA -> HPA for each linked page, labelled when few.
    let centre = |a: &Axis, v: u64, len: u64| a.y(v) + a.len(len).max(1.5) / 2.0;
    let mut gva_ys = Vec::new();
    let mut gva_txt = Vec::new();
    let mut rows = Vec::new();
    for pg in &linked {
        let Some(a) = space.axis(pg.gva.raw()) else {
            continue;
        };
        gva_ys.push(centre(a, pg.gva.raw(), pg.guest_page_size));
        gva_txt.push(pg.gva.to_string());
        rows.push(*pg);
    }
    let gpa_ys: Vec<f64> = rows
        .iter()
        .map(|pg| centre(&gaxis, pg.gpa.raw(), pg.guest_page_size))
        .collect();
    let gpa_txt: Vec<String> = rows.iter().map(|pg| pg.gpa.to_string()).collect();
    let few = rows.len() <= MAX_LABELS;
    let c1 = if few {
        labels(c, X_STRIP + W_STRIP, &gva_ys, &gva_txt, top, bottom)
    } else {
        gva_ys.iter().map(|y| (X_STRIP + W_STRIP, *y)).collect()
    };
    let c2 = if few {
        labels(c, X_GPA + W_BAR, &gpa_ys, &gpa_txt, top, bottom)
    } else {
        gpa_ys.iter().map(|y| (X_GPA + W_BAR, *y)).collect()
    };
    let opacity = if rows.len() > 200 { "0.25" } else { "0.7" };
    c.raw(&format!(
        "<g fill=\"none\" stroke-width=\"0.9\" stroke-opacity=\"{opacity}\">"
    ));
    let mut hrows = Vec::new();
    for (i, pg) in rows.iter().enumerate() {
        curve(c, c1[i], (X_GPA, gpa_ys[i]), &pg.region);
        if let (Some(ha), Some(h)) = (&haxis, pg.hpa) {
            let len = pg
                .host_page_size
                .unwrap_or(PAGE)
                .min(pg.guest_page_size.max(1));
            hrows.push((i, centre(ha, h.raw(), len), h.to_string()));
        }
    }
    let hys: Vec<f64> = hrows.iter().map(|h| h.1).collect();
    for (i, hy, _) in &hrows {
        curve(c, c2[*i], (X_HPA, *hy), &rows[*i].region);
    }
    c.raw("</g>");
    if few {
        let txt: Vec<String> = hrows.iter().map(|h| h.2.clone()).collect();
        labels(c, X_HPA + W_BAR, &hys, &txt, top, bottom);
    }

    info(c, p, &linked, stride, top);
    let end = bottom + 22.0;
    c.line(10.0, end, super::WIDTH - 10.0, end, "stroke=\"#ccc\"");
    end
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

/// A red arrowhead where the process faulted, or a note when the address
/// is outside everything drawn.
fn fault_marker(c: &mut Canvas, space: &Space, addr: u64, bottom: f64) {
    match space.marker(addr) {
        Some(y) => {
            let d = format!(
                "M{} {}L{} {}L{} {}Z",
                n(X_BOX - 12.0),
                n(y - 6.0),
                n(X_BOX - 1.0),
                n(y),
                n(X_BOX - 12.0),
                n(y + 6.0)
            );
            c.path(&d, "fill=\"#b00020\"");
            c.text_styled(
                X_BOX - 14.0,
                y + 3.5,
                Font::Alert,
                "text-anchor=\"end\"",
                "fault",
            );
        }
        None => {
            let beyond = space
                .blocks
                .last()
                .is_some_and(|(r, _)| addr >= r.end.raw());
            let whr = if beyond {
                "above every region"
            } else {
                "outside every region"
            };
            c.text(
                X_BOX,
                bottom + 14.0,
                Font::Alert,
                &format!("faulting address {addr:#x} is {whr}"),
            );
        }
    }
}

/// Facts about the process that the columns do not show.
fn info(c: &mut Canvas, p: &ProcessReport, linked: &[&PageReport], stride: usize, top: f64) {
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
    lines.push(format!(
        "faults: heap {}, stack {}",
        p.heap_faults, p.stack_faults
    ));
    lines.push(format!(
        "{} pages checked against KVM_TRANSLATE",
        p.pages_checked
    ));
    let sizes = |f: &dyn Fn(&PageReport) -> Option<u64>| {
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
        sizes(&|pg| Some(pg.guest_page_size))
    ));
    lines.push(format!("host pages {}", sizes(&|pg| pg.host_page_size)));
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
    if p.exit.kind == "fault" {
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
