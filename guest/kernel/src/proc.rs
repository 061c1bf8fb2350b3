//! Processes and the scheduler. One kernel stack serves everyone: no system
//! call blocks, so a process's whole kernel-side state is its trap frame
//! and FPU area, and a switch is a copy of the frame plus a CR3 load.
//! Round-robin; preemptive on the timer tick when the host has one,
//! otherwise the kernel switches after every system call and page fault.

use abi::msg::{self, NAME_MAX, PROC_CREATED, PROC_EXITING, Proc as ProcMsg};

use crate::arch;
use crate::entry::{self, FxArea, TrapFrame, USER_CS, USER_SS};
use crate::memlayout::USER_STACK_TOP;
use crate::mm::{
    frame, kvm,
    uvm::{AddrSpace, Fault},
};
use crate::sync::KCell;
use crate::{exec, kprintln, vmmdev};

pub const NPROC: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unused,
    Runnable,
}

/// How a process ended.
#[derive(Clone, Copy)]
pub enum Exit {
    Status(i64),
    Fault {
        vector: u64,
        err: u64,
        addr: u64,
        rip: u64,
        reason: &'static str,
    },
}

pub struct Proc {
    pub state: State,
    pub pid: u32,
    pub name: [u8; NAME_MAX],
    pub frame: TrapFrame,
    pub fx: FxArea,
    pub aspace: Option<AddrSpace>,
    pub pattern_gva: u64,
    pub pattern: u64,
    /// The next byte this process writes starts a console line.
    pub at_line_start: bool,
}

impl Proc {
    const EMPTY: Proc = Proc {
        state: State::Unused,
        pid: 0,
        name: [0; NAME_MAX],
        frame: entry::ZERO_FRAME,
        fx: FxArea::clean(),
        aspace: None,
        pattern_gva: 0,
        pattern: 0,
        at_line_start: true,
    };

    pub fn name(&self) -> &str {
        core::str::from_utf8(msg::until_nul(&self.name)).unwrap_or("?")
    }
}

struct Table {
    procs: [Proc; NPROC],
    cur: usize,
    next_pid: u32,
    preemptive: bool,
    switches: u64,
    frames_free_at_start: u64,
    /// Processes that called exit with a non-zero status (the program
    /// itself says it failed; kills for faults are protection working).
    failed: u32,
}

static TABLE: KCell<Table> = KCell::new(Table {
    procs: [Proc::EMPTY; NPROC],
    cur: usize::MAX,
    next_pid: 1,
    preemptive: false,
    switches: 0,
    frames_free_at_start: 0,
    failed: 0,
});

/// The process table. Each function here takes it once, or passes it on
/// (switch_in); none holds it across a call that takes it again.
fn table() -> &'static mut Table {
    // SAFETY: single CPU, no re-entry, and the discipline above: no two
    // results of this function are in use at once.
    unsafe { TABLE.get() }
}

/// The running process. Only called from a trap or syscall, when one runs.
///
/// # Safety
/// Only while a process runs (in a trap or syscall), and the result must
/// not be in use across a call back into this module (which may take the
/// process table again).
pub unsafe fn current() -> &'static mut Proc {
    let t = table();
    &mut t.procs[t.cur]
}

pub fn set_preemptive(on: bool) {
    table().preemptive = on;
}

/// Create a process running program `name` (an embedded ELF) with `arg` in
/// rdi. `label` is what reports call it.
pub fn spawn(prog: &[u8], label: &str, arg: u64) -> Result<u32, &'static str> {
    let t = table();
    if t.frames_free_at_start == 0 {
        t.frames_free_at_start = frame::free_count();
    }
    let slot = t
        .procs
        .iter()
        .position(|p| p.state == State::Unused)
        .ok_or("process table full")?;
    let mut aspace = AddrSpace::new().ok_or("out of memory")?;
    let Some(entry) = exec::load(&mut aspace, prog) else {
        aspace.destroy();
        return Err("bad program image or out of memory");
    };
    let pid = t.next_pid;
    t.next_pid += 1;
    let p = &mut t.procs[slot];
    *p = Proc::EMPTY;
    p.pid = pid;
    let n = label.len().min(NAME_MAX);
    p.name[..n].copy_from_slice(&label.as_bytes()[..n]);
    p.frame.rip = entry;
    p.frame.cs = USER_CS;
    p.frame.ss = USER_SS;
    p.frame.rflags = 0x202; // IF: the timer may preempt user code
    p.frame.rsp = USER_STACK_TOP;
    p.frame.rdi = arg;
    p.frame.rsi = pid as u64;
    p.aspace = Some(aspace);
    p.state = State::Runnable;
    report(p, PROC_CREATED, None);
    Ok(pid)
}

/// Tell the VMM about `p` in one message: who it is, its page-table roots
/// and regions, and (when it ends) how.
fn report(p: &Proc, event: u32, exit: Option<Exit>) {
    let Some(a) = &p.aspace else { return };
    let mut m = ProcMsg {
        event,
        pid: p.pid,
        name: p.name,
        cr3: a.root,
        user_pgd: a.user_pgd(),
        ..Default::default()
    };
    m.nregions = a.nregions as u32;
    m.regions = a.regions;
    m.heap_faults = a.heap_faults;
    m.stack_faults = a.stack_faults;
    m.pages_resident = a.resident;
    m.pattern_gva = p.pattern_gva;
    m.pattern = p.pattern;
    match exit {
        Some(Exit::Status(s)) => {
            m.exit_kind = msg::EXIT_NORMAL;
            m.exit_status = s;
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
        None => {}
    }
    if let Some(r) = vmmdev::send(&mut m)
        && r != msg::RESULT_OK
    {
        kprintln!("[kernel] the VMM refused the report of pid {} ({r})", p.pid);
    }
}

/// The next runnable process after `after`, round-robin.
fn pick(t: &Table, after: usize) -> Option<usize> {
    (1..=NPROC)
        .map(|k| (after.wrapping_add(k)) % NPROC)
        .find(|&i| t.procs[i].state == State::Runnable)
}

fn switch_in(t: &mut Table, i: usize) {
    t.cur = i;
    let p = &mut t.procs[i];
    if let Some(a) = &p.aspace {
        arch::set_cr3(a.root);
    }
    entry::set_fx(&mut p.fx);
}

/// Start the first process; never returns.
pub fn run() -> ! {
    let t = table();
    let Some(i) = pick(t, NPROC - 1) else {
        all_done()
    };
    switch_in(t, i);
    let f = t.procs[i].frame;
    entry::return_to(&f)
}

/// Give the CPU to the next runnable process, if there is another. `f` is
/// the current process's live frame; on return it is the one to resume.
pub fn yield_from(f: &mut TrapFrame) -> bool {
    let t = table();
    let cur = t.cur;
    let Some(next) = pick(t, cur) else {
        return false;
    };
    if next == cur {
        return false;
    }
    t.procs[cur].frame = *f;
    t.switches += 1;
    switch_in(t, next);
    *f = t.procs[next].frame;
    true
}

/// After a syscall or a served fault: switch if there is no timer to do it.
pub fn maybe_yield(f: &mut TrapFrame) -> bool {
    !table().preemptive && yield_from(f)
}

/// End the current process: report it from its own context (its CR3 is
/// live, so the VMM can cross-check with KVM_TRANSLATE), tear it down, and
/// continue with the next process in `f` — or shut down when none is left.
pub fn exit_current(f: &mut TrapFrame, how: Exit) {
    let t = table();
    let cur = t.cur;
    let p = &mut t.procs[cur];
    if matches!(how, Exit::Status(s) if s != 0) {
        t.failed += 1;
    }
    report(p, PROC_EXITING, Some(how));
    summary(p, how);
    arch::set_cr3(kvm::root());
    entry::set_kernel_fx();
    if let Some(mut a) = p.aspace.take() {
        a.destroy();
    }
    p.state = State::Unused;
    match pick(t, cur) {
        Some(n) => {
            switch_in(t, n);
            *f = t.procs[n].frame;
        }
        None => all_done(),
    }
}

fn summary(p: &Proc, how: Exit) {
    let (hf, sf, res) = p
        .aspace
        .as_ref()
        .map_or((0, 0, 0), |a| (a.heap_faults, a.stack_faults, a.resident));
    match how {
        Exit::Status(s) => kprintln!(
            "[kernel] pid {} {}: exit {}; heap faults {}, stack faults {}, pages touched {}",
            p.pid,
            p.name(),
            s,
            hf,
            sf,
            res
        ),
        Exit::Fault {
            vector,
            err,
            addr,
            rip,
            reason,
        } => kprintln!(
            "[kernel] pid {} {}: killed by {} err {:#x} at {:#x} (rip {:#x}): {}; pages touched {}",
            p.pid,
            p.name(),
            crate::trap::vector_name(vector),
            err,
            addr,
            rip,
            reason,
            res
        ),
    }
}

/// A user page fault: serve it, or kill the process.
pub fn page_fault(f: &mut TrapFrame, addr: u64) {
    // SAFETY: a trap from a running process; p is done before exit_current.
    let p = unsafe { current() };
    let Some(a) = p.aspace.as_mut() else { return };
    match a.fault(addr, f.err) {
        Fault::Served => {
            maybe_yield(f);
        }
        Fault::Kill(reason) => exit_current(
            f,
            Exit::Fault {
                vector: 14,
                err: f.err,
                addr,
                rip: f.rip,
                reason,
            },
        ),
    }
}

/// Every process has ended: check that every frame came back, and stop.
fn all_done() -> ! {
    let t = table();
    let free = frame::free_count();
    kprintln!(
        "[kernel] all processes done after {} switches; frames free {} of {} (at first spawn {}){}",
        t.switches,
        free,
        frame::total(),
        t.frames_free_at_start,
        if free == t.frames_free_at_start {
            ", every frame returned"
        } else {
            ": FRAMES LEAKED"
        }
    );
    let status = if free != t.frames_free_at_start {
        abi::status::PANIC
    } else if t.failed > 0 {
        kprintln!(
            "[kernel] {} process(es) exited with a non-zero status",
            t.failed
        );
        abi::status::PROCESS_FAILED
    } else {
        abi::status::OK
    };
    vmmdev::shutdown(status)
}
