//! Assemble the report from what the run observed: a pure function of the
//! observations, the host probe, the memory layout and what was measured
//! on the live host at the end of the run (resident guest RAM, pagemap's
//! status), all passed in as values; it reads nothing itself.

mod dirty;
mod process;

use std::time::Duration;

use super::efficiency;
use super::model::*;
use crate::addr::Gpa;
use crate::cpu::CpuMask;
use crate::inspect::Walk2d;
use crate::kvm_probe::HostInfo;
use crate::loader::program::Program;
use crate::memory::GuestRam;
use crate::observations::Observations;
use crate::vcpu::{CpuSetup, Stop};

pub use process::fault_reason;

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
        host: host(i),
        memory: memory(i),
        guest: guest(i),
        ..Default::default()
    };
    let b = obs.boot.as_ref();
    r.processes = obs
        .procs
        .iter()
        .map(|rec| process::process(rec, i.programs))
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
        .map(|d| dirty::attribute_dirty(d, &obs.procs, i.ram.size()));
    r
}

/// `host`: what the probe found, and pagemap's status.
fn host(i: &Inputs) -> HostReport {
    HostReport {
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
    }
}

/// `memory`: guest RAM, its memslots and how much of it is resident.
fn memory(i: &Inputs) -> MemoryReport {
    MemoryReport {
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
    }
}

/// `guest`: what its kernel reported at boot, and how the run went.
fn guest(i: &Inputs) -> GuestReport {
    let (obs, b) = (i.obs, i.obs.boot.as_ref());
    GuestReport {
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
    }
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
