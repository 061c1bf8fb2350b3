//! What the kernel tells about a process: one Proc message to the VMM
//! (who it is, its page-table roots and regions, how it ended) and the
//! one-line verdict on the console.

use abi::msg::{
    self, KIND_SLOTS, MAX_UNKNOWN, Proc as ProcMsg, REGION_BSS, REGION_HEAP, REGION_LAST,
    REGION_MMAP, REGION_STACK,
};

use super::{Exit, Proc};
use crate::mm::userpages;
use crate::{kprint, kprintln, vmmdev};

/// Tell the VMM about `p` in one message: a process (a thread group) by
/// its group id, sent by the thread that holds its address space.
pub fn report(p: &Proc, event: u32, exit: Option<Exit>) {
    if event == msg::PROC_EXITING {
        // How its threads ended goes first (and is forgotten) in any case.
        super::ended::send(p.tgid);
    }
    let Some(a) = &p.aspace else { return };
    let mut m = ProcMsg {
        event,
        pid: p.tgid,
        name: p.name,
        cr3: a.root.get(),
        user_pgd: userpages::user_pgd(a.root),
        fs_base: p.fs_base,
        module: p.module,
        nunknown: p.nunknown,
        unknown_syscalls: p.unknown,
        ppid: p.ppid,
        execs: p.execs,
        ..Default::default()
    };
    m.nregions = a.regions.n as u32;
    m.regions = a.regions.list;
    let (files, nfiles) = a.files.named(a.regions.all());
    m.files = files;
    m.nfiles = nfiles as u32;
    m.heap_faults = a.kind_faults(REGION_HEAP);
    m.stack_faults = a.kind_faults(REGION_STACK);
    m.faults_by_kind = a.faults_by_kind;
    m.pages_resident = a.resident;
    m.pattern_gva = p.pattern_gva;
    m.pattern = p.pattern;
    if event == msg::PROC_EXITING {
        tlb_counters(&mut m, p.tgid, exit);
    }
    if crate::trace::on() {
        trace(p, exit);
    }
    set_exit(&mut m, exit);
    if let Some(r) = vmmdev::send(&mut m)
        && r != msg::RESULT_OK
    {
        kprintln!(
            "[kernel] the VMM refused the report of pid {} ({r})",
            p.tgid
        );
    }
}

/// The kernel's one-line verdict on a process that ended.
pub fn summary(p: &Proc, how: Exit) {
    let (by_kind, res) = p
        .aspace
        .as_ref()
        .map_or(([0; KIND_SLOTS], 0), |a| (a.faults_by_kind, a.resident));
    match how {
        Exit::Status(s) => {
            kprint!("[kernel] pid {} {}: exit {}; ", p.tgid, p.name(), s);
            faults(&by_kind);
            let cow: u64 = p.aspace.as_ref().map_or(0, |a| {
                a.regions
                    .all()
                    .iter()
                    .map(|r| u64::from(r.cow_faults))
                    .sum()
            });
            if cow > 0 {
                kprint!("; copy-on-write faults {cow}");
            }
            kprint!("; pages touched {}", res);
        }
        Exit::Exec => return,
        Exit::Signal(sig) => kprint!(
            "[kernel] pid {} {}: killed by signal {} ({}); exit status {}; pages touched {}",
            p.tgid,
            p.name(),
            sig,
            abi::signals::name(sig).unwrap_or("a signal"),
            128 + sig,
            res
        ),
        Exit::Fault {
            vector,
            err,
            addr,
            rip,
            reason,
        } => kprint!(
            "[kernel] pid {} {}: killed by {} err {:#x} at {:#x} (rip {:#x}): {}; pages touched {}",
            p.tgid,
            p.name(),
            crate::entry::vector_name(vector),
            err,
            addr,
            rip,
            reason,
            res
        ),
    }
    if p.tid_shown() && matches!(how, Exit::Fault { .. }) {
        kprint!("; in its thread {}", p.pid);
    }
    if p.threads > 1 {
        kprint!("; threads {}", p.threads);
    }
    if p.nunknown > 0 {
        kprint!("; unknown syscalls ({}):", p.nunknown);
        for &nr in &p.unknown[..(p.nunknown as usize).min(MAX_UNKNOWN)] {
            match abi::sysnames::name(nr as u64) {
                Some(name) => kprint!(" {nr} ({name})"),
                None => kprint!(" {nr}"),
            }
        }
    }
    kprintln!("");
}

/// "faults: heap 2, mmap 16384, stack 1, bss 3": demand-paging faults by
/// region kind, heap, mmap and stack always (where a student looks for
/// malloc's memory), the other kinds when they took any.
fn faults(by_kind: &[u64; KIND_SLOTS]) {
    kprint!("faults:");
    let always = [REGION_HEAP, REGION_MMAP, REGION_STACK];
    let rest = (REGION_BSS..=REGION_LAST).chain(1..REGION_BSS);
    let mut sep = " ";
    for k in always
        .into_iter()
        .chain(rest.filter(|k| !always.contains(k)))
    {
        let n = by_kind[k as usize];
        if n > 0 || always.contains(&k) {
            kprint!("{sep}{} {n}", msg::region_name(k));
            sep = ", ";
        }
    }
}

/// The group's TLB shootdowns and the vCPUs it ran on, taken (and reset)
/// as it ends.
fn tlb_counters(m: &mut ProcMsg, tgid: u32, exit: Option<Exit>) {
    let s = super::cpus::take_shots(tgid);
    m.tlb_shootdowns = s.shootdowns;
    m.tlb_shootdown_pages = s.pages;
    m.vcpus_ran = s.ran;
    // After execve the pid runs on, here, as its next image.
    if matches!(exit, Some(Exit::Exec)) {
        super::cpus::ran_here(tgid);
    }
    m.tlb_shootdown_ns = (s.cycles.saturating_mul(1000))
        .checked_div(crate::arch::tsc_khz())
        .unwrap_or(0);
}

/// The trace event of a process's start, exec or end.
fn trace(p: &Proc, exit: Option<Exit>) {
    use abi::trace::*;
    let (sub, a) = match exit {
        None => (PROC_START, u64::from(p.ppid)),
        Some(Exit::Exec) => (PROC_EXEC, 0),
        Some(Exit::Status(s)) => (PROC_EXIT, s as u64),
        Some(Exit::Signal(sig)) => (PROC_EXIT, 128 + sig as u64),
        Some(Exit::Fault { .. }) => (PROC_EXIT, 128 + 11),
    };
    crate::trace::record(crate::trace::now(), EV_PROC, sub, p.tgid, a, 0, 0, 0);
}

/// How it ended, in the message's exit fields.
fn set_exit(m: &mut ProcMsg, exit: Option<Exit>) {
    match exit {
        Some(Exit::Status(s)) => {
            m.exit_kind = msg::EXIT_NORMAL;
            m.exit_status = s;
        }
        Some(Exit::Signal(sig)) => {
            m.exit_kind = msg::EXIT_SIGNAL;
            m.exit_status = sig as i64;
        }
        Some(Exit::Fault {
            vector,
            err,
            addr,
            rip,
            ..
        }) => {
            m.exit_kind = msg::EXIT_FAULT;
            (m.fault_vector, m.fault_error, m.fault_addr, m.fault_rip) = (vector, err, addr, rip);
        }
        Some(Exit::Exec) => m.exit_kind = msg::EXIT_EXEC,
        None => {}
    }
}
