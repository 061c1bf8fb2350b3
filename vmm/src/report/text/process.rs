//! One process's section of the text report: how it ended and ran, its
//! regions, what it printed, TLB reach, its mapped runs and sample chains.

use std::fmt::Write;

use super::super::faults::faults_text;
use super::super::model::*;
use super::lineage::{lineage, shared_line, sharing_of};
use super::{opt, size};
use crate::observations::NotMapped;
use crate::terminal::escape_text;

/// Process `p` of report `r`, as its sections.
pub(super) fn section(s: &mut String, p: &ProcessReport, r: &Report) {
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
    crate::report::threads::text(s, &p.threads, p.threads_dropped);
    if p.tlb_shootdowns > 0 {
        let _ = writeln!(
            s,
            "  TLB shootdowns: {} (IPIs to other vCPUs running its threads; {} pages flushed one by one, the rest full flushes; {:.1} us waited)",
            p.tlb_shootdowns, p.tlb_shootdown_pages, p.tlb_shootdown_us
        );
    }
    regions(s, p);
    shared_line(s, p);
    program_facts(s, p, &r.host.pagemap);
    efficiency(s, p);
    runs(s, p);
    chains(s, p, &r.host.pagemap);
}

/// Its regions, in address order, with their pages, faults and sharing.
fn regions(s: &mut String, p: &ProcessReport) {
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
}

/// The first runs of pages contiguous in both GVA and GPA.
fn runs(s: &mut String, p: &ProcessReport) {
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
}

/// The listed pages' chains GVA -> GPA -> HVA -> HPA, and the read-back
/// of its stored value; `pagemap` says why an HPA is missing.
fn chains(s: &mut String, p: &ProcessReport, pagemap: &str) {
    let _ = writeln!(s, "  sample chains:");
    for pg in &p.pages {
        let _ = writeln!(
            s,
            "    {:<8} GVA {:>14} -> GPA {:>10} -> HVA {} -> HPA {} [{} guest page, {} host page, {}]",
            region_text(pg.region),
            pg.gva.to_string(),
            pg.gpa.to_string(),
            opt(&pg.hva, "none"),
            opt(&pg.hpa, pagemap),
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
