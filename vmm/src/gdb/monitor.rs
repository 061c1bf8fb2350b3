//! gdb's `monitor` commands: `ps` (the live processes, their page table
//! roots and whether the VMM knows their registers), `regions` (the
//! selected process's regions with their mapped pages and faults, and the
//! image's load address for `add-symbol-file`), and `whereis ADDR` (the
//! GVA -> GPA -> HVA -> HPA chain and 2D walk, printed by the report's
//! own code).

use std::fmt::Write;

use super::target::Stub;
use super::view::Snapshot;
use crate::addr::{Gpa, Gva};
use crate::devices::event::RegionKind;
use crate::inspect::{self, Cpu, LiveHost};
use crate::paging::{Cr3, PagingMode};

/// Pages `monitor regions` walks at most per command (a huge mmap region
/// must not stall gdb).
const MAX_WALKED: u64 = 1 << 16;

const HELP: &str = "microvmm monitor commands:
  ps            the guest's processes: pid, name, page table root (CR3), registers known
  regions       the selected thread's (process's) regions, mapped pages, faults, load address
  whereis ADDR  the selected process's GVA -> GPA -> HVA -> HPA chain and 2D walk of ADDR
Threads are processes: `thread N` selects pid N.";

/// Run one command; its output.
pub fn run(stub: &Stub<'_>, cmd: &str) -> String {
    let words: Vec<&str> = cmd.split_ascii_whitespace().collect();
    let pid = stub.current();
    match words.as_slice() {
        ["ps"] => ps(&stub.snap),
        ["regions"] => match pid {
            Some(p) => regions(&stub.snap, p),
            None => "no process is alive".into(),
        },
        ["whereis", a] => match (pid, parse_addr(a)) {
            (Some(p), Some(gva)) => whereis(&stub.snap, p, gva),
            (None, _) => "no process is alive".into(),
            (_, None) => format!("'{a}' is not an address (hex 0x..., or decimal)"),
        },
        _ => HELP.into(),
    }
}

fn parse_addr(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn ps(s: &Snapshot<'_>) -> String {
    let mut o = String::from("  PID  NAME              CR3                 REGIONS  REGISTERS\n");
    for p in &s.procs {
        let regs = match s.source(p.pid) {
            super::view::Source::Trap => "stopped in a trap",
            super::view::Source::Vcpu => "on the vCPU",
            super::view::Source::Unknown => "kept by the guest kernel",
        };
        let _ = writeln!(
            o,
            "{:>5}  {:<16}  {:#018x}  {:>7}  {}",
            p.pid,
            p.name,
            p.cr3,
            p.regions.len(),
            regs
        );
    }
    if s.procs.is_empty() {
        o.push_str("  (no process is alive)\n");
    }
    o
}

fn regions(s: &Snapshot<'_>, pid: u32) -> String {
    let Some(p) = s.proc(pid) else {
        return format!("pid {pid} is not alive");
    };
    let space = s.space(pid);
    let mut o = format!(
        "pid {} {}: regions as the kernel listed them at creation (pages mapped now)\n",
        p.pid, p.name
    );
    let mut walked = 0u64;
    for r in &p.regions {
        let (start, end) = (r.span.start.raw(), r.span.end.raw());
        let mut pages = 0u64;
        let mut a = start;
        while a < end && walked < MAX_WALKED {
            walked += 1;
            let step = match space.as_ref().map(|sp| sp.translate(a)) {
                Some(Ok((_, left))) => {
                    pages += 1;
                    left
                }
                _ => crate::addr::PAGE - (a & (crate::addr::PAGE - 1)),
            };
            a = a.saturating_add(step.max(1));
        }
        let _ = writeln!(
            o,
            "  {:<8} {:#014x}-{:#014x} {:<4} {:>6} pages mapped  {:>5} faults{}",
            r.kind.to_string(),
            start,
            end,
            r.prot.to_string(),
            pages,
            r.faults,
            r.file
                .as_deref()
                .map_or(String::new(), |f| format!("  {f}"))
        );
    }
    if walked >= MAX_WALKED {
        let _ = writeln!(o, "  (page counts stop after {MAX_WALKED} pages walked)");
    }
    let image = p
        .regions
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RegionKind::Code | RegionKind::Rodata | RegionKind::Data | RegionKind::DataBss
            )
        })
        .map(|r| r.span.start.raw())
        .min();
    if let Some(base) = image {
        let _ = writeln!(
            o,
            "image loaded at {base:#x}: a -static program needs only `file PROG`; \
             a -static-pie one: `add-symbol-file PROG -o {base:#x}`"
        );
    }
    o
}

/// The snapshot as the analysis's CPU: its paging mode and CR3 (no
/// KVM_TRANSLATE cross-check from gdb).
struct SnapCpu<'s, 'a>(&'s Snapshot<'a>);

impl Cpu for SnapCpu<'_, '_> {
    fn paging_mode(&self) -> Option<PagingMode> {
        self.0.mode
    }

    fn cr3(&self) -> Option<Cr3> {
        Some(Cr3(self.0.sregs.cr3))
    }

    fn translate(&self, _: Gva) -> Option<Gpa> {
        None
    }
}

fn whereis(s: &Snapshot<'_>, pid: u32, gva: u64) -> String {
    let Some(p) = s.proc(pid) else {
        return format!("pid {pid} is not alive");
    };
    let host = LiveHost::new(s.ram, s.pagemap);
    match inspect::walk2d(
        &SnapCpu(s),
        s.mem,
        &host,
        pid,
        Cr3(p.cr3),
        Gva(gva),
        &s.opts,
    ) {
        Some(w) => {
            let pagemap = s.pagemap.map_or_else(
                || "unavailable (cannot open /proc/self/pagemap)".to_string(),
                |m| m.status_text(),
            );
            crate::report::text::whereis(&crate::report::build::whereis(&w), &pagemap)
        }
        None => format!("{gva:#x} is not mapped in pid {pid} ({})", p.name),
    }
}
