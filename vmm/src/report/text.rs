//! The report as text for a terminal: the host's nested-paging mode, then
//! per process its regions and a few translation chains, then problems.

use std::fmt::Write;

use super::faults::faults_text;
use super::model::*;

mod kvm;
mod lineage;
use crate::observations::NotMapped;
use crate::terminal::escape_text;
use lineage::{lineage, process_tree, shared_line, sharing_of};

fn opt<T: std::fmt::Display>(v: &Option<T>, none: &str) -> String {
    v.as_ref().map_or(none.to_string(), |x| x.to_string())
}

fn size(b: u64) -> String {
    crate::size::format_size(b)
}

/// The report as the text microvmm prints after a run: host, memory and
/// guest first, then each process and walk.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n== microvmm report ==");
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
    process_tree(&mut s, &r.processes);
    for p in &r.processes {
        let end = p.exit.summary();
        let _ = writeln!(
            s,
            "\npid {} {}{}: {end}; CR3 {}{}; {} pages mapped at exit ({} checked against KVM_TRANSLATE); faults: {}",
            p.pid,
            escape_text(&p.name),
            lineage(p, &r.processes),
            p.cr3,
            p.user_pgd
                .map_or(String::new(), |u| format!(" (user PGD {u})")),
            p.pages_total,
            p.pages_checked,
            faults_text(&p.faults_by_kind)
        );
        if let (Some(path), Some(argv)) = (&p.path, &p.argv) {
            let _ = writeln!(s, "  ran {}: argv {argv:?}", escape_text(path));
        }
        if p.vcpus.iter().any(|&c| c != 0) {
            let each: Vec<String> = p.vcpus.iter().map(u32::to_string).collect();
            let _ = writeln!(s, "  ran on vCPUs {}", each.join(", "));
        }
        super::threads::text(&mut s, &p.threads, p.threads_dropped);
        if p.tlb_shootdowns > 0 {
            let _ = writeln!(
                s,
                "  TLB shootdowns: {} (IPIs to other vCPUs running its threads; {} pages flushed one by one, the rest full flushes; {:.1} us waited)",
                p.tlb_shootdowns, p.tlb_shootdown_pages, p.tlb_shootdown_us
            );
        }
        let unknown = p.sharing.as_ref().is_some_and(|sh| !sh.complete);
        for rg in &p.regions {
            let _ = writeln!(
                s,
                "  {:<8} {}..{} {} {:>6} pages mapped, {} faults{}{}",
                rg.kind,
                rg.start,
                rg.end,
                rg.prot,
                rg.pages_mapped,
                rg.faults,
                sharing_of(rg, unknown),
                rg.file
                    .as_ref()
                    .map_or(String::new(), |f| format!("  {}", escape_text(f)))
            );
        }
        shared_line(&mut s, p);
        program_facts(&mut s, p, &r.host.pagemap);
        efficiency(&mut s, p);
        // Runs of pages contiguous in both GVA and GPA: how scattered the
        // guest frames behind one contiguous region are.
        let shown = 6;
        let listed = if p.ranges_total > p.ranges.len() as u64 {
            format!(", the first {} listed", p.ranges.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {} mapped runs (contiguous in GVA and GPA){listed}:",
            p.ranges_total.max(p.ranges.len() as u64)
        );
        for r in p.ranges.iter().take(shown) {
            let _ = writeln!(
                s,
                "    GVA {:>14} -> GPA {:>10}  {:>5} x {} [{}]",
                r.gva.to_string(),
                r.gpa.to_string(),
                r.pages,
                size(r.page_size),
                r.flags
            );
        }
        if p.ranges.len() > shown {
            let _ = writeln!(
                s,
                "    ... {} more runs listed (--json)",
                p.ranges.len() - shown
            );
        }
        let _ = writeln!(s, "  sample chains:");
        for pg in &p.pages {
            let _ = writeln!(
                s,
                "    {:<8} GVA {:>14} -> GPA {:>10} -> HVA {} -> HPA {} [{} guest page, {} host page, {}]",
                region_text(pg.region),
                pg.gva.to_string(),
                pg.gpa.to_string(),
                opt(&pg.hva, "none"),
                opt(&pg.hpa, &r.host.pagemap),
                size(pg.guest_page_size.bytes()),
                pg.host_page_size.map_or("?".into(), size),
                pg.flags
            );
        }
        if let Some(pt) = &p.pattern {
            let _ = writeln!(
                s,
                "  pattern at {}: wrote {}, read back {} via GPA and {} via HVA: {}",
                pt.gva,
                pt.expected,
                opt(&pt.via_gpa, "nothing"),
                opt(&pt.via_hva, "nothing"),
                if pt.ok { "ok" } else { "MISMATCH" }
            );
        }
    }
    for w in &r.whereis {
        s.push('\n');
        s.push_str(&whereis(w, &r.host.pagemap));
    }
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
    summary(&mut s, r);
    kvm::section(&mut s, &r.kvm, &r.processes, &r.host.kvm_flavour);
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
    s
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

/// What a Linux program adds: the addresses it printed and where they
/// live, unknown system calls, its TLS pointer, cut output.
fn program_facts(s: &mut String, p: &ProcessReport, pagemap: &str) {
    // Numbers outside every region (often not addresses: a GPA, a count)
    // share one line; the JSON lists each.
    let nowhere = NotMapped::Outside.to_string();
    let (outside, answered): (Vec<_>, Vec<_>) = p
        .printed_addresses
        .iter()
        .partition(|a| a.why.as_deref() == Some(nowhere.as_str()));
    for a in answered {
        let path = a.gpa.map(|gpa| {
            format!(
                "GVA {} -> GPA {} -> HVA {} -> HPA {}",
                a.gva,
                gpa,
                opt(&a.hva, "none"),
                opt(&a.hpa, pagemap)
            )
        });
        let _ = match (a.mapped, &a.why, path) {
            (true, _, Some(path)) => writeln!(
                s,
                "  you printed {}: {}, {path}",
                a.gva,
                region_text(a.region)
            ),
            (_, why, Some(path)) => writeln!(
                s,
                "  you printed {}: not mapped, {}; when printed: {path}",
                a.gva,
                opt(why, "?")
            ),
            (_, why, None) => writeln!(s, "  you printed {}: not mapped, {}", a.gva, opt(why, "?")),
        };
    }
    if !outside.is_empty() {
        let list: Vec<String> = outside.iter().map(|a| a.gva.to_string()).collect();
        let _ = writeln!(
            s,
            "  you printed {}: not mapped, {nowhere}",
            list.join(", ")
        );
    }
    if !p.unknown_syscalls.is_empty() {
        let nrs: Vec<String> = p
            .unknown_syscalls
            .iter()
            .map(|u| match u.name {
                Some(name) => format!("{} ({name})", u.nr),
                None => u.nr.to_string(),
            })
            .collect();
        let more = p
            .unknown_syscalls_distinct
            .saturating_sub(p.unknown_syscalls.len() as u32);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  unknown system calls (each returned -ENOSYS): {}{more}",
            nrs.join(", ")
        );
    }
    if p.fs_base.raw() != 0 {
        let _ = writeln!(s, "  FS base (TLS pointer) {}", p.fs_base);
    }
    if p.output_truncated {
        let _ = writeln!(
            s,
            "  output: the report keeps the first {} bytes",
            p.output.len()
        );
    }
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

/// TLB reach and the references of one TLB miss per page-size combination
/// (host.walk_refs_meaning, printed once at the end, says what they count).
fn efficiency(s: &mut String, p: &ProcessReport) {
    if p.tlb_reach.is_empty() {
        return;
    }
    let reach: Vec<String> = p
        .tlb_reach
        .iter()
        .map(|r| {
            format!(
                "{} x {} = {} KiB",
                r.pages,
                size(r.page_size),
                r.bytes >> 10
            )
        })
        .collect();
    let _ = writeln!(s, "  TLB reach: {}", reach.join(" + "));
    for w in &p.walk_refs {
        let _ = writeln!(
            s,
            "  a TLB miss on a {} guest page over a {} host page ({} pages): {} = {} memory references",
            size(w.guest_page_size),
            w.host_page_size.map_or("?".into(), size),
            w.pages,
            w.formula,
            w.refs
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{Gpa, Gva, Hpa, Hva};
    use crate::devices::event::RegionKind;

    fn entry(gva: u64, region: Option<RegionKind>, why: Option<String>) -> PrintedReport {
        PrintedReport {
            gva: Gva(gva),
            region,
            mapped: why.is_none(),
            why,
            translated: None,
            gpa: None,
            hva: None,
            hpa: None,
        }
    }

    /// One line per printed address, mapped or why not; the numbers
    /// outside every region together on one.
    #[test]
    fn each_printed_address_has_its_line() {
        let heap = Some("heap: no page touched there yet (demand paging)".to_string());
        let nowhere = Some(NotMapped::Outside.to_string());
        let mut code = entry(0x401139, Some(RegionKind::Code), None);
        (code.translated, code.gpa, code.hva, code.hpa) = (
            Some("exit"),
            Some(Gpa(0x207139)),
            Some(Hva(0x7f00_0020_7139)),
            None,
        );
        let mut gone = entry(
            0x7fff_0000_0000,
            None,
            Some("unmapped before exit (it was mapped when printed)".into()),
        );
        (gone.translated, gone.gpa, gone.hva, gone.hpa) = (
            Some("printed"),
            Some(Gpa(0x2a7000)),
            Some(Hva(0x7f00_002a_7000)),
            Some(Hpa(0x1_1509_f000)),
        );
        let p = ProcessReport {
            printed_addresses: vec![
                code,
                entry(0x1000, None, nowhere.clone()),
                entry(0x408000, Some(RegionKind::Heap), heap),
                gone,
                entry(0x3, None, nowhere),
            ],
            ..Default::default()
        };
        let mut s = String::new();
        program_facts(&mut s, &p, "needs CAP_SYS_ADMIN");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "  you printed 0x401139: code, GVA 0x401139 -> GPA 0x207139 -> HVA 0x7f0000207139 -> HPA needs CAP_SYS_ADMIN",
                "  you printed 0x408000: not mapped, heap: no page touched there yet (demand paging)",
                "  you printed 0x7fff00000000: not mapped, unmapped before exit (it was mapped when printed); when printed: GVA 0x7fff00000000 -> GPA 0x2a7000 -> HVA 0x7f00002a7000 -> HPA 0x11509f000",
                "  you printed 0x1000, 0x3: not mapped, outside every region",
            ],
            "{s}"
        );
    }
}
