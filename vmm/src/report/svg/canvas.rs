//! The few SVG primitives the picture needs, written as text. Every string
//! that reaches the document goes through `esc`: process names, region kinds
//! and fault reasons come from the guest.

use std::fmt::Write;

/// Text made safe for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// A coordinate with one decimal: finer than a pixel, and never "NaN".
pub fn n(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let s = format!("{x:.1}");
    match s.strip_suffix(".0") {
        Some(i) => i.to_string(),
        None => s,
    }
}

/// A byte count for a caption, rounded to one decimal in the largest binary
/// unit it reaches ("3 MiB", "128.0 TiB"): gaps are rarely whole units.
pub fn approx_size(b: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut i = 0;
    let mut unit = 1u64;
    while i + 1 < UNITS.len() && b / unit >= 1024 {
        unit *= 1024;
        i += 1;
    }
    if b.is_multiple_of(unit) {
        format!("{} {}", b / unit, UNITS[i])
    } else {
        format!("{:.1} {}", b as f64 / unit as f64, UNITS[i])
    }
}

/// Break a sentence into lines of at most `width` characters, at spaces
/// where it can.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let cur_len = cur.chars().count();
        if cur_len > 0 && cur_len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Text styles, defined once in the document's `<style>`.
#[derive(Clone, Copy)]
pub enum Font {
    /// Captions, sans-serif 12px.
    Text,
    /// Captions that need weight, bold sans-serif.
    Bold,
    /// Headings, bold sans-serif 15px.
    Title,
    /// Addresses, monospace 11px.
    Mono,
    /// Small print, sans-serif 10px grey.
    Small,
    /// Small print in red: faults and errors.
    Alert,
}

impl Font {
    fn class(self) -> &'static str {
        match self {
            Font::Text => "t",
            Font::Bold => "b",
            Font::Title => "h",
            Font::Mono => "m",
            Font::Small => "s",
            Font::Alert => "s e",
        }
    }
}

/// The `<style>` block the fonts and the line classes refer to.
pub const STYLE: &str = "text{font-family:sans-serif;font-size:12px;fill:#222}\
.b{font-weight:bold}.h{font-size:15px;font-weight:bold}\
.m{font-family:monospace;font-size:11px}.s{font-size:10px;fill:#555}\
.e{fill:#b00020}";

/// An SVG body under construction.
#[derive(Default)]
pub struct Canvas {
    pub out: String,
}

impl Canvas {
    /// A rectangle; `style` holds attributes of our own, never guest text.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, style: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {style}/>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
    }

    /// A straight line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {style}/>",
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    /// A path; `d` is built from numbers only.
    pub fn path(&mut self, d: &str, style: &str) {
        let _ = writeln!(self.out, "<path d=\"{d}\" {style}/>");
    }

    /// A left-aligned text line.
    pub fn text(&mut self, x: f64, y: f64, font: Font, s: &str) {
        self.text_styled(x, y, font, "", s);
    }

    /// A text line with extra attributes (`text-anchor`, a fill class...).
    pub fn text_styled(&mut self, x: f64, y: f64, font: Font, extra: &str, s: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\" class=\"{}\" {extra}>{}</text>",
            n(x),
            n(y),
            font.class(),
            esc(s)
        );
    }

    /// Text wrapped to `width` characters, one line every `step` pixels;
    /// returns the y below the last line.
    pub fn para(&mut self, x: f64, y: f64, font: Font, width: usize, step: f64, s: &str) -> f64 {
        let mut y = y;
        for l in wrap(s, width) {
            self.text(x, y, font, &l);
            y += step;
        }
        y
    }

    /// Raw markup of our own making (group tags).
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }
}

/// A linear map from an address range onto a vertical span of pixels.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    pub lo: u64,
    pub hi: u64,
    pub top: f64,
    pub height: f64,
}

impl Axis {
    /// The axis for addresses `lo..hi` drawn from `top` down over `height`.
    pub fn new(lo: u64, hi: u64, top: f64, height: f64) -> Axis {
        Axis {
            lo,
            hi: hi.max(lo.saturating_add(1)),
            top,
            height,
        }
    }

    /// Where address `v` falls (clamped to the span).
    pub fn y(&self, v: u64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.top + (v - self.lo) as f64 / (self.hi - self.lo) as f64 * self.height
    }

    /// Height of `len` bytes on this axis.
    pub fn len(&self, len: u64) -> f64 {
        len as f64 / (self.hi - self.lo) as f64 * self.height
    }
}

/// Move label positions (sorted by wanted y) apart so neighbours are at
/// least `gap` pixels apart, staying within `lo..=hi`; `None` if they cannot
/// all fit.
pub fn spread(wanted: &[f64], gap: f64, lo: f64, hi: f64) -> Option<Vec<f64>> {
    if wanted.is_empty() {
        return Some(Vec::new());
    }
    if (wanted.len() - 1) as f64 * gap > hi - lo {
        return None;
    }
    let mut ys: Vec<f64> = wanted.iter().map(|y| y.clamp(lo, hi)).collect();
    for i in 1..ys.len() {
        ys[i] = ys[i].max(ys[i - 1] + gap);
    }
    let last = ys.len() - 1;
    ys[last] = ys[last].min(hi);
    for i in (0..last).rev() {
        ys[i] = ys[i].min(ys[i + 1] - gap);
    }
    Some(ys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b&c>\"'"), "a&lt;b&amp;c&gt;&quot;&apos;");
        assert_eq!(esc("x\u{1}y"), "x?y");
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(n(3.0), "3");
        assert_eq!(n(2.25), "2.2");
        assert_eq!(n(f64::NAN), "0");
        assert_eq!(approx_size(3 << 20), "3 MiB");
        assert_eq!(approx_size(0x7fff_ff7f_e000 - 0x70_6000), "128.0 TiB");
        assert_eq!(approx_size(100), "100 bytes");
    }

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("aaa bbb ccc", 8), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 8), vec!["abcdefgh", "ij"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn axis_maps_and_clamps() {
        let a = Axis::new(0x1000, 0x3000, 10.0, 100.0);
        assert_eq!(a.y(0x2000), 60.0);
        assert_eq!(a.y(0), 10.0);
        assert_eq!(a.y(u64::MAX), 110.0);
        let degenerate = Axis::new(5, 5, 0.0, 10.0);
        assert!(degenerate.y(5).is_finite());
    }

    #[test]
    fn spread_keeps_gaps_and_bounds() {
        let ys = spread(&[10.0, 11.0, 12.0, 100.0], 10.0, 0.0, 105.0);
        assert_eq!(ys, Some(vec![10.0, 20.0, 30.0, 100.0]));
        let ys = spread(&[100.0, 100.0], 10.0, 0.0, 100.0);
        assert_eq!(ys, Some(vec![90.0, 100.0]));
        assert_eq!(spread(&[0.0, 0.0, 0.0], 10.0, 0.0, 15.0), None);
    }
}
