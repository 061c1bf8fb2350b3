//! One process's entry of the report (`processes[]`): who it was, how it
//! ended, its regions, listed pages, runs, sharing and page tables, from
//! what the registry observed and the analysis at its exit.

use super::super::model::*;
use crate::addr::Gva;
use crate::devices::event::{Exit, Fault, Region};
use crate::inspect::{Analysis, RegionObs, unmapped_regions};
use crate::loader::program::Program;
use crate::observations::{NotMapped, Printed, ProcObservation};

pub(super) fn process(rec: &ProcObservation, programs: &[Program]) -> ProcessReport {
    let last = rec.last();
    let program = rec.created.module.and_then(|m| programs.get(m as usize));
    let mut p = ProcessReport {
        pid: rec.created.pid,
        ppid: rec.created.ppid,
        image: rec.image,
        name: rec.created.name.clone(),
        path: program.map(|p| p.path.display().to_string()),
        argv: program.map(|p| p.argv.clone()),
        run_index: rec.created.module,
        first_output_us: rec
            .first_output
            .map(|t| t.duration_since(rec.created_at).as_secs_f64() * 1e6),
        output: String::from_utf8_lossy(&rec.output).into_owned(),
        output_truncated: rec.output_truncated,
        stdout: String::from_utf8_lossy(&rec.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&rec.stderr).into_owned(),
        printed_addresses: rec.printed.iter().map(printed).collect(),
        unknown_syscalls: last
            .unknown_syscalls
            .listed
            .iter()
            .map(|&nr| UnknownSyscall {
                nr,
                name: abi::sysnames::name(nr.into()),
            })
            .collect(),
        unknown_syscalls_distinct: last.unknown_syscalls.distinct,
        fs_base: Gva(last.fs_base),
        cr3: rec.created.cr3,
        user_pgd: rec.created.user_pgd,
        heap_faults: last.stats.heap_faults,
        stack_faults: last.stats.stack_faults,
        faults_by_kind: last.stats.faults_by_kind.clone(),
        pages_resident: last.stats.pages_resident,
        tlb_shootdowns: last.stats.tlb_shootdowns,
        tlb_shootdown_pages: last.stats.tlb_shootdown_pages,
        tlb_shootdown_us: last.stats.tlb_shootdown_ns as f64 / 1e3,
        // The guest's mask: bits beyond the vCPUs there are are not shown.
        vcpus: (0..crate::vcpus::MAX_CPUS)
            .filter(|c| last.stats.vcpus_ran & (1 << c) != 0)
            .collect(),
        code_gpa: rec.code_gpa,
        exit: exit(rec.exited.as_ref().and_then(|e| e.exit)),
        ..Default::default()
    };
    (p.threads, p.threads_dropped) = crate::report::threads::build(rec.threads.as_ref(), p.cr3);
    match &rec.analysis {
        Some(a) => analysed(&mut p, a),
        // Never reported its exit: the regions it was created with.
        None => p.regions = regions(&unmapped_regions(&rec.created.regions)),
    }
    p
}

fn exit(e: Option<Exit>) -> ExitReport {
    match e {
        None => ExitReport::default(),
        Some(Exit::Fault(Fault {
            vector,
            error_code,
            address,
            rip,
        })) => {
            let sig = abi::signals::for_exception(vector);
            ExitReport {
                kind: ExitKind::Fault,
                vector: Some(vector),
                error_code: Some(error_code),
                address: Some(address),
                rip: Some(rip),
                reason: Some(fault_reason(vector, error_code)),
                signal: Some(sig),
                signal_name: abi::signals::name(sig),
                shell_status: Some(abi::signals::shell_status(sig)),
                ..Default::default()
            }
        }
        Some(Exit::Signal(sig)) => ExitReport {
            kind: ExitKind::Signal,
            signal: Some(sig),
            signal_name: abi::signals::name(sig),
            shell_status: Some(abi::signals::shell_status(sig)),
            ..Default::default()
        },
        Some(Exit::Exec) => ExitReport {
            kind: ExitKind::Exec,
            ..Default::default()
        },
        Some(Exit::Status(s)) => ExitReport {
            kind: ExitKind::Exit,
            status: Some(s),
            shell_status: Some(s & 0xff),
            ..Default::default()
        },
    }
}

fn analysed(p: &mut ProcessReport, a: &Analysis) {
    p.regions = regions(&a.regions);
    p.pages = a.pages.clone();
    p.pages_total = a.pages_total;
    p.pages_checked = a.pages_checked;
    p.pattern = a.pattern.map(|c| PatternCheck {
        gva: c.gva,
        expected: format!("{:#x}", c.expected),
        via_gpa: c.via_gpa.map(|v| format!("{v:#x}")),
        via_hva: c.via_hva.map(|v| format!("{v:#x}")),
        ok: c.ok(),
    });
    p.page_tables = a.page_tables.as_ref().map(|t| PageTablesReport {
        complete: t.complete,
        tables: t
            .tables
            .iter()
            .map(|t| TableReport {
                gpa: t.page.gpa,
                hpa: t.host.hpa(),
                host_page_size: t.host.page_size,
                level: t.page.level.to_string(),
                entries: t
                    .page
                    .entries
                    .iter()
                    .map(|&(i, e)| (i, format!("{e:#x}")))
                    .collect(),
            })
            .collect(),
    });
    p.shared_pages = a.sharing.as_ref().and_then(|s| s.shared_pages);
    p.sharing = a.sharing.as_ref().map(|s| SharingReport {
        with: s.with.clone(),
        frames: s.frames.clone(),
        frames_total: s.frames_total,
        complete: s.stop.is_none(),
        why: s.stop.map(|w| w.to_string()),
    });
    p.frames_lowest = a.frames_span.map(|s| s.0);
    p.frames_highest = a.frames_span.map(|s| s.1);
    p.ranges_total = a.ranges_total;
    p.ranges = a
        .ranges
        .iter()
        .map(|r| RangeReport {
            gva: r.gva,
            gpa: r.gpa,
            pages: r.pages,
            page_size: r.page_size.bytes(),
            flags: r.flags.to_string(),
        })
        .collect();
}

/// The regions in address order (the kernel lists them as it made them).
fn regions(rs: &[RegionObs]) -> Vec<RegionReport> {
    let mut rs: Vec<&RegionObs> = rs.iter().collect();
    rs.sort_by_key(|o| o.region.span.start);
    rs.into_iter()
        .map(|o| {
            let Region {
                kind,
                span,
                prot,
                faults,
                cow_faults,
                file,
            } = &o.region;
            RegionReport {
                kind: *kind,
                start: span.start,
                end: span.end,
                prot: *prot,
                pages_mapped: o.pages_mapped,
                faults: *faults,
                cow_faults: *cow_faults,
                shared_pages: o.shared_pages,
                file: file.clone(),
            }
        })
        .collect()
}

/// A printed address's entry: its translation at exit, else why not and the
/// translation it had when printed, if it had one.
fn printed(pr: &Printed) -> PrintedReport {
    let (translated, gpa, hva, hpa) = match (&pr.walk, &pr.not_mapped) {
        (Some(w), _) => (Some("exit"), Some(w.gpa), w.host.hva, w.host.hpa()),
        (None, Some(NotMapped::Unmapped(s))) => (Some("printed"), Some(s.gpa), s.hva, s.hpa),
        (None, _) => (None, None, None, None),
    };
    PrintedReport {
        gva: pr.gva,
        region: pr.region,
        mapped: pr.walk.is_some(),
        why: pr.not_mapped.as_ref().map(|n| n.to_string()),
        translated,
        gpa,
        hva,
        hpa,
    }
}

/// "#PF user read of a not-present page" and the like, from the error code.
pub fn fault_reason(vector: u64, err: u64) -> String {
    if vector != 14 {
        let (name, what) = abi::signals::exception(vector);
        return format!("{name}: {what}");
    }
    let who = if err & 4 != 0 { "user" } else { "supervisor" };
    let what = if err & 16 != 0 {
        "instruction fetch"
    } else if err & 2 != 0 {
        "write"
    } else {
        "read"
    };
    let why = if err & 8 != 0 {
        "a reserved bit"
    } else if err & 1 != 0 {
        "a protection violation on a present page"
    } else {
        "a not-present page"
    };
    format!("#PF: {who} {what}, {why}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn syscall_names_come_from_linuxs_table() {
        use abi::sysnames::{NAMES, name};
        assert_eq!(name(0), Some("read"));
        assert_eq!(name(56), Some("clone"));
        assert_eq!(name(57), Some("fork"));
        assert_eq!(name(59), Some("execve"));
        assert_eq!(name(298), Some("perf_event_open"));
        assert_eq!(name(425), Some("io_uring_setup"));
        assert_eq!(name(335), None, "a hole in the table");
        assert_eq!(name(1000), None, "microvmm's own numbers are not Linux's");
        assert_eq!(name(u64::MAX), None);
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
        assert!(NAMES.iter().all(|(_, n)| !n.is_empty() && n.is_ascii()));
    }
}
