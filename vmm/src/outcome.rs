//! What a run produced, and what it means for the exit code: make's 0/1
//! for the demo, a shell's status of the first program with `--run`.

use crate::ports;
use crate::report::{self, Report};
use crate::terminal;
use crate::vcpu::Stop;

/// What a run produced.
pub struct Outcome {
    /// What the run observed, ready to render.
    pub report: Report,
    /// `--run` programs were given: the exit code is the first one's.
    pub programs: bool,
    /// Why the guest stopped.
    pub stop: Stop,
    /// Ports the guest wrote to that no device serves (said after the run).
    pub unknown_ports: ports::UnknownPorts,
}

impl Outcome {
    /// The run went wrong in a way the VMM noticed itself: the report holds
    /// errors (KVM_TRANSLATE disagreed, a read-back failed, the guest broke
    /// the protocol).
    pub fn has_errors(&self) -> bool {
        !self.report.errors.is_empty()
    }

    /// The processes that failed, one line each: a non-zero exit status,
    /// or a fault or signal that killed it — except the built-in programs
    /// that are killed on purpose (abi::programs::MEANT_TO_FAULT: `snoop`).
    /// Said on stderr after the run, `--run` or not (the first program's
    /// status is also microvmm's exit code then). Only of the processes
    /// the kernel started: a forked child's end is its parent's to hear
    /// (wait), as a shell's children's are.
    pub fn failures(&self) -> Vec<String> {
        use report::ExitKind;
        self.report
            .processes
            .iter()
            .filter(|p| p.ppid == 0)
            .filter_map(|p| {
                let name = terminal::escape_text(&p.name);
                match p.exit.kind {
                    ExitKind::Exit if p.exit.status != Some(0) => Some(format!(
                        "pid {} ({name}) exited with status {}",
                        p.pid,
                        p.exit.status.unwrap_or(-1)
                    )),
                    // A shell says nothing of SIGPIPE: the reader left.
                    ExitKind::Signal if p.exit.signal == Some(abi::signals::SIGPIPE) => None,
                    ExitKind::Fault | ExitKind::Signal if !meant_to_fault(p) => {
                        Some(format!("pid {} ({name}) was {}", p.pid, p.exit.summary()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Whether any process failed: a non-zero status, or killed (the
    /// built-ins meant to be killed aside).
    fn any_failed(&self) -> bool {
        use report::ExitKind;
        let mut started = self.report.processes.iter().filter(|p| p.ppid == 0);
        started.any(|p| match p.exit.kind {
            ExitKind::Exit => p.exit.status != Some(0),
            ExitKind::Fault | ExitKind::Signal => !meant_to_fault(p),
            ExitKind::Exec | ExitKind::Running => false,
        })
    }

    /// The last image of the first `--run` program's pid: after an execve
    /// its status is the new image's, as a shell sees it.
    fn first_program_end(&self) -> Option<&report::ProcessReport> {
        let ps = &self.report.processes;
        let pid = ps.iter().find(|p| p.run_index == Some(0))?.pid;
        ps.iter().rev().find(|p| p.pid == pid)
    }

    /// Without `--run`: 0 when the guest shut down with status 0, every
    /// process succeeded and the report has no errors, else 1 — as make
    /// does. With `--run`: the first program's status as a shell shows it
    /// (128 + N for a signal, 139 for a fault killed as SIGSEGV), or one of
    /// microvmm's own codes (exit_code::*, as docker run has them).
    pub fn exit_code(&self) -> i32 {
        if !self.programs {
            let ok = self.stop.is_ok() && !self.has_errors() && !self.any_failed();
            return if ok { 0 } else { 1 };
        }
        match &self.stop {
            Stop::Timeout(_) => exit_code::TIMEOUT,
            Stop::Interrupted { signal, .. } => 128 + signal,
            Stop::Shutdown(0 | abi::status::PROCESS_FAILED) if !self.has_errors() => self
                .first_program_end()
                .and_then(|p| p.exit.shell_status)
                .map_or(exit_code::FAILED, |s| s as i32),
            _ => exit_code::FAILED,
        }
    }
}

/// microvmm's own exit codes when it runs `--run` programs, as `docker
/// run` has them: a program's status is its own (0-255, 128 + N for a
/// signal), so microvmm's failures take codes programs seldom use.
pub mod exit_code {
    /// The guest's time (`--timeout`) ran out, as timeout(1) says.
    pub const TIMEOUT: i32 = 124;
    /// microvmm failed: a bad argument, a `--files` tree it cannot copy,
    /// KVM, the guest kernel, an output that could not be written, or the
    /// report found errors.
    pub const FAILED: i32 = 125;
    /// A `--run` file cannot be run: not a static x86-64 executable, too
    /// large, unreadable.
    pub const CANNOT_RUN: i32 = 126;
    /// A `--run` file does not exist.
    pub const NOT_FOUND: i32 = 127;
}

/// A built-in program that demonstrates protection by being killed.
fn meant_to_fault(p: &report::ProcessReport) -> bool {
    let program = p.name.split(':').next().unwrap_or("");
    p.path.is_none() && abi::programs::MEANT_TO_FAULT.contains(&program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ExitKind, ExitReport, ProcessReport};

    fn image(pid: u32, image: u32, run_index: Option<u32>, exit: ExitReport) -> ProcessReport {
        ProcessReport {
            pid,
            image,
            run_index,
            exit,
            ..Default::default()
        }
    }

    /// After execve the first program's status is its last image's; an
    /// image replaced by execve is no failure.
    #[test]
    fn the_exit_code_follows_the_first_programs_pid_through_exec() {
        let exec = ExitReport {
            kind: ExitKind::Exec,
            ..Default::default()
        };
        let exit = |s: i64| ExitReport {
            kind: ExitKind::Exit,
            status: Some(s),
            shell_status: Some(s & 0xff),
            ..Default::default()
        };
        let o = Outcome {
            report: Report {
                processes: vec![
                    image(1, 0, Some(0), exec),
                    image(1, 1, None, exit(3)),
                    image(2, 0, None, exit(0)),
                ],
                ..Default::default()
            },
            programs: true,
            stop: Stop::Shutdown(0),
            unknown_ports: Default::default(),
        };
        assert_eq!(o.exit_code(), 3);
        assert_eq!(o.failures(), ["pid 1 () exited with status 3"]);
    }

    /// A forked child that fails is its parent's business (the shell
    /// says "not found" itself): no line, no failed run.
    #[test]
    fn a_childs_failure_is_its_parents_to_report() {
        let exit = |s: i64| ExitReport {
            kind: ExitKind::Exit,
            status: Some(s),
            shell_status: Some(s & 0xff),
            ..Default::default()
        };
        let mut child = image(2, 0, None, exit(127));
        child.ppid = 1;
        let o = Outcome {
            report: Report {
                processes: vec![image(1, 0, Some(0), exit(0)), child],
                ..Default::default()
            },
            programs: true,
            stop: Stop::Shutdown(0),
            unknown_ports: Default::default(),
        };
        assert_eq!(o.exit_code(), 0);
        assert!(o.failures().is_empty());
        assert!(!o.any_failed());
    }
}
