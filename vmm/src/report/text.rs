//! The report as text for a terminal: the host's nested-paging mode, then
//! per process its regions and a few translation chains (text/process.rs),
//! then problems. `render` is the sections in the order they print.

use std::fmt::Write;

use super::model::*;

mod kvm;
mod lineage;
mod process;
use crate::terminal::escape_text;
use lineage::process_tree;

pub(super) fn opt<T: std::fmt::Display>(v: &Option<T>, none: &str) -> String {
    v.as_ref().map_or(none.to_string(), |x| x.to_string())
}

pub(super) fn size(b: u64) -> String {
    crate::size::format_size(b)
}

/// The report as the text microvmm prints after a run: host, memory and
/// guest first, then each process and walk, then the summary, KVM's
/// counters and the verdict.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n== microvmm report ==");
    host_and_memory(&mut s, r);
    guest(&mut s, r);
    process_tree(&mut s, &r.processes);
    for p in &r.processes {
        process::section(&mut s, p, r);
    }
    for w in &r.whereis {
        s.push('\n');
        s.push_str(&whereis(w, &r.host.pagemap));
    }
    dirty(&mut s, r);
    summary(&mut s, r);
    kvm::section(&mut s, &r.kvm, &r.processes, &r.host.kvm_flavour);
    verdict(&mut s, r);
    s
}

/// The host's nested paging, pagemap, and guest RAM with its memslots.
fn host_and_memory(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "host     : kvm flavour {}; {}",
        r.host.kvm_flavour, r.host.hpa_meaning
    );
    let _ = writeln!(s, "nested   : {}", r.host.nested_paging);
    let _ = writeln!(s, "TLB miss : {}", r.host.walk_refs_meaning);
    let _ = writeln!(s, "pagemap  : {}", r.host.pagemap);
    let _ = writeln!(
        s,
        "memory   : {} backed by {} pages",
        size(r.memory.size),
        r.memory.backing
    );
    for sl in &r.memory.slots {
        let flags = if sl.flags.is_empty() {
            "-".to_string()
        } else {
            sl.flags.join(",")
        };
        let _ = writeln!(
            s,
            "  slot {} : GPA {}..{} -> HVA {} ({}, flags {flags})",
            sl.slot,
            sl.gpa_start,
            sl.gpa_end,
            sl.hva,
            size(sl.size)
        );
    }
}

/// The guest's mode, run, vCPUs and CPU features.
fn guest(s: &mut String, r: &Report) {
    let g = &r.guest;
    let _ = writeln!(
        s,
        "guest    : mode {}, scheduling {}, boot {} us, run {:.1} ms, {} exits ({} hypercalls, {} serial), {}",
        opt(&g.mode, "unknown"),
        opt(&g.scheduling, "unknown"),
        g.boot_us.map_or("?".into(), |b| format!("{b:.0}")),
        g.run_ms,
        g.exits.total,
        g.exits.hypercall,
        g.exits.serial,
        g.outcome
    );
    if g.vcpus.len() > 1 {
        let each: Vec<String> = g
            .vcpus
            .iter()
            .map(|v| {
                format!(
                    "{}: {} exits, {:.1} ms in KVM_RUN",
                    v.index, v.exits, v.run_ms
                )
            })
            .collect();
        let _ = writeln!(s, "vCPUs    : {}", each.join("; "));
    }
    if g.processes_not_recorded > 0 {
        let _ = writeln!(
            s,
            "           {} more processes ran after the first {} were recorded: not analysed below",
            g.processes_not_recorded,
            r.processes.len()
        );
    }
    let refused: Vec<&str> = r.host.cpu_refused.iter().map(|c| c.feature).collect();
    let _ = writeln!(
        s,
        "cpu      : {}: {}{}; registers saved per process: {}",
        g.cpu,
        if g.cpu_features.is_empty() {
            "none of la57 xsave avx avx512f fsgsbase pcid pdpe1gb nx".to_string()
        } else {
            g.cpu_features.join(" ")
        },
        if refused.is_empty() {
            String::new()
        } else {
            format!(" (KVM refused {})", refused.join(" "))
        },
        g.fpu
            .as_ref()
            .map_or("unknown".to_string(), |f| match f.xcr0 {
                Some(x) => format!("xsave, XCR0 {x:#x}, {} bytes", f.bytes),
                None => format!("fxsave, {} bytes", f.bytes),
            })
    );
}

/// `--dirty-log`: the dirty pages by owner.
fn dirty(s: &mut String, r: &Report) {
    if let Some(d) = &r.dirty {
        let _ = writeln!(
            s,
            "\ndirty pages: {} (each credited to the last process that owned its frame)",
            d.pages_dirty
        );
        for o in &d.by_owner {
            let _ = writeln!(s, "  {:>7}  {}", o.pages, o.owner);
        }
    }
}

/// What was cross-checked, and the run's errors.
fn verdict(s: &mut String, r: &Report) {
    let _ = writeln!(s, "\nKVM_TRANSLATE cross-check: {}", r.verify_text);
    let checked: u64 = r.processes.iter().map(|p| p.pages_checked).sum();
    if r.errors.is_empty() && checked > 0 {
        let _ = writeln!(
            s,
            "\nno errors: every checked page agrees with KVM_TRANSLATE ({checked} pages checked)"
        );
    } else if r.errors.is_empty() {
        let _ = writeln!(
            s,
            "\nno errors, but no page was cross-checked with KVM_TRANSLATE (no process reported its exit)"
        );
    } else {
        let _ = writeln!(s, "\n{} errors:", r.errors.len());
        for e in &r.errors {
            let _ = writeln!(s, "  {e}");
        }
    }
}

/// One whereis answer (or --walk walk), as the report prints it: the
/// chain GVA -> GPA -> HVA -> HPA, then each level of the 2D walk.
/// `pagemap` says why an HPA is missing. gdb's `monitor whereis` too.
pub fn whereis(w: &WhereisReport, pagemap: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "whereis pid {} GVA {} -> GPA {} -> HVA {} -> HPA {}",
        w.pid,
        w.gva,
        opt(&w.gpa, "?"),
        opt(&w.hva, "?"),
        opt(&w.hpa, pagemap)
    );
    for l in &w.walk {
        let _ = writeln!(
            s,
            "    {:<4} table {} [{:>3}] entry at GPA {} (HPA {}) = {} {}",
            l.level,
            l.table_gpa,
            l.index,
            l.entry_gpa,
            opt(&l.entry_hpa, "?"),
            l.entry,
            l.flags
        );
    }
    let _ = writeln!(s, "    hardware: {}", w.hw_refs_explained);
    s
}

/// One line per process, then the host's nested-paging mode: the last thing
/// a reader sees.
fn summary(s: &mut String, r: &Report) {
    let _ = writeln!(s, "\n== translation summary ==");
    let _ = writeln!(
        s,
        "{:>4}  {:<12} {:<24} {:>7} {:>8}  guest frames (GPA)",
        "pid", "name", "end", "pages", "checked"
    );
    for p in &r.processes {
        let end = match p.exit.kind {
            ExitKind::Exit => format!("exit {}", opt(&p.exit.status, "?")),
            ExitKind::Fault => format!(
                "killed: vector {} err {:#x}",
                opt(&p.exit.vector, "?"),
                p.exit.error_code.unwrap_or(0)
            ),
            ExitKind::Signal => format!("killed: {}", p.exit.signal_name.unwrap_or("a signal")),
            ExitKind::Exec => "exec".to_string(),
            ExitKind::Running => "running".to_string(),
        };
        let span = match (p.frames_lowest, p.frames_highest) {
            (Some(lo), Some(hi)) => format!("{lo}..{hi}"),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "{:>4}  {:<12} {:<24} {:>7} {:>8}  {span}",
            p.pid,
            escape_text(&p.name),
            end,
            p.pages_total,
            p.pages_checked
        );
    }
    let _ = writeln!(
        s,
        "nested paging on this host: {}: {}",
        r.host.kvm_flavour, r.host.nested_paging
    );
}
