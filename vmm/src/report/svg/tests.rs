//! Tests of the SVG renderer on hand-built reports.
use super::*;
use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::devices::hypercall::ProtocolError;
use crate::observations::RunError;
use crate::paging::{Cr3, PageSize, PteFlags};
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

fn page(gva: u64, gpa: u64, hpa: Option<u64>, region: &str) -> PageObs {
    PageObs {
        gva: Gva(gva),
        gpa: Gpa(gpa),
        hva: Some(Hva(gpa.wrapping_add(0x7f00_0000_0000))),
        hpa: hpa.map(Hpa),
        guest_page_size: PageSize::Size4K,
        host_page_size: Some(4096),
        flags: PteFlags::P.union(PteFlags::US).union(PteFlags::A),
        region: region.parse().ok(),
        kvm: Some(Gpa(gpa)),
    }
}

fn region(kind: &str, start: u64, end: u64, prot: &str, pages: u64) -> RegionReport {
    RegionReport {
        kind: kind.parse().expect("a region kind"),
        start: Gva(start),
        end: Gva(end),
        prot: prot.parse().expect("rwx"),
        pages_mapped: pages,
        faults: 0,
        cow_faults: 0,
        file: None,
        shared_pages: None,
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
        cr3: Cr3(0x17_4000),
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
            kind: ExitKind::Exit,
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
        kind: ExitKind::Fault,
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
            resident: None,
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
        errors: vec![RunError::Protocol(ProtocolError::UnknownKind(99))],
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
    assert!(svg.contains("guest protocol: unknown message kind 99"));
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
        .push(region("guard", u64::MAX, 0, "---", u64::MAX));
    p.pages
        .push(page(u64::MAX, u64::MAX, Some(u64::MAX), "elsewhere"));
    r.whereis[0].walk.clear();
    r.whereis[0].guest_page_size = Some(3);
    let svg = render(&r);
    assert_eq!(well_formed(&svg), Ok(()));
}
