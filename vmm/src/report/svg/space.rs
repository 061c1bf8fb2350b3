//! The guest-virtual column of a process panel: its regions stacked in
//! address order, a break where addresses skip, a strip of page marks, and
//! where the process faulted.

use super::canvas::{Axis, Canvas, Font, approx_size, n};
use super::{Marks, colour};
use crate::addr::PAGE;
use crate::devices::event::RegionKind;
use crate::report::model::{ExitKind, ProcessReport, RegionReport};

pub const X_BOX: f64 = 44.0;
pub const W_BOX: f64 = 256.0;
/// The page marks, right of the region boxes.
pub const X_STRIP: f64 = 302.0;
pub const W_STRIP: f64 = 12.0;
const GAP_H: f64 = 36.0;

/// Where the regions of one address space are drawn, in address order.
pub struct Space<'a> {
    blocks: Vec<(&'a RegionReport, Axis)>,
    /// Unmapped stretches between regions: (first byte, end, top pixel).
    gaps: Vec<(u64, u64, f64)>,
    pub bottom: f64,
}

impl Space<'_> {
    /// Regions stacked from `top` down, each as tall as the log of its size
    /// (an 8 MiB stack next to a 4 KiB data page would vanish to scale), with
    /// a break drawn where addresses skip.
    pub fn new(regions: &[RegionReport], top: f64) -> Space<'_> {
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
    pub fn axis(&self, gva: u64) -> Option<&Axis> {
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

/// Draws the regions, the breaks between them, the marks of the listed
/// pages and the fault of `p`, laid out by `space`.
pub fn draw(c: &mut Canvas, p: &ProcessReport, space: &Space, bottom: f64) {
    blocks(c, space);
    gaps(c, space);
    if space.blocks.is_empty() {
        c.text(
            X_BOX,
            space.bottom + 14.0,
            Font::Small,
            "no regions reported",
        );
    }
    let mut seen = Marks::default();
    for pg in &p.pages {
        if let Some(a) = space.axis(pg.gva.raw()) {
            let len = a.len(pg.guest_page_size.bytes());
            seen.draw(c, X_STRIP, W_STRIP, a.y(pg.gva.raw()), len, pg.region);
        }
    }
    if p.exit.kind == ExitKind::Fault
        && let Some(addr) = p.exit.address
    {
        fault_marker(c, space, addr.raw(), bottom);
    }
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
            let end = space.blocks.iter().map(|(r, _)| r.end.raw()).max();
            let start = space.blocks.iter().map(|(r, _)| r.start.raw()).min();
            let whr = match (start, end) {
                (_, Some(e)) if addr >= e => "above every region",
                (Some(s), _) if addr < s => "below every region",
                _ => "outside every region",
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

/// Each region as a box: its kind, protection, pages and span.
fn blocks(c: &mut Canvas, space: &Space) {
    for (rg, a) in &space.blocks {
        let fill = colour(Some(rg.kind));
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
        let grows = match rg.kind {
            RegionKind::Stack => "grows toward lower addresses (up here)",
            RegionKind::Heap => "grows toward higher addresses (down here)",
            _ => "",
        };
        if !grows.is_empty() && a.height >= 46.0 {
            c.text(X_BOX + 6.0, a.top + 40.0, Font::Small, grows);
        }
    }
}

/// The breaks between regions: how much unmapped space each hides.
fn gaps(c: &mut Canvas, space: &Space) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Gva;

    fn region(kind: &str, start: u64, end: u64) -> RegionReport {
        RegionReport {
            kind: kind.parse().expect("a region kind"),
            start: Gva(start),
            end: Gva(end),
            prot: "rw-".parse().expect("rwx"),
            pages_mapped: 1,
            faults: 0,
            cow_faults: 0,
            file: None,
            shared_pages: None,
        }
    }

    #[test]
    fn regions_stack_in_address_order_with_breaks() {
        let regions = [
            region("stack", 0x7fff_ff7f_f000, 0x7fff_ffff_f000),
            region("code", 0x40_0000, 0x40_2000),
            region("heap", 0x40_2000, 0x40_3000),
        ];
        let s = Space::new(&regions, 100.0);
        let kinds: Vec<&str> = s.blocks.iter().map(|(r, _)| r.kind.as_str()).collect();
        assert_eq!(kinds, ["code", "heap", "stack"]);
        // Adjacent regions touch; the skip to the stack gets one break.
        assert_eq!(s.blocks[0].1.top + s.blocks[0].1.height, s.blocks[1].1.top);
        assert_eq!(
            s.gaps,
            vec![(0x40_3000, 0x7fff_ff7f_f000, s.blocks[2].1.top - GAP_H)]
        );
        assert_eq!(s.bottom, s.blocks[2].1.top + s.blocks[2].1.height);
        // Taller for bigger, but never absurdly tall.
        assert!(s.blocks[2].1.height > s.blocks[1].1.height);
        assert!(s.blocks[2].1.height <= 110.0);
        assert_eq!(s.axis(0x40_1000).map(|a| a.lo), Some(0x40_0000));
        assert!(s.axis(0x60_0000).is_none());
        assert_eq!(s.marker(0x60_0000), Some(s.gaps[0].2 + GAP_H / 2.0));
        assert_eq!(s.marker(u64::MAX), None);
    }

    #[test]
    fn hostile_regions_do_not_break_the_layout() {
        let regions = [region("heap", u64::MAX, 0), region("stack", 5, 5)];
        let s = Space::new(&regions, 0.0);
        assert!(s.bottom.is_finite() && s.bottom > 0.0);
        assert!(s.axis(5).is_none());
    }
}
