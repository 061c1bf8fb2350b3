//! `--gdb`: a gdb stub (the `gdbstub` crate, x86-64 target description)
//! that shows the guest's processes as gdb threads, each with its own
//! address space. The run loop calls it at three points, through Ports:
//! `pause_point` before each KVM_RUN (the first one waits for gdb; later
//! ones notice gdb's Ctrl-C), `created` when a process is created (the
//! first `--run` program's creation is gdb's first stop), and `trap` when
//! a user process takes #BP or #DB (abi::msg::DebugTrap: the guest kernel
//! offers it to the VMM before treating it as a fault). While the guest is
//! stopped the vCPU thread serves gdb's packets; it resumes when gdb says
//! continue or step. Breakpoints and single-step use the guest's own
//! exceptions, not KVM_SET_GUEST_DEBUG, because PVM accepts that ioctl and
//! then ignores it (docs/gdb.md). A malformed packet, a disconnect or a
//! detach ends the session: breakpoints are taken out and the guest runs
//! on to its end and its report.

pub mod conn;
pub mod mem;
pub mod monitor;
mod session;
pub mod sniff;
pub mod target;
pub mod view;

use std::io::Write;
use std::sync::atomic::Ordering;

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{GdbStub, MultiThreadStopReason};
use kvm_ioctls::VcpuFd;

use crate::kvm_probe::Flavour;
use crate::registry::Registry;
use crate::sink::Sink;
use crate::vcpu::Stop;
use conn::{Conn, Listener, Watcher};
use target::Stub;
use view::{Facilities, ProcView, Regs, Snapshot, Source};

type Machine<'a> = GdbStubStateMachine<'static, Stub<'a>, Conn>;
type Reason = MultiThreadStopReason<u64>;

/// Say one line on microvmm's stderr.
fn say(msg: impl std::fmt::Display) {
    let _ = writeln!(Sink::stderr(None), "microvmm: gdb: {msg}");
}

/// Why hardware breakpoints are refused on this host.
pub fn facilities(flavour: Flavour) -> Facilities {
    Facilities {
        hw_breakpoints: match flavour {
            Flavour::Pvm => "PVM accepts KVM_SET_GUEST_DEBUG with DR0-3 but never stops on them \
                             (measured); use a software breakpoint (break)"
                .into(),
            _ => "this stub places software breakpoints through the guest kernel; \
                  use break, not hbreak"
                .into(),
        },
    }
}

/// The debugger of one run.
pub struct Debugger<'a> {
    listener: Listener,
    machine: Option<Machine<'a>>,
    stub: Stub<'a>,
    watcher: Option<Watcher>,
    sniff: sniff::Sniffer,
    /// gdb has connected and waits for the first process.
    awaiting_first: bool,
    /// The session is over (gdb detached or went away): no new one.
    ended: bool,
    /// gdb attached at some point.
    machine_seen: bool,
    /// How many `--run` programs there are: the first stop is the last
    /// one's creation (the kernel creates them all before any runs).
    programs: usize,
    maxphyaddr: u8,
    /// The guest's deadline (`--timeout`): a session idle past it ends.
    until: std::time::Instant,
}

impl<'a> Debugger<'a> {
    /// A debugger that will accept gdb on `listener`.
    pub fn new(
        listener: Listener,
        snap: Snapshot<'a>,
        programs: usize,
        maxphyaddr: u8,
        until: std::time::Instant,
    ) -> Self {
        Debugger {
            listener,
            machine: None,
            stub: Stub::new(snap),
            watcher: None,
            sniff: sniff::Sniffer::default(),
            awaiting_first: false,
            ended: false,
            machine_seen: false,
            programs,
            maxphyaddr,
            until,
        }
    }

    fn set_running(&self, on: bool) {
        if let Some(w) = &self.watcher {
            w.running.store(on, Ordering::Release);
        }
    }

    /// Before each KVM_RUN: the first time, wait for gdb; later, serve a
    /// Ctrl-C (or notice gdb went away).
    pub fn pause_point(&mut self, vcpu: &VcpuFd, reg: &Registry<'_>) {
        if self.ended {
            return;
        }
        if self.machine.is_none() {
            self.attach();
            return;
        }
        let wanted = self
            .watcher
            .as_ref()
            .is_some_and(|w| w.wanted.swap(false, Ordering::AcqRel));
        if wanted {
            self.set_running(false);
            self.interrupted(vcpu, reg);
        }
    }

    fn attach(&mut self) {
        let conn = match self.listener.accept(self.until) {
            Ok(c) => c,
            Err(e) => return self.end(format!("no gdb attached ({e})")),
        };
        self.watcher = Watcher::start(&conn).ok();
        match GdbStub::new(conn).run_state_machine(&mut self.stub) {
            Ok(m) => {
                self.machine = Some(m);
                self.machine_seen = true;
                self.awaiting_first = true;
                say("attached; the guest boots up to its first process");
            }
            Err(e) => self.end(format!("session failed: {e}")),
        }
    }

    /// A process was created: the last `--run` program's creation (or,
    /// without --run, the first process's) is where gdb first sees the
    /// guest stopped, every program there and none of them run yet.
    pub fn created(&mut self, vcpu: &VcpuFd, reg: &Registry<'_>, pid: u32, module: Option<u32>) {
        let last = u32::try_from(self.programs)
            .ok()
            .and_then(|n| n.checked_sub(1));
        if self.awaiting_first && (module == last || self.programs == 0) {
            self.awaiting_first = false;
            // gdb starts with the first one selected.
            let first = reg
                .live()
                .filter(|p| p.module.is_some() || self.programs == 0)
                .map(|p| p.pid)
                .min();
            self.stub.selected = first.or(Some(pid));
            self.stopped(vcpu, reg, None, None);
        }
    }

    /// A user process took #BP or #DB. None: no debugger wants it (the
    /// kernel treats it as the process's own fault); else the registers it
    /// goes on with.
    pub fn trap(
        &mut self,
        vcpu: &VcpuFd,
        reg: &Registry<'_>,
        m: &abi::msg::DebugTrap,
    ) -> Option<abi::msg::DebugTrap> {
        if self.machine.is_none() || self.awaiting_first {
            return None;
        }
        let pid = m.pid;
        let t = Tid::new(pid as usize)?;
        let mut regs = Regs {
            gpr: m.regs,
            rip: m.rip,
            rflags: m.rflags & !abi::msg::RFLAGS_TF,
        };
        let at = m.rip.wrapping_sub(1);
        self.refresh(vcpu, reg, None);
        let reason = if m.vector == abi::msg::TRAP_BREAKPOINT && self.stub.is_ours(pid, at) {
            // gdb (swbreak) expects the pc at the breakpoint, and the
            // original instruction runs when it is resumed.
            regs.rip = at;
            Reason::SwBreak(t)
        } else {
            Reason::SignalWithThread {
                tid: t,
                signal: Signal::SIGTRAP,
            }
        };
        self.stub.selected = Some(pid);
        self.stopped(vcpu, reg, Some((pid, regs)), Some(reason));
        let r = self.stub.snap.trap.map_or(regs, |t| t.1);
        let mut out = *m;
        out.regs = r.gpr;
        out.rip = r.rip;
        out.rflags = r.rflags;
        if self.machine.is_some() && self.stub.step == Some(pid) {
            out.rflags |= abi::msg::RFLAGS_TF;
        }
        Some(out)
    }

    /// The guest ended: tell gdb, and end the session.
    pub fn guest_ended(&mut self, stop: &Stop) {
        if let Some(GdbStubStateMachine::Running(r)) = self.machine.take() {
            let reason = match stop {
                Stop::Shutdown(s) => Reason::Exited(u8::try_from(*s).unwrap_or(u8::MAX)),
                _ => Reason::Terminated(Signal::SIGKILL),
            };
            let _ = r.report_stop(&mut self.stub, reason);
        }
        if !self.ended && self.machine_seen {
            self.end("the guest ended".into());
        }
        self.watcher = None;
    }

    /// Take the stopped guest's picture.
    fn refresh(&mut self, vcpu: &VcpuFd, reg: &Registry<'_>, trap: Option<(u32, Regs)>) {
        let s = &mut self.stub.snap;
        s.procs = reg.live().map(ProcView::from_event).collect();
        s.procs.sort_by_key(|p| p.pid);
        s.vcpu = vcpu.get_regs().unwrap_or_default();
        s.sregs = vcpu.get_sregs().unwrap_or_default();
        s.mode = crate::vcpu::paging_mode(vcpu, self.maxphyaddr);
        s.vcpu_dirty = false;
        s.trap = trap;
        self.stub.step = None;
        self.stub.rekey_breakpoints();
    }

    /// The guest is stopped: tell gdb why (when it waits for a stop) and
    /// serve it until it resumes the guest or goes.
    fn stopped(
        &mut self,
        vcpu: &VcpuFd,
        reg: &Registry<'_>,
        trap: Option<(u32, Regs)>,
        reason: Option<Reason>,
    ) {
        self.set_running(false);
        self.refresh(vcpu, reg, trap);
        let m = match (self.machine.take(), reason) {
            (Some(GdbStubStateMachine::Running(r)), Some(why)) => {
                match r.report_stop(&mut self.stub, why) {
                    Ok(m) => m,
                    Err(e) => return self.end(format!("session ended: {e}")),
                }
            }
            (Some(m), _) => m,
            (None, _) => return,
        };
        self.serve(m);
        self.resume(vcpu);
    }

    /// Apply what gdb changed to the vCPU before it runs again.
    fn resume(&mut self, vcpu: &VcpuFd) {
        let s = &mut self.stub.snap;
        let step_vcpu = self
            .stub
            .step
            .is_some_and(|p| s.source(p) == Source::Vcpu && s.trap.is_none());
        if s.vcpu_dirty || step_vcpu {
            if step_vcpu {
                s.vcpu.rflags |= abi::msg::RFLAGS_TF;
            }
            if let Err(e) = vcpu.set_regs(&s.vcpu) {
                say(format!("KVM_SET_REGS failed: {e}"));
            }
            s.vcpu_dirty = false;
        }
    }
}
