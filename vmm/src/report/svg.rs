//! The report as a picture: the one a student would draw. Per process its
//! address space, the guest frames its pages landed in and the host frames
//! behind those, joined page by page; then one 2D page walk. A standalone
//! SVG: no scripts, no external fonts or resources.

mod canvas;
mod columns;
mod links;
mod process;
mod space;
mod walk;

use std::collections::HashSet;

use canvas::{Canvas, Font, STYLE, approx_size};

use super::model::Report;
use crate::devices::event::RegionKind;

const WIDTH: f64 = 1200.0;
/// Characters of 12px sans-serif that fit across the page.
const LINE_CHARS: usize = 170;

/// The colour of a region kind (None: a page outside every region); the
/// page marks and lines use the same ones.
fn colour(kind: Option<RegionKind>) -> &'static str {
    match kind {
        Some(RegionKind::Code) => "#4e79a7",
        Some(RegionKind::Rodata) => "#76b7b2",
        Some(RegionKind::Data) => "#f28e2b",
        Some(RegionKind::DataBss) => "#f0ac3a",
        Some(RegionKind::Bss) => "#edc948",
        Some(RegionKind::Heap) => "#59a14f",
        Some(RegionKind::Mmap) => "#ff9da7",
        Some(RegionKind::Stack) => "#e15759",
        Some(RegionKind::Guard) => "#9e9e9e",
        Some(RegionKind::File) => "#86bcb6",
        None => "#b07aa1",
    }
}

/// Page marks on one column. Marks that land on the same pixel row in the
/// same colour add nothing but bytes, so each is drawn once.
#[derive(Default)]
struct Marks {
    seen: HashSet<(i64, i64, Option<RegionKind>)>,
}

impl Marks {
    /// A mark `h` pixels tall at `y` across `x..x + w`, for a page of region
    /// kind `kind`.
    fn draw(&mut self, c: &mut Canvas, x: f64, w: f64, y: f64, h: f64, kind: Option<RegionKind>) {
        let h = h.max(1.5);
        if self.seen.insert(((y * 2.0) as i64, (h * 2.0) as i64, kind)) {
            c.rect(x, y, w, h, &format!("fill=\"{}\"", colour(kind)));
        }
    }
}

/// The SVG document for report `r`: header, one panel per process, the 2D
/// walk of the first `whereis` entry, and any errors.
pub fn render(r: &Report) -> String {
    let mut c = Canvas::default();
    let mut y = header(&mut c, r);
    if r.processes.is_empty() {
        c.text(20.0, y + 20.0, Font::Text, "no processes reported");
        y += 30.0;
    }
    for p in &r.processes {
        y = process::draw(&mut c, r, p, y);
    }
    if let Some(w) = r.whereis.first() {
        y = walk::draw(&mut c, r, w, y + 6.0);
    }
    y = errors(&mut c, r, y);
    let h = y + 16.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <style>{STYLE}</style>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n{body}</svg>\n",
        w = canvas::n(WIDTH),
        h = canvas::n(h),
        body = c.out
    )
}

/// What the host is and what "host-physical" means on it, how guest RAM is
/// backed, and the colour legend; returns the y below it.
fn header(c: &mut Canvas, r: &Report) -> f64 {
    let y = host(c, r);
    let y = memory(c, r, y);
    let y = c.para(20.0, y, Font::Small, 200, 13.0, &r.host.nested_paging);
    let g = &r.guest;
    let guest = format!(
        "guest: mode {}, {} scheduling, outcome {}, {} processes",
        g.mode.map_or("unknown".into(), |m| m.to_string()),
        g.scheduling.map_or("unknown".into(), |m| m.to_string()),
        g.outcome,
        r.processes.len()
    );
    let y = c.para(20.0, y + 2.0, Font::Text, LINE_CHARS, 15.0, &guest);
    legend(c, y)
}

/// The title, the host and what "host-physical" means on it; returns the
/// y below.
fn host(c: &mut Canvas, r: &Report) -> f64 {
    let h = &r.host;
    c.text(
        20.0,
        28.0,
        Font::Title,
        "microvmm: where the pages of every guest process live",
    );
    let nested = if h.nested {
        "; this host is itself a VM"
    } else {
        ""
    };
    let y = c.para(
        20.0,
        48.0,
        Font::Text,
        LINE_CHARS,
        15.0,
        &format!(
            "host: KVM flavour {}{nested}; cpu {}; kernel {}",
            h.kvm_flavour, h.cpu, h.kernel
        ),
    );
    c.para(
        20.0,
        y,
        Font::Text,
        LINE_CHARS,
        15.0,
        &format!("HPA: {}; pagemap {}", h.hpa_meaning, h.pagemap),
    )
}

/// Guest RAM, its backing and its first memslots, from `y`; returns the y
/// below.
fn memory(c: &mut Canvas, r: &Report, y: f64) -> f64 {
    let m = &r.memory;
    let slots: Vec<String> = m
        .slots
        .iter()
        .take(4)
        .map(|s| {
            format!(
                "slot {} GPA {}–{} at HVA {}",
                s.slot, s.gpa_start, s.gpa_end, s.hva
            )
        })
        .collect();
    let more = m.slots.len().saturating_sub(4);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    c.para(
        20.0,
        y,
        Font::Text,
        LINE_CHARS,
        15.0,
        &format!(
            "memory: {} of guest RAM backed by {} host pages; {}{more}",
            approx_size(m.size),
            m.backing,
            slots.join("; ")
        ),
    )
}

/// The colour of each region kind, and what a line means, from `y`;
/// returns the y below, under a rule.
fn legend(c: &mut Canvas, y: f64) -> f64 {
    let mut x = 20.0;
    for k in RegionKind::ALL {
        c.rect(
            x,
            y - 2.0,
            12.0,
            12.0,
            &format!("fill=\"{}\"", colour(Some(k))),
        );
        c.text(x + 16.0, y + 8.0, Font::Text, k.as_str());
        x += 70.0;
    }
    c.text(
        x + 10.0,
        y + 8.0,
        Font::Small,
        "each line follows one page: guest-virtual → guest-physical → host-physical",
    );
    let y = y + 22.0;
    c.line(10.0, y, WIDTH - 10.0, y, "stroke=\"#ccc\"");
    y
}

/// The report's errors in red, if any; returns the y below them.
fn errors(c: &mut Canvas, r: &Report, y: f64) -> f64 {
    if r.errors.is_empty() {
        return y;
    }
    let mut y = y + 20.0;
    c.text(20.0, y, Font::Title, &format!("{} errors", r.errors.len()));
    y += 16.0;
    for e in r.errors.iter().take(20) {
        y = c.para(20.0, y, Font::Alert, 190, 13.0, &e.to_string());
    }
    if r.errors.len() > 20 {
        c.text(
            20.0,
            y,
            Font::Alert,
            &format!(
                "... and {} more (see the text or JSON report)",
                r.errors.len() - 20
            ),
        );
        y += 13.0;
    }
    y
}

#[cfg(test)]
mod tests;
