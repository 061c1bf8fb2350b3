//! The report as a picture: the one a student would draw. Per process its
//! address space, the guest frames its pages landed in and the host frames
//! behind those, joined page by page; then one 2D page walk. A standalone
//! SVG: no scripts, no external fonts or resources.

mod canvas;
mod links;
mod process;
mod space;
mod walk;

use std::collections::HashSet;

use canvas::{Canvas, Font, STYLE, approx_size};

use super::model::Report;

const WIDTH: f64 = 1200.0;
/// Characters of 12px sans-serif that fit across the page.
const LINE_CHARS: usize = 170;

/// Colours by region kind; the page marks and lines use the same ones.
const KINDS: [(&str, &str); 5] = [
    ("code", "#4e79a7"),
    ("data", "#f28e2b"),
    ("heap", "#59a14f"),
    ("stack", "#e15759"),
    ("guard", "#9e9e9e"),
];
const OTHER: &str = "#b07aa1";

/// The colour for region kind `kind` (kinds come from the guest, so any
/// string maps to something).
fn colour(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(OTHER, |(_, c)| c)
}

/// A small number per kind, for de-duplicating marks.
fn kind_index(kind: &str) -> usize {
    KINDS
        .iter()
        .position(|(k, _)| *k == kind)
        .unwrap_or(KINDS.len())
}

/// Page marks on one column. Marks that land on the same pixel row in the
/// same colour add nothing but bytes, so each is drawn once.
#[derive(Default)]
struct Marks {
    seen: HashSet<(i64, i64, usize)>,
}

impl Marks {
    /// A mark `h` pixels tall at `y` across `x..x + w`, for a page of region
    /// kind `kind`.
    fn draw(&mut self, c: &mut Canvas, x: f64, w: f64, y: f64, h: f64, kind: &str) {
        let h = h.max(1.5);
        if self
            .seen
            .insert(((y * 2.0) as i64, (h * 2.0) as i64, kind_index(kind)))
        {
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
    let mut y = c.para(
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
    y = c.para(
        20.0,
        y,
        Font::Text,
        LINE_CHARS,
        15.0,
        &format!("HPA: {}; pagemap {}", h.hpa_meaning, h.pagemap),
    );
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
    y = c.para(
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
    );
    y = c.para(20.0, y, Font::Small, 200, 13.0, &h.nested_paging);
    let g = &r.guest;
    let guest = format!(
        "guest: mode {}, {} scheduling, outcome {}, {} processes",
        g.mode.as_deref().unwrap_or("unknown"),
        g.scheduling.as_deref().unwrap_or("unknown"),
        g.outcome,
        r.processes.len()
    );
    y = c.para(20.0, y + 2.0, Font::Text, LINE_CHARS, 15.0, &guest);
    let mut x = 20.0;
    for (k, col) in KINDS {
        c.rect(x, y - 2.0, 12.0, 12.0, &format!("fill=\"{col}\""));
        c.text(x + 16.0, y + 8.0, Font::Text, k);
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
        y = c.para(20.0, y, Font::Alert, 190, 13.0, e);
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
mod tests {
    use super::*;
    use crate::addr::{Gpa, Gva, Hpa, Hva};
    use crate::report::model::*;

    /// Checks that `doc` is well-formed XML as far as this renderer can get
    /// it wrong: balanced tags, one root, quoted unique attributes, no raw
    /// `<` or stray `&` in text.
    fn well_formed(doc: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = doc;
        while let Some(i) = rest.find(['<', '&']) {
            if rest[..i].contains('>') {
                return Err(format!("raw '>' in text near {:?}", &rest[..i]));
            }
            rest = &rest[i..];
            if rest.starts_with('&') {
                let end = rest.find(';').ok_or("unterminated entity")?;
                if !["&amp", "&lt", "&gt", "&quot", "&apos"].contains(&&rest[..end]) {
                    return Err(format!("bad entity {:?}", &rest[..end]));
                }
                rest = &rest[end + 1..];
                continue;
            }
            let end = tag_end(rest).ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let closed = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("bad tag name in <{tag}>"));
            }
            attributes(&body[name.len()..])?;
            if stack.is_empty() {
                roots += 1;
            }
            if !closed {
                stack.push(name);
            }
        }
        if !rest.trim().is_empty() || !stack.is_empty() || roots != 1 {
            return Err(format!(
                "{} roots, unclosed {stack:?}, trailing {rest:?}",
                roots
            ));
        }
        Ok(())
    }

    /// Index of the `>` ending the tag `s` starts with, skipping quoted values.
    fn tag_end(s: &str) -> Option<usize> {
        let mut quoted = false;
        for (i, c) in s.char_indices().skip(1) {
            match c {
                '"' => quoted = !quoted,
                '<' if !quoted => return None,
                '>' if !quoted => return Some(i),
                _ => {}
            }
        }
        None
    }

    /// Attributes as ` name="value"` pairs, each name once, no `<` in values.
    fn attributes(mut s: &str) -> Result<(), String> {
        let mut names = Vec::new();
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return Ok(());
            }
            let eq = s
                .find('=')
                .ok_or(format!("attribute without value: {s:?}"))?;
            let name = &s[..eq];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            {
                return Err(format!("bad attribute name {name:?}"));
            }
            if names.contains(&name) {
                return Err(format!("attribute {name} twice"));
            }
            names.push(name);
            let v = s[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted {name}"))?;
            let close = v.find('"').ok_or(format!("unterminated {name}"))?;
            if v[..close].contains('<') {
                return Err(format!("'<' in attribute {name}"));
            }
            s = &v[close + 1..];
        }
    }

    fn page(gva: u64, gpa: u64, hpa: Option<u64>, region: &str) -> PageReport {
        PageReport {
            gva: Gva(gva),
            gpa: Gpa(gpa),
            hva: Some(Hva(gpa.wrapping_add(0x7f00_0000_0000))),
            hpa: hpa.map(Hpa),
            guest_page_size: 4096,
            host_page_size: Some(4096),
            flags: "P US A".into(),
            region: region.into(),
            kvm_translate_gpa: Some(Gpa(gpa)),
        }
    }

    fn region(kind: &str, start: u64, end: u64, prot: &str, pages: u64) -> RegionReport {
        RegionReport {
            kind: kind.into(),
            start: Gva(start),
            end: Gva(end),
            prot: prot.into(),
            pages_mapped: pages,
        }
    }

    fn process(pid: u32, name: &str, hpa: bool) -> ProcessReport {
        let h = |x: u64| hpa.then_some(0x1_2000_0000 + x);
        let pages = vec![
            page(0x40_0000, 0x17_0000, h(0x7000), "code"),
            page(0x40_1000, 0x17_9000, h(0x1000), "data"),
            page(0x40_2000, 0x1b_7000, h(0x9000), "heap"),
            page(0x7fff_ffff_e000, 0x1b_3000, h(0x3000), "stack"),
        ];
        ProcessReport {
            pid,
            name: name.into(),
            cr3: Gpa(0x17_4000),
            regions: vec![
                region("code", 0x40_0000, 0x40_1000, "r-x", 1),
                region("data", 0x40_1000, 0x40_2000, "rw-", 1),
                region("heap", 0x40_2000, 0x40_3000, "rw-", 1),
                region("guard", 0x7fff_ff7f_e000, 0x7fff_ff7f_f000, "---", 0),
                region("stack", 0x7fff_ff7f_f000, 0x7fff_ffff_f000, "rw-", 1),
            ],
            pages_total: pages.len() as u64,
            pages,
            exit: ExitReport {
                kind: "exit".into(),
                status: Some(0),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn report(hpa: bool) -> Report {
        let lvl = |level: &str, t: u64, i: u16| WalkLevelReport {
            level: level.into(),
            table_gpa: Gpa(t),
            index: i,
            entry_gpa: Gpa(t + 8 * i as u64),
            entry: format!("{:#018x}", t + 0x1007),
            flags: "P RW US".into(),
            entry_hpa: hpa.then_some(Hpa(0x9_0000_0000 + t)),
        };
        let mut faulted = process(2, "plain", hpa);
        faulted.exit = ExitReport {
            kind: "fault".into(),
            address: Some(Gva(0x60_4000)),
            reason: Some("#PF: user read, a not-present page".into()),
            ..Default::default()
        };
        Report {
            schema: SCHEMA,
            host: HostReport {
                kvm_flavour: "pvm".into(),
                pagemap: if hpa {
                    "available".into()
                } else {
                    "unavailable (needs CAP_SYS_ADMIN)".into()
                },
                hpa_meaning: "host-physical = the outer VM's guest-physical".into(),
                nested: true,
                ..Default::default()
            },
            memory: MemoryReport {
                backing: "4k".into(),
                size: 128 << 20,
                slots: Vec::new(),
            },
            processes: vec![process(1, "a<b&c", hpa), faulted],
            whereis: vec![WhereisReport {
                pid: 1,
                gva: Gva(0x40_00a0),
                gpa: Some(Gpa(0x17_00a0)),
                hva: None,
                hpa: hpa.then_some(Hpa(0x1_2000_70a0)),
                guest_page_size: Some(4096),
                host_page_size: Some(4096),
                kvm_translate_gpa: Some(Gpa(0x17_00a0)),
                walk: vec![
                    lvl("PML4", 0x17_4000, 0),
                    lvl("PDPT", 0x17_6000, 0),
                    lvl("PD", 0x17_7000, 2),
                    lvl("PT", 0x17_8000, 0),
                ],
                hw_refs: 4,
                hw_refs_explained: "pvm: the CPU walks KVM's shadow table, 4 references".into(),
            }],
            errors: vec!["page 0x1 <odd> & \"quoted\"".into()],
            ..Default::default()
        }
    }

    #[test]
    fn checker_rejects_broken_markup() {
        for bad in [
            "<a><b></a>",
            "<a x=\"1\" x=\"2\"/>",
            "<a>&</a>",
            "<a>",
            "<a/><b/>",
            "<a>x > y</a>",
            "<a x=1/>",
        ] {
            assert!(well_formed(bad).is_err(), "{bad} passed");
        }
        assert_eq!(well_formed("<a x=\"1\"><b/>t &amp; u</a>\n"), Ok(()));
    }

    #[test]
    fn picture_is_well_formed_and_names_every_process() {
        let svg = render(&report(true));
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(well_formed(&svg), Ok(()));
        assert!(svg.contains("a&lt;b&amp;c"));
        assert!(!svg.contains("a<b&c"));
        assert!(svg.contains("plain"));
        assert!(svg.contains("2D page walk"));
        assert!(svg.contains("HPA 0x1200070a0"));
        assert!(svg.contains("&lt;odd&gt;"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("HPA unavailable"));
    }

    #[test]
    fn without_pagemap_says_why() {
        let svg = render(&report(false));
        assert_eq!(well_formed(&svg), Ok(()));
        assert!(svg.contains("HPA unavailable (needs CAP_SYS_ADMIN)"));
    }

    #[test]
    fn big_process_links_a_sample_and_says_so() {
        let mut r = report(true);
        let p = &mut r.processes[0];
        p.regions[2].end = Gva(0x40_2000 + 5000 * 4096);
        p.pages = (0..5000u64)
            .map(|i| {
                page(
                    0x40_2000 + i * 4096,
                    0x20_0000 + i * 4096,
                    Some(0x3_0000_0000 + i * 4096),
                    "heap",
                )
            })
            .collect();
        p.pages_total = 5000;
        let svg = render(&r);
        assert_eq!(well_formed(&svg), Ok(()));
        assert!(svg.contains("too many to draw"));
        assert!(svg.matches("<path").count() < 2 * 2000 + 200);
        assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
    }

    #[test]
    fn empty_and_hostile_reports_still_draw() {
        let svg = render(&Report::default());
        assert_eq!(well_formed(&svg), Ok(()));
        assert!(svg.contains("no processes reported"));
        let mut r = report(true);
        let p = &mut r.processes[1];
        p.regions
            .push(region("\u{1}<x>", u64::MAX, 0, "\"", u64::MAX));
        p.pages
            .push(page(u64::MAX, u64::MAX, Some(u64::MAX), "elsewhere"));
        r.whereis[0].walk.clear();
        r.whereis[0].guest_page_size = Some(3);
        let svg = render(&r);
        assert_eq!(well_formed(&svg), Ok(()));
    }
}
