//! Assemble the report from what the run observed: a pure function of the
//! observations, the host probe, the memory layout and what was measured
//! on the live host at the end of the run (resident guest RAM, pagemap's
//! status), all passed in as values; it reads nothing itself.

use std::collections::HashMap;
use std::time::Duration;

use super::efficiency;
use super::model::*;
use crate::addr::{Gpa, Gva};
use crate::cpu::CpuMask;
use crate::devices::event::{Exit, Fault, Region};
use crate::inspect::{Analysis, RegionObs, Walk2d, unmapped_regions};
use crate::kvm_probe::HostInfo;
use crate::loader::program::Program;
use crate::memory::GuestRam;
use crate::observations::{NotMapped, Observations, Printed, ProcObservation};
use crate::vcpu::{CpuSetup, Stop};

/// Everything the report is made from.
pub struct Inputs<'a> {
    /// What the host probe found.
    pub host: &'a HostInfo,
    /// Guest RAM and its memslots.
    pub ram: &'a GuestRam,
    /// What a probe read of /proc/self/pagemap said (`Pagemap::status_text`);
    /// None when pagemap could not be opened.
    pub pagemap: Option<String>,
    /// Bytes of guest RAM the host had backed at the end of the run
    /// (`memory::resident::bytes`); None if the kernel would not say.
    pub resident: Option<u64>,
    /// What the run observed.
    pub obs: &'a Observations,
    /// The `--run` programs, in module order.
    pub programs: &'a [Program],
    /// Why the guest stopped.
    pub stop: &'a Stop,
    /// Wall time from the first KVM_RUN to the end of the run.
    pub run_time: Duration,
    /// From the first KVM_RUN to the first console byte; None if none came.
    pub first_output: Option<Duration>,
    /// The pages the dirty log marked (`--dirty-log`), else None.
    pub dirty: Option<&'a [Gpa]>,
    /// Which pages were cross-checked with KVM_TRANSLATE.
    pub verify: crate::inspect::Verify,
    /// The CPU the guest was given, and what KVM refused.
    pub cpu: &'a CpuSetup,
    /// What `--cpu` took away.
    pub cpu_mask: &'a CpuMask,
    /// Each vCPU's exits and time in KVM_RUN, by index (`--cpus`).
    pub vcpus: &'a [crate::vcpu::VcpuStats],
}

/// The report of one run, from what the run observed and the host probe.
pub fn build(i: &Inputs) -> Report {
    let obs = i.obs;
    let mut r = Report {
        schema: SCHEMA,
        complete: matches!(i.stop, Stop::Shutdown(_)),
        ..Default::default()
    };
    r.host = HostReport {
        kvm_flavour: i.host.flavour.as_str().into(),
        nested_paging: i.host.flavour.nested_paging_text().into(),
        nested: i.host.nested,
        pagemap: i
            .pagemap
            .clone()
            .unwrap_or_else(|| "unavailable (cannot open /proc/self/pagemap)".into()),
        hpa_meaning: i.host.hpa_meaning().into(),
        cpu: i.host.cpu.clone(),
        kernel: i.host.kernel.clone(),
        paging_levels: i.host.paging_levels,
        walk_refs_meaning: efficiency::meaning(i.host.flavour, i.host.nested),
        cpu_refused: i
            .cpu
            .refused
            .iter()
            .map(|r| CpuRefusal {
                feature: r.feature.name(),
                why: r.why.clone(),
            })
            .collect(),
    };
    r.memory = MemoryReport {
        backing: i.ram.backing().as_str().into(),
        size: i.ram.size(),
        slots: i
            .ram
            .slots()
            .iter()
            .map(|s| SlotReport {
                slot: s.slot,
                gpa_start: s.gpa,
                gpa_end: Gpa(s.gpa.raw() + s.size),
                hva: s.hva,
                size: s.size,
                flags: s.flag_names().iter().map(|f| f.to_string()).collect(),
            })
            .collect(),
        resident: i.resident,
    };
    let b = obs.boot.as_ref();
    r.guest = GuestReport {
        mode: b.map(|b| b.mode),
        exit_status: match i.stop {
            Stop::Shutdown(s) => Some(*s),
            _ => None,
        },
        outcome: if i.stop.is_ok() {
            "ok".into()
        } else {
            format!("failed: {}", i.stop)
        },
        scheduling: b.map(|b| b.sched),
        timer_hz: b.map(|b| b.timer_hz),
        paging_levels: b.map(|b| b.paging_levels),
        boot_us: b.and_then(|b| b.boot_us()),
        first_output_us: i.first_output.map(|d| d.as_secs_f64() * 1e6),
        run_ms: i.run_time.as_secs_f64() * 1e3,
        exits: obs.exits,
        cpu: i.cpu_mask.to_string(),
        cpu_features: i.cpu.given.iter().map(|f| f.name()).collect(),
        xcr0: (i.cpu.xcr0 != 0).then_some(i.cpu.xcr0),
        fpu: b.map(|b| FpuReport {
            method: if b.fpu_xcr0 != 0 { "xsave" } else { "fxsave" },
            xcr0: (b.fpu_xcr0 != 0).then_some(b.fpu_xcr0),
            bytes: b.fpu_size,
        }),
        processes_not_recorded: obs.not_recorded,
        vcpus: i
            .vcpus
            .iter()
            .enumerate()
            .map(|(index, v)| VcpuReport {
                index: index as u32, // At most vcpus::MAX_CPUS.
                exits: v.exits,
                run_ms: v.run_time.as_secs_f64() * 1e3,
            })
            .collect(),
    };
    r.processes = obs
        .procs
        .iter()
        .map(|rec| process(rec, i.programs))
        .collect();
    // The walk counts need the guest's paging depth, known from its boot
    // message (4 until then).
    let guest_levels = b.map_or(4, |b| b.paging_levels);
    for (p, rec) in r.processes.iter_mut().zip(&obs.procs) {
        if let Some(a) = &rec.analysis {
            p.tlb_reach = efficiency::reach(&a.page_sizes);
            p.walk_refs = efficiency::walk_refs(
                &a.page_sizes,
                i.host.flavour,
                guest_levels,
                i.host.paging_levels,
            );
        }
    }
    let (kvm, per) = super::kvm::build(
        &obs.kvm,
        i.host.flavour,
        |pid, image| {
            r.processes
                .iter()
                .position(|p| p.pid == pid && p.image == image)
        },
        r.processes.len(),
    );
    r.kvm = kvm;
    for (p, v) in r.processes.iter_mut().zip(per) {
        p.kvm = v;
    }
    r.whereis = obs.whereis.iter().map(whereis).collect();
    r.errors = obs.errors.clone();
    r.verify = i.verify.as_str();
    r.verify_text = i.verify.text();
    r.dirty = i
        .dirty
        .map(|d| attribute_dirty(d, &obs.procs, i.ram.size()));
    r
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

fn process(rec: &ProcObservation, programs: &[Program]) -> ProcessReport {
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
    (p.threads, p.threads_dropped) = super::threads::build(rec.threads.as_ref(), p.cr3);
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

/// A 2D walk as the report keeps it.
pub fn whereis(w: &Walk2d) -> WhereisReport {
    WhereisReport {
        pid: w.pid,
        gva: w.gva,
        gpa: Some(w.gpa),
        hva: w.host.hva,
        hpa: w.host.hpa(),
        guest_page_size: Some(w.guest_page_size.bytes()),
        host_page_size: w.host.page_size,
        kvm_translate_gpa: w.kvm,
        walk: w
            .levels
            .iter()
            .map(|l| WalkLevelReport {
                level: l.guest.level.to_string(),
                table_gpa: l.guest.table_gpa,
                index: l.guest.index,
                entry_gpa: l.guest.entry_gpa,
                entry: format!("{:#018x}", l.guest.entry),
                flags: l.guest.flags.to_string(),
                entry_hpa: l.entry_hpa,
            })
            .collect(),
        hw_refs: w.hw.refs,
        hw_refs_explained: w.hw.to_string(),
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

/// Attribute each dirty guest page to whoever owned it last.
fn attribute_dirty(dirty: &[Gpa], procs: &[ProcObservation], ram: u64) -> DirtyReport {
    let mut owner: HashMap<u64, String> = HashMap::new();
    // A frame freed by one process may be reused by a later one: replay the
    // exits in the order they happened, so the last owner wins.
    let mut recs: Vec<_> = procs.iter().collect();
    recs.sort_by_key(|r| r.exit_order.unwrap_or(usize::MAX));
    for rec in recs {
        let (pid, name) = (rec.created.pid, &rec.created.name);
        if let Some(a) = &rec.analysis {
            for t in &a.tables {
                owner.insert(t.raw() >> 12, "page tables".into());
            }
            for (gpa, region) in &a.frames {
                let region = region_text(*region);
                owner.insert(gpa.raw() >> 12, format!("pid {pid} {name} {region}"));
            }
        }
    }
    let mut counts: HashMap<String, u64> = HashMap::new();
    for g in dirty {
        let o = match owner.get(&(g.raw() >> 12)) {
            Some(o) => o.clone(),
            None if g.raw() < abi::layout::RESERVED_END => "boot structures".into(),
            None if g.raw() < ram => {
                "kernel (image, data, or frames of no reported process)".into()
            }
            None => "outside RAM".into(),
        };
        *counts.entry(o).or_default() += 1;
    }
    let mut by_owner: Vec<DirtyOwner> = counts
        .into_iter()
        .map(|(owner, pages)| DirtyOwner { owner, pages })
        .collect();
    by_owner.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.owner.cmp(&b.owner)));
    DirtyReport {
        pages_dirty: dirty.len() as u64,
        by_owner,
        runs: runs(dirty),
    }
}

/// Guest frames as runs of consecutive pages: (first GPA, pages).
fn runs(frames: &[Gpa]) -> Vec<(Gpa, u64)> {
    let mut pfns: Vec<u64> = frames.iter().map(|g| g.raw() >> 12).collect();
    pfns.sort_unstable();
    pfns.dedup();
    let mut out: Vec<(Gpa, u64)> = Vec::new();
    for pfn in pfns {
        match out.last_mut() {
            Some((start, n)) if (start.raw() >> 12) + *n == pfn => *n += 1,
            _ => out.push((Gpa(pfn << 12), 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_frames_become_runs() {
        let g = |p: u64| Gpa(p << 12);
        assert_eq!(
            runs(&[g(5), g(3), g(4), g(9), g(4), g(10)]),
            vec![(g(3), 3), (g(9), 2)]
        );
        assert!(runs(&[]).is_empty());
    }

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
