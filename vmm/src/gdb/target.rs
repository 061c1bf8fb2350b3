//! What gdb sees while the guest is stopped: guest processes as threads
//! (thread id = pid), each one's registers where the VMM knows them, its
//! memory through its own page tables (mem.rs), software breakpoints in
//! its own pages, and the monitor commands (monitor.rs). It implements
//! gdbstub's target traits over a snapshot taken when the guest stopped;
//! the session (mod.rs) applies register changes when the guest resumes.

use std::collections::BTreeMap;

use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::X86_64_SSE;
use gdbstub_arch::x86::reg::X86_64CoreRegs;

use super::mem::MemError;
use super::view::{Regs, Snapshot, Source};
use crate::addr::Gpa;

/// The x86 int3 instruction.
const INT3: u8 = 0xcc;
/// errno values gdb is told (EFAULT: not mapped; EBUSY: shared frame).
const EFAULT: u8 = 14;
const EBUSY: u8 = 16;

/// A software breakpoint in place: the frame it went into and the byte
/// the int3 replaced.
#[derive(Clone, Copy, Debug)]
pub struct Inserted {
    /// Where the int3 is.
    pub gpa: Gpa,
    /// The byte it replaced.
    pub orig: u8,
}

/// gdb's target: the stopped guest.
pub struct Stub<'a> {
    /// What the guest looked like when it stopped.
    pub snap: Snapshot<'a>,
    /// The process gdb's memory and breakpoint requests are for (the last
    /// `Hg`, else the stopped one).
    pub selected: Option<u32>,
    /// Software breakpoints in place, by (pid, address).
    pub breakpoints: BTreeMap<(u32, u64), Inserted>,
    /// The process gdb asked to single-step on resume.
    pub step: Option<u32>,
    /// Lines for microvmm's stderr (why a request was refused).
    pub notes: Vec<String>,
}

fn tid(pid: u32) -> Option<Tid> {
    Tid::new(pid as usize)
}

fn pid_of(t: Tid) -> u32 {
    u32::try_from(t.get()).unwrap_or(0)
}

impl<'a> Stub<'a> {
    /// A target over `snap`, with no breakpoints yet.
    pub fn new(snap: Snapshot<'a>) -> Self {
        Stub {
            snap,
            selected: None,
            breakpoints: BTreeMap::new(),
            step: None,
            notes: Vec::new(),
        }
    }

    /// The process requests without a thread go to.
    pub fn current(&self) -> Option<u32> {
        self.selected
            .filter(|p| self.snap.proc(*p).is_some())
            .or_else(|| self.snap.stopped_pid())
            .or_else(|| self.snap.procs.first().map(|p| p.pid))
    }

    /// Whether the int3 at `addr` that `pid` hit is one of gdb's: placed
    /// in its pages, or in a frame it shares with the process it was
    /// placed for (a child forked after the breakpoint went in: gdb's
    /// breakpoints are every thread's, so it is a hit in the child).
    pub fn is_ours(&self, pid: u32, addr: u64) -> bool {
        if self.breakpoints.contains_key(&(pid, addr)) {
            return true;
        }
        let Some(Ok((gpa, _))) = self.snap.space(pid).map(|s| s.translate(addr)) else {
            return false;
        };
        self.breakpoints
            .iter()
            .any(|(&(_, a), b)| a == addr && b.gpa == gpa)
    }

    /// A breakpoint whose process is gone stays while a live process
    /// still maps its frame at its address (a forked child), now under
    /// that process; else its frame went back to the kernel with the
    /// process, and nothing is left to put back.
    pub fn rekey_breakpoints(&mut self) {
        let gone: Vec<(u32, u64)> = self
            .breakpoints
            .keys()
            .copied()
            .filter(|(p, _)| self.snap.proc(*p).is_none())
            .collect();
        for (pid, addr) in gone {
            let Some(b) = self.breakpoints.remove(&(pid, addr)) else {
                continue;
            };
            let heir = self.snap.procs.iter().map(|p| p.pid).find(|&p| {
                self.snap
                    .space(p)
                    .and_then(|s| s.translate(addr).ok())
                    .is_some_and(|(g, _)| g == b.gpa)
            });
            if let Some(h) = heir {
                self.breakpoints.entry((h, addr)).or_insert(b);
            }
        }
    }

    /// Put back every byte an int3 replaced (gdb detached or went away).
    pub fn remove_all(&mut self) {
        for ((pid, addr), b) in std::mem::take(&mut self.breakpoints) {
            self.restore(pid, addr, b);
        }
    }

    fn restore(&mut self, pid: u32, addr: u64, b: Inserted) {
        let mut now = [0u8; 1];
        // The frame may be another's by now (the process exited): only a
        // byte that is still our int3 is put back.
        if self.snap.read_gpa(b.gpa, &mut now) && now[0] == INT3 {
            self.snap.write_gpa(b.gpa, &[b.orig]);
        } else {
            self.notes.push(format!(
                "breakpoint at {addr:#x} in pid {pid}: its page changed, left as it is"
            ));
        }
    }

    fn mem_error(&mut self, e: MemError) -> TargetError<&'static str> {
        self.notes.push(e.to_string());
        match e {
            MemError::NotMapped(_) => TargetError::Errno(EFAULT),
            MemError::Shared { .. } => TargetError::Errno(EBUSY),
        }
    }
}

impl Target for Stub<'_> {
    type Arch = X86_64_SSE;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Stub<'_> {
    fn read_registers(&mut self, regs: &mut X86_64CoreRegs, t: Tid) -> TargetResult<(), Self> {
        let pid = pid_of(t);
        let r = match self.snap.source(pid) {
            Source::Trap | Source::Vcpu => self.snap.regs(pid),
            // Not on the vCPU and not stopped in a trap: the VMM does not
            // know its registers (the kernel keeps them); gdb sees zeros.
            Source::Unknown => Regs::default(),
        };
        regs.regs = r.gpr;
        regs.rip = r.rip;
        regs.eflags = r.rflags as u32;
        regs.segments.cs = 0x33;
        regs.segments.ss = 0x2b;
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86_64CoreRegs, t: Tid) -> TargetResult<(), Self> {
        let pid = pid_of(t);
        let r = Regs {
            gpr: regs.regs,
            rip: regs.rip,
            rflags: u64::from(regs.eflags),
        };
        if self.snap.set_regs(pid, r) {
            Ok(())
        } else {
            self.notes.push(format!(
                "pid {pid}: its registers cannot be written (it is not the stopped process)"
            ));
            Err(TargetError::NonFatal)
        }
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], t: Tid) -> TargetResult<usize, Self> {
        let pid = pid_of(t);
        let space = self.snap.space(pid).ok_or(TargetError::Errno(EFAULT))?;
        match space.read(start, data) {
            Ok(n) => Ok(n),
            Err(_) => Err(TargetError::Errno(EFAULT)),
        }
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], t: Tid) -> TargetResult<(), Self> {
        let pid = pid_of(t);
        let r = {
            let space = self.snap.space(pid).ok_or(TargetError::Errno(EFAULT))?;
            space.write(start, data, &self.snap.others(pid))
        };
        r.map_err(|e| self.mem_error(e))
    }

    fn list_active_threads(&mut self, f: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        for p in &self.snap.procs {
            if let Some(t) = tid(p.pid) {
                f(t);
            }
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadResume for Stub<'_> {
    fn resume(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.step = None;
        Ok(())
    }

    fn set_resume_action_continue(&mut self, _: Tid, _: Option<Signal>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSchedulerLocking for Stub<'_> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        // gdb steps one thread and wants the others held; the guest kernel
        // schedules its processes, so they may run meanwhile. The step
        // itself still ends after one instruction of its own process.
        Ok(())
    }
}

impl MultiThreadSingleStep for Stub<'_> {
    fn set_resume_action_step(&mut self, t: Tid, _: Option<Signal>) -> Result<(), Self::Error> {
        let pid = pid_of(t);
        if self.snap.source(pid) == Source::Unknown {
            // Only a process stopped in a trap (or on the vCPU in user
            // mode) can be given the trap flag; the others just run.
            self.notes.push(format!(
                "pid {pid} cannot be single-stepped here (it is not the stopped process): it continues"
            ));
        } else {
            self.step = Some(pid);
        }
        Ok(())
    }
}

impl Breakpoints for Stub<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Stub<'_> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(pid) = self.current() else {
            return Err(TargetError::Errno(EFAULT));
        };
        if self.breakpoints.contains_key(&(pid, addr)) {
            return Ok(true);
        }
        let r = {
            let space = self.snap.space(pid).ok_or(TargetError::Errno(EFAULT))?;
            let mut orig = [0u8; 1];
            space
                .read(addr, &mut orig)
                .and_then(|_| space.frames(addr, 1))
                .and_then(|f| {
                    space.write(addr, &[INT3], &self.snap.others(pid))?;
                    Ok((f, orig[0]))
                })
        };
        match r {
            Ok((frames, orig)) => {
                let gpa = frames.first().map_or(Gpa(0), |f| f.1);
                self.breakpoints.insert((pid, addr), Inserted { gpa, orig });
                Ok(true)
            }
            Err(e) => {
                let e = self.mem_error(e);
                self.notes
                    .push(format!("breakpoint at {addr:#x} in pid {pid} refused"));
                Err(e)
            }
        }
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let key = self
            .breakpoints
            .keys()
            .copied()
            .find(|&(p, a)| a == addr && Some(p) == self.current())
            .or_else(|| self.breakpoints.keys().copied().find(|&(_, a)| a == addr));
        if let Some(k) = key
            && let Some(b) = self.breakpoints.remove(&k)
        {
            self.restore(k.0, k.1, b);
        }
        Ok(true)
    }
}

impl HwBreakpoint for Stub<'_> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        // Measured on PVM (docs/gdb.md): KVM_SET_GUEST_DEBUG accepts DR0-3
        // and DR7 but a guest user instruction at DR0 never exits. gdb
        // hears "not supported" and says so.
        self.notes.push(format!(
            "hardware breakpoint at {addr:#x} refused: {}",
            self.snap.facilities.hw_breakpoints
        ));
        Ok(false)
    }

    fn remove_hw_breakpoint(&mut self, _addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(false)
    }
}

impl ThreadExtraInfo for Stub<'_> {
    fn thread_extra_info(&self, t: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let pid = pid_of(t);
        let text = match self.snap.proc(pid) {
            Some(p) => format!("pid {} {}{}", p.pid, p.name, self.snap.state_text(pid)),
            None => format!("pid {pid} gone"),
        };
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

impl MonitorCmd for Stub<'_> {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), Self::Error> {
        let text = super::monitor::run(self, &String::from_utf8_lossy(cmd));
        // gdb prints console output as it comes; one chunk per line keeps
        // each packet small.
        for line in text.lines() {
            gdbstub::outputln!(out, "{line}");
        }
        Ok(())
    }
}
