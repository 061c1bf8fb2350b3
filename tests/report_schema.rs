//! The report's JSON Schema (docs/report.schema.json) is the one the model
//! types generate (schemars), and it is strict enough to refuse a wrong
//! report. No KVM: the report is built in-process. The integration tests
//! validate every report they read against the same file (tests/common).

mod common;

use microvmm::report::{Report, json};

/// Regenerate the committed schema after changing the report model.
const REGENERATE: &str = "MICROVMM_WRITE_SCHEMA=1 cargo test --release --test report_schema";

fn generated() -> String {
    let schema = schemars::schema_for!(Report);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}

#[test]
fn committed_schema_is_the_generated_one() {
    let path = common::schema_path();
    let want = generated();
    if std::env::var_os("MICROVMM_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &want).expect("write docs/report.schema.json");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what the report model generates; regenerate it with: {REGENERATE}",
        path.display()
    );
}

/// A report as `--json` writes it, as a JSON value.
fn written(r: &Report) -> serde_json::Value {
    let mut out = Vec::new();
    json::write(r, &mut out).expect("write the report");
    serde_json::from_slice(&out).expect("the report is JSON")
}

fn a_report() -> Report {
    use microvmm::addr::{Gpa, Gva};
    use microvmm::paging::{PageSize, PteFlags};
    use microvmm::report::*;
    Report {
        schema: microvmm::report::SCHEMA,
        verify: "sample",
        processes: vec![ProcessReport {
            pid: 1,
            name: "addrspace".into(),
            pages: vec![PageObs {
                gva: Gva(0x40_0000),
                gpa: Gpa(0x17_9000),
                hva: None,
                hpa: None,
                guest_page_size: PageSize::Size4K,
                host_page_size: Some(4096),
                flags: PteFlags::P.union(PteFlags::US),
                region: None,
                kvm: Some(Gpa(0x17_9000)),
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn a_written_report_validates() {
    let v = written(&a_report());
    common::check_schema(&v);
}

/// A change that makes a report wrong.
type Spoil = fn(&mut serde_json::Value);

/// The schema is not a formality: a wrong type, an address as a number,
/// a missing key or an unknown exit kind is refused.
#[test]
fn a_wrong_report_is_refused() {
    let good = written(&a_report());
    let validator = common::schema_validator();
    assert!(validator.is_valid(&good));
    let wrong: [(&str, Spoil); 5] = [
        ("address as a number", |v| {
            v["processes"][0]["pages"][0]["gva"] = 4194304.into()
        }),
        ("address not hex", |v| {
            v["processes"][0]["pages"][0]["gpa"] = "179000".into()
        }),
        ("size as a string", |v| v["memory"]["size"] = "128M".into()),
        ("a key missing", |v| {
            v["processes"][0]
                .as_object_mut()
                .expect("object")
                .remove("pid");
        }),
        ("an unknown exit kind", |v| {
            v["processes"][0]["exit"]["kind"] = "vanished".into()
        }),
    ];
    for (what, spoil) in wrong {
        let mut v = good.clone();
        spoil(&mut v);
        assert!(!validator.is_valid(&v), "{what}: validated anyway");
    }
}
