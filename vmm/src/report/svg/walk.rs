//! The 2D page walk of one address: down, the guest's walk through its own
//! tables (every table and entry a guest-physical address); across, where
//! each of those guest-physical addresses really is on the host.

use super::canvas::{Canvas, Font, approx_size, n};
use crate::report::model::{Report, WhereisReport};

const X_G: f64 = 30.0;
const W_G: f64 = 500.0;
const X_H: f64 = 640.0;
const W_H: f64 = 320.0;
const X_NOTE: f64 = 990.0;
const BOX_H: f64 = 50.0;
const STEP: f64 = 74.0;

const GUEST_BOX: &str = "fill=\"#eef3fb\" stroke=\"#4e79a7\"";
const HOST_BOX: &str = "fill=\"#f6f0e6\" stroke=\"#9c755f\"";
const ARROW: &str = "stroke=\"#444\" stroke-width=\"1.2\"";

/// A line ending in an arrowhead at (x2, y2); only straight down or right.
fn arrow(c: &mut Canvas, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
    c.line(x1, y1, x2, y2, style);
    let d = if x1 == x2 {
        format!(
            "M{} {}L{} {}L{} {}Z",
            n(x2 - 4.0),
            n(y2 - 7.0),
            n(x2),
            n(y2),
            n(x2 + 4.0),
            n(y2 - 7.0)
        )
    } else {
        format!(
            "M{} {}L{} {}L{} {}Z",
            n(x2 - 7.0),
            n(y2 - 4.0),
            n(x2),
            n(y2),
            n(x2 - 7.0),
            n(y2 + 4.0)
        )
    };
    c.path(&d, "fill=\"#444\"");
}

/// One step of the walk: a guest box, and the host box for the address it
/// was read from.
struct Step {
    guest: [String; 3],
    host: [String; 2],
}

/// Draws the walk of `w` from `y0` down; returns the y below it.
pub fn draw(c: &mut Canvas, r: &Report, w: &WhereisReport, y0: f64) -> f64 {
    heading(c, r, w, y0);
    let y = walk(c, w, &steps(r, w), y0);
    let note = "Read down for the guest's walk: CR3, then one entry per level, each \
                naming the next table's guest-physical address. Read across for the \
                second dimension: every one of those guest-physical addresses is \
                itself backed by host memory. Who walks what depends on the host's \
                flavour (below).";
    c.para(X_NOTE, y0 + 84.0, Font::Small, 36, 13.0, note);
    hardware(c, r, w, y - STEP + BOX_H + 24.0)
}

/// The title, the GVA split into its table indices, the two dimensions'
/// headings.
fn heading(c: &mut Canvas, r: &Report, w: &WhereisReport, y0: f64) {
    let name = r
        .processes
        .iter()
        .find(|p| p.pid == w.pid)
        .map_or("", |p| p.name.as_str());
    c.text(
        X_G - 12.0,
        y0 + 18.0,
        Font::Title,
        &format!("2D page walk: pid {} {name}, GVA {}", w.pid, w.gva),
    );
    let mut split: Vec<String> = w
        .walk
        .iter()
        .map(|l| format!("{}[{}]", l.level, l.index))
        .collect();
    if let Some(ps) = w.guest_page_size.filter(|s| s.is_power_of_two()) {
        split.push(format!("offset {:#x}", w.gva.raw() & (ps - 1)));
    }
    c.text(
        X_G,
        y0 + 38.0,
        Font::Mono,
        &format!("GVA {} = {}", w.gva, split.join(" + ")),
    );
    c.text(
        X_G,
        y0 + 58.0,
        Font::Bold,
        "guest dimension: the guest's own page tables, in guest RAM",
    );
    c.text(
        X_H,
        y0 + 58.0,
        Font::Bold,
        "host dimension: where that GPA really is",
    );
}

/// One step per level, then the data page.
fn steps(r: &Report, w: &WhereisReport) -> Vec<Step> {
    let unavailable = || format!("HPA {}", r.host.pagemap);
    let opt_hpa = |h: Option<crate::addr::Hpa>| h.map_or_else(unavailable, |h| format!("HPA {h}"));
    let mut steps: Vec<Step> = w
        .walk
        .iter()
        .map(|l| Step {
            guest: [
                format!("{} table at GPA {}", l.level, l.table_gpa),
                format!("[{}] entry at GPA {} = {}", l.index, l.entry_gpa, l.entry),
                format!("flags {}", l.flags),
            ],
            host: [
                opt_hpa(l.entry_hpa),
                format!("the {} entry itself", l.level),
            ],
        })
        .collect();
    let size = |s: Option<u64>| s.map_or("?".into(), approx_size);
    steps.push(Step {
        guest: [
            format!(
                "data page: GPA {}",
                w.gpa.map_or("?".into(), |g| g.to_string())
            ),
            format!("HVA {}", w.hva.map_or("?".into(), |h| h.to_string())),
            format!("{} guest page", size(w.guest_page_size)),
        ],
        host: [
            opt_hpa(w.hpa),
            w.host_page_size.map_or("the data page".into(), |s| {
                format!("the data, in a {} host page", approx_size(s))
            }),
        ],
    });
    steps
}

/// CR3, then each step: down the guest's walk, across to the host; returns
/// the y of the step after the last.
fn walk(c: &mut Canvas, w: &WhereisReport, steps: &[Step], y0: f64) -> f64 {
    // CR3 names the first table; each entry names the next.
    let mut y = y0 + 72.0;
    let cr3 = w
        .walk
        .first()
        .map_or("?".into(), |l| l.table_gpa.to_string());
    c.rect(X_G, y, 200.0, 22.0, GUEST_BOX);
    c.text(X_G + 8.0, y + 15.0, Font::Mono, &format!("CR3 = {cr3}"));
    arrow(c, (X_G + 30.0, y + 22.0), (X_G + 30.0, y + 40.0), ARROW);
    y += 40.0;
    let last = steps.len() - 1;
    for (i, s) in steps.iter().enumerate() {
        c.rect(X_G, y, W_G, BOX_H, GUEST_BOX);
        c.text(X_G + 8.0, y + 15.0, Font::Bold, &s.guest[0]);
        c.text(X_G + 8.0, y + 30.0, Font::Mono, &s.guest[1]);
        c.text(X_G + 8.0, y + 44.0, Font::Small, &s.guest[2]);
        let mid = y + BOX_H / 2.0;
        arrow(
            c,
            (X_G + W_G, mid),
            (X_H, mid),
            "stroke=\"#9c755f\" stroke-dasharray=\"5 3\"",
        );
        c.text_styled(
            (X_G + W_G + X_H) / 2.0,
            mid - 5.0,
            Font::Small,
            "text-anchor=\"middle\"",
            "GPA → HPA",
        );
        c.rect(X_H, y + 5.0, W_H, BOX_H - 10.0, HOST_BOX);
        c.text(X_H + 8.0, y + 21.0, Font::Mono, &s.host[0]);
        c.text(X_H + 8.0, y + 35.0, Font::Small, &s.host[1]);
        if i < last {
            arrow(c, (X_G + 30.0, y + BOX_H), (X_G + 30.0, y + STEP), ARROW);
            let to = if i + 1 == last {
                "the data page"
            } else {
                "the next table"
            };
            c.text(
                X_G + 38.0,
                y + BOX_H + 15.0,
                Font::Small,
                &format!("entry points to {to}"),
            );
        }
        y += STEP;
    }
    y
}

/// What the hardware's walk costs on this host, and KVM_TRANSLATE's
/// answer, from `y` down; returns the y below.
fn hardware(c: &mut Canvas, r: &Report, w: &WhereisReport, mut y: f64) -> f64 {
    c.text(
        X_G,
        y,
        Font::Bold,
        &format!(
            "{} memory references by the hardware for one translation on this host ({})",
            w.hw_refs, r.host.kvm_flavour
        ),
    );
    y = c.para(X_G, y + 16.0, Font::Text, 165, 15.0, &w.hw_refs_explained);
    if let Some(k) = w.kvm_translate_gpa {
        let agree = if Some(k) == w.gpa {
            "agrees"
        } else {
            "DISAGREES"
        };
        c.text(
            X_G,
            y,
            Font::Small,
            &format!("KVM_TRANSLATE says GPA {k}: {agree} with the walk"),
        );
        y += 14.0;
    }
    y + 8.0
}
