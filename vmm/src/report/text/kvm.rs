//! The text report's "what it cost KVM": KVM's own counters for the run,
//! the kernel, the mixed intervals and each process, then what each shown
//! counter means on this host's flavour, in plain words.

use std::fmt::Write;

use super::super::kvm::KvmReport;
use super::super::model::ProcessReport;
use crate::kvmstats::Values;
use crate::terminal::escape_text;

/// Most process columns the table shows (the JSON has them all).
const MAX_COLUMNS: usize = 6;

fn get(v: &Values, scope: &str, name: &str) -> u64 {
    let m = if scope == "vm" { &v.vm } else { &v.vcpu };
    m.get(name).copied().unwrap_or(0)
}

/// The section, for the report of a run on flavour `flavour`.
pub fn section(s: &mut String, k: &KvmReport, procs: &[ProcessReport], flavour: &str) {
    let _ = writeln!(s, "\n== what it cost KVM ({flavour}) ==");
    if !k.available {
        let _ = writeln!(
            s,
            "unavailable: {} (KVM's binary stats need Linux 5.14 or later)",
            k.why.as_deref().unwrap_or("no stats fd")
        );
        return;
    }
    let shown: Vec<&ProcessReport> = procs
        .iter()
        .filter(|p| p.kvm.is_some())
        .take(MAX_COLUMNS)
        .collect();
    table(s, k, &shown);
    per_fault(s, &shown, flavour);
    let _ = writeln!(
        s,
        "sampled {} times while the vCPU ran; {} of the intervals between samples held a process switch: their counts are \"mixed\", not split{}",
        k.samples,
        k.mixed_samples,
        if get(&k.other, "vcpu", "exits") > 0 {
            "; processes not in the report are summed as \"other\" in the JSON"
        } else {
            ""
        }
    );
}

/// One row per counter KVM moved (run, kernel, mixed, then each shown
/// process), then what each counter means.
fn table(s: &mut String, k: &KvmReport, shown: &[&ProcessReport]) {
    let _ = write!(
        s,
        "{:<18} {:>8} {:>8} {:>8}",
        "counter", "run", "kernel", "mixed"
    );
    for p in shown {
        let mut name: String = escape_text(&p.name).chars().take(8).collect();
        if p.image > 0 {
            name = format!("{name}'{}", p.image);
        }
        let _ = write!(s, " {:>14}", format!("{} {}", p.pid, name));
    }
    let _ = writeln!(s);
    let rows: Vec<_> = k
        .meanings
        .iter()
        .filter(|(scope, name, _)| get(&k.total, scope, name) > 0)
        .collect();
    for (scope, name, _) in &rows {
        let _ = write!(
            s,
            "{:<18} {:>8} {:>8} {:>8}",
            name,
            get(&k.total, scope, name),
            get(&k.kernel, scope, name),
            get(&k.mixed, scope, name)
        );
        for p in shown {
            let v = p.kvm.as_ref().map_or(0, |v| get(v, scope, name));
            let _ = write!(s, " {v:>14}");
        }
        let _ = writeln!(s);
    }
    for (_, name, meaning) in &rows {
        let _ = writeln!(s, "  {name}: {meaning}");
    }
}

/// Each shown process's VM exits per guest page fault (shadow paging, PVM)
/// or per demand fault (EPT/NPT).
fn per_fault(s: &mut String, shown: &[&ProcessReport], flavour: &str) {
    // Per fault within the process's own intervals: on shadow paging and
    // PVM every guest fault passes through KVM as pf_guest, so exits over
    // pf_guest compares counts of the same intervals ("mixed" ones are in
    // neither). Under EPT/NPT the guest takes its faults itself.
    let shadow = matches!(flavour, "pvm" | "shadow");
    for p in shown {
        let v = p.kvm.as_ref();
        let exits = v.map_or(0, |v| v.vcpu("exits"));
        let own = v.map_or(0, |v| v.vcpu("pf_guest"));
        let faults: u64 = p.faults_by_kind.values().sum();
        if shadow && own > 0 {
            let _ = writeln!(
                s,
                "pid {} {}: {:.1} VM exits per guest page fault in its own intervals ({exits} exits, {own} faults KVM passed to the guest kernel; {faults} demand faults in all)",
                p.pid,
                escape_text(&p.name),
                exits as f64 / own as f64
            );
        } else if !shadow && faults > 0 {
            let _ = writeln!(
                s,
                "pid {} {}: {exits} VM exits in its own intervals for {faults} demand faults in all",
                p.pid,
                escape_text(&p.name),
            );
        }
    }
}
