//! The session with gdb: gdbstub's state machine fed byte by byte from the
//! connection, while the guest is stopped (`serve`: until gdb resumes it
//! or goes) and while it runs (`interrupted`: Ctrl-C), and how a session
//! ends (every breakpoint out, the connection dropped, one line on
//! stderr saying why).

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::DisconnectReason;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use kvm_ioctls::VcpuFd;

use super::{Debugger, Machine, Reason, say};
use crate::registry::Registry;

impl<'a> Debugger<'a> {
    /// Ctrl-C (or gdb went away) while the guest ran.
    pub(super) fn interrupted(&mut self, vcpu: &VcpuFd, reg: &Registry<'_>) {
        let Some(GdbStubStateMachine::Running(mut r)) = self.machine.take() else {
            return;
        };
        loop {
            if !r.borrow_conn().readable() {
                self.machine = Some(r.into());
                self.set_running(true);
                return;
            }
            let Some(b) = r.borrow_conn().read_byte(self.until) else {
                return self.end(self.gone());
            };
            self.sniff.feed(b, &mut self.stub.selected);
            match r.incoming_data(&mut self.stub, b) {
                Ok(GdbStubStateMachine::Running(next)) => r = next,
                Ok(GdbStubStateMachine::CtrlCInterrupt(c)) => {
                    self.refresh(vcpu, reg, None);
                    let why = match self
                        .stub
                        .snap
                        .stopped_pid()
                        .and_then(|p| Tid::new(p as usize))
                    {
                        Some(tid) => Reason::SignalWithThread {
                            tid,
                            signal: Signal::SIGINT,
                        },
                        None => Reason::Signal(Signal::SIGINT),
                    };
                    match c.interrupt_handled(&mut self.stub, Some(why)) {
                        Ok(m) => {
                            self.serve(m);
                            self.resume(vcpu);
                        }
                        Err(e) => self.end(format!("session ended: {e}")),
                    }
                    return;
                }
                Ok(m) => {
                    self.serve(m);
                    self.resume(vcpu);
                    return;
                }
                Err(e) => return self.end(format!("session ended: {e}")),
            }
        }
    }

    /// Serve gdb's packets while the guest is stopped.
    pub(super) fn serve(&mut self, mut m: Machine<'a>) {
        loop {
            m = match m {
                GdbStubStateMachine::Idle(mut i) => {
                    let Some(b) = i.borrow_conn().read_byte(self.until) else {
                        return self.end(self.gone());
                    };
                    self.sniff.feed(b, &mut self.stub.selected);
                    match i.incoming_data(&mut self.stub, b) {
                        Ok(next) => next,
                        Err(e) => {
                            return self.end(format!("session ended: {e}; the guest runs on"));
                        }
                    }
                }
                GdbStubStateMachine::Running(r) => {
                    self.flush_notes();
                    self.machine = Some(r.into());
                    self.set_running(true);
                    return;
                }
                GdbStubStateMachine::CtrlCInterrupt(c) => {
                    match c.interrupt_handled(&mut self.stub, None::<Reason>) {
                        Ok(next) => next,
                        Err(e) => return self.end(format!("session ended: {e}")),
                    }
                }
                GdbStubStateMachine::Disconnected(d) => {
                    let why = match d.get_reason() {
                        DisconnectReason::Disconnect => "gdb detached; the guest runs on",
                        DisconnectReason::Kill => "gdb asked to kill; detached, the guest runs on",
                        _ => "the session ended",
                    };
                    return self.end(why.into());
                }
            };
        }
    }

    /// Why reading from gdb stopped.
    pub(super) fn gone(&self) -> String {
        if std::time::Instant::now() >= self.until {
            "--timeout ran out while gdb had the guest stopped".into()
        } else if let Some(sig) = crate::interrupt::received() {
            format!(
                "{} while gdb had the guest stopped",
                crate::interrupt::name(sig)
            )
        } else {
            "gdb went away; the guest runs on".into()
        }
    }

    pub(super) fn flush_notes(&mut self) {
        for n in std::mem::take(&mut self.stub.notes) {
            say(n);
        }
    }

    /// End the session: take every breakpoint out, drop the connection.
    pub(super) fn end(&mut self, why: String) {
        self.stub.remove_all();
        self.stub.step = None;
        self.flush_notes();
        self.machine = None;
        self.watcher = None;
        self.awaiting_first = false;
        self.ended = true;
        say(why);
    }
}
