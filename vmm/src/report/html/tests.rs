//! The HTML page: its embedded data is the JSON report, exactly, and no
//! guest string can break out of it.

use super::*;
use crate::addr::{Gpa, Gva};
use crate::devices::event::{Prot, RegionKind};
use crate::report::model::*;

/// A report whose guest strings are hostile.
fn hostile() -> Report {
    let evil = "</script><script>alert(1)</script><!--&amp;";
    Report {
        schema: SCHEMA,
        processes: vec![ProcessReport {
            pid: 1,
            name: evil.into(),
            output: format!("{evil}\n0x400000\n"),
            regions: vec![RegionReport {
                kind: RegionKind::Code,
                start: Gva(0x40_0000),
                end: Gva(0x40_1000),
                prot: Prot::default(),
                pages_mapped: 1,
                faults: 0,
                cow_faults: 0,
                file: None,
                shared_pages: None,
            }],
            page_tables: Some(PageTablesReport {
                complete: true,
                tables: vec![TableReport {
                    gpa: Gpa(0x1000),
                    hpa: None,
                    host_page_size: Some(4096),
                    level: "PML4".into(),
                    entries: vec![(0, "0x8000000000002067".into())],
                }],
            }),
            ..Default::default()
        }],
        errors: vec![],
        ..Default::default()
    }
}

fn page(r: &Report) -> String {
    let mut out = Vec::new();
    write(r, &mut out).expect("write to a Vec");
    String::from_utf8(out).expect("UTF-8")
}

/// The text of the data element.
fn data(html: &str) -> &str {
    let open = format!("<script type=\"application/json\" id=\"{DATA_ID}\">");
    let start = html.find(&open).expect("data element") + open.len();
    let len = html[start..].find("</script>").expect("closed");
    &html[start..start + len]
}

#[test]
fn the_embedded_data_is_the_json_report() {
    let r = hostile();
    let html = page(&r);
    let embedded: serde_json::Value = serde_json::from_str(data(&html)).expect("valid JSON");
    let mut json = Vec::new();
    crate::report::json::write(&r, &mut json).expect("JSON");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    assert_eq!(embedded, json);
    assert_eq!(embedded["processes"][0]["name"], r.processes[0].name);
}

#[test]
fn guest_strings_cannot_leave_the_data_element() {
    let html = page(&hostile());
    let d = data(&html);
    assert!(
        !d.contains('<') && !d.contains('>') && !d.contains('&'),
        "{d}"
    );
    assert!(d.contains("\\u003c/script\\u003e"));
    // Exactly the page's own two script elements close.
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(!html.contains("alert(1)</script>"));
}

#[test]
fn the_page_is_self_contained() {
    let html = page(&Report::default());
    for outside in ["http://", "https://", "src=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
    assert!(html.contains("default-src 'none'"));
}

#[test]
fn the_script_cannot_end_its_own_element() {
    for part in JS.iter().chain([&CSS, &BODY]) {
        let lower = part.to_ascii_lowercase();
        assert!(!lower.contains("</script") && !lower.contains("<!--"));
    }
}
