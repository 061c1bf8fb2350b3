//! The run's port handler: every `in` and `out` of the guest lands here and
//! goes to its device — COM1 to the console, the hypercall port through
//! the decoder to the process registry, the shutdown port ends the run.

mod unknown;

pub use unknown::UnknownPorts;

use crate::addr::Gpa;
use crate::devices::console::{self, Console};
use crate::devices::event::{ConsoleChunk, Event, WhereisRequest};
use crate::devices::hypercall::{self, Outcome, WhereisReply};
use crate::devices::stdin::{Got, Stdin};
use crate::memory::GuestRam;
use crate::observations::{ExitCounts, Observations, RunError};
use crate::registry::Registry;
use crate::trace::Drain;
use crate::trace::ring::VmExit;
use crate::vcpu::{ExitHandler, LiveCpu, Stop};

/// The devices of one run.
pub struct Ports<'a> {
    ram: &'a GuestRam,
    /// COM1 and the console messages.
    pub console: Console,
    /// microvmm's stdin, for the first `--run` program.
    stdin: Stdin,
    registry: Registry<'a>,
    exits: ExitCounts,
    unknown_ports: UnknownPorts,
    /// The CPU's physical address width, for the analysis's walks.
    maxphyaddr: u8,
    /// `--trace`: the guest's event ring, drained at each message.
    trace: Option<Drain>,
    /// KVM's counters, sampled at each return from KVM_RUN.
    kvm: Option<crate::kvmstats::sampler::AtExit>,
    /// `--gdb`'s debugger.
    debugger: Option<crate::gdb::Debugger<'a>>,
    /// The guest's console outbox (abi::msg::Boot::outbox), once known.
    outbox: Option<Gpa>,
}

impl<'a> Ports<'a> {
    /// The devices over `ram`, printing the guest's console to `console`.
    pub fn new(
        ram: &'a GuestRam,
        console: Console,
        stdin: Stdin,
        registry: Registry<'a>,
        maxphyaddr: u8,
    ) -> Self {
        Ports {
            ram,
            console,
            stdin,
            registry,
            exits: ExitCounts::default(),
            unknown_ports: UnknownPorts::default(),
            maxphyaddr,
            trace: None,
            kvm: None,
            debugger: None,
            outbox: None,
        }
    }

    /// Sample KVM's counters with `s` at each return from KVM_RUN.
    pub fn with_kvm(mut self, s: Option<crate::kvmstats::sampler::AtExit>) -> Self {
        self.kvm = s;
        self
    }

    /// Drain the guest's trace ring with `d` (`--trace`).
    pub fn with_trace(mut self, d: Option<Drain>) -> Self {
        self.trace = d;
        self
    }

    /// Note an exit in the trace, with the process the guest says runs.
    fn traced_exit(&mut self, port: u16) {
        if let Some(t) = &mut self.trace {
            let ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let pid = crate::kvmstats::sampler::owner(self.ram.mem()).0;
            t.exit(VmExit { ns, pid, port });
        }
    }

    /// Attach `--gdb`'s debugger (it waits for gdb before the first run).
    pub fn with_debugger(mut self, d: crate::gdb::Debugger<'a>) -> Self {
        self.debugger = Some(d);
        self
    }

    /// The registry, to build a debugger over.
    pub fn registry(&self) -> &Registry<'a> {
        &self.registry
    }

    /// The guest stopped for good: show what its console outbox still
    /// holds (a guest stopped from outside flushed nothing), and tell gdb.
    pub fn guest_ended(&mut self, stop: &Stop) {
        self.drain_outbox();
        if let Some(d) = &mut self.debugger {
            d.guest_ended(stop);
        }
    }

    /// The outbox's records, checked as any console message. A message
    /// the guest was cut off in the middle of writing may not decode: it
    /// is dropped, and no error (the guest did nothing wrong). (Stopped
    /// between a flush's exit and its next instruction, the guest would
    /// have its last message shown twice: a window of a few instructions.)
    fn drain_outbox(&mut self) {
        let Some(gpa) = self.outbox.take() else {
            return;
        };
        if let Ok(Event::Console { chunks, .. }) =
            hypercall::read(self.ram.mem(), self.ram.size(), gpa)
        {
            for c in &chunks {
                self.console_chunk(c);
            }
        }
    }

    /// Show one writer's console bytes and keep them in its process's
    /// record. False when nobody reads the `--run` program's stream.
    fn console_chunk(&mut self, c: &ConsoleChunk) -> bool {
        if c.pid == 0 {
            self.console.write(&c.bytes);
            return true;
        }
        let name = self.registry.name(c.pid).unwrap_or("?");
        let read = if self.registry.is_program(c.pid) {
            self.console.write_program(c.pid, name, c.stream, &c.bytes)
        } else {
            self.console.write_process(c.pid, name, &c.bytes);
            true
        };
        self.registry.output(c.pid, c.stream, &c.bytes);
        read
    }

    /// Serve the message at `gpa`.
    fn message(&mut self, cpu: &LiveCpu, gpa: Gpa) -> Outcome {
        let event = match hypercall::read(self.ram.mem(), self.ram.size(), gpa) {
            Ok(e) => e,
            Err(e) => {
                self.registry.error(RunError::Protocol(e));
                return Outcome::Invalid;
            }
        };
        match event {
            Event::Console { chunks, reply } => self.console(&chunks, reply, gpa),
            Event::Boot(b) => {
                self.outbox = b.outbox;
                self.registry.boot(b);
                Outcome::Ok
            }
            Event::Mark { .. } => Outcome::Ok,
            Event::Threads(t) => {
                self.registry.threads(t);
                Outcome::Ok
            }
            Event::StdinRead { pid, want, reply } => self.stdin_read(pid, want, reply, gpa),
            Event::Proc(p) => {
                let created = p.exit.is_none().then_some((p.pid, p.module));
                self.registry.proc(cpu, p);
                if let (Some(d), Some((pid, module))) = (&mut self.debugger, created) {
                    d.created(cpu.fd, &self.registry, pid, module);
                }
                Outcome::Ok
            }
            Event::DebugTrap { msg, at } => self.debug_trap(cpu, &msg, at, gpa),
            Event::Whereis(q) => self.whereis(cpu, &q, gpa),
        }
    }

    /// Console records, in the order written; tells the kernel which
    /// streams nobody reads.
    fn console(&mut self, chunks: &[ConsoleChunk], reply: Gpa, gpa: Gpa) -> Outcome {
        let mut broken = 0;
        for c in chunks {
            if !self.console_chunk(c) {
                broken |= hypercall::broken_bit(c.stream);
            }
        }
        if broken == 0 {
            return Outcome::Ok;
        }
        // Nobody reads the stream: the kernel gives the writer
        // SIGPIPE (abi::msg::Console).
        if hypercall::write_console_broken(self.ram.mem(), reply, broken).is_err() {
            self.registry.error(RunError::AnswerNotWritten { gpa });
            return Outcome::Invalid;
        }
        Outcome::Failed
    }

    /// A read of stdin: only the first --run program reads microvmm's.
    fn stdin_read(&mut self, pid: u32, want: usize, reply: Gpa, gpa: Gpa) -> Outcome {
        let got = if self.registry.is_first_program(pid) {
            self.stdin.read(want)
        } else {
            Got::Bytes(Vec::new())
        };
        let Got::Bytes(bytes) = got else {
            return Outcome::Failed;
        };
        if hypercall::write_stdin(self.ram.mem(), reply, &bytes).is_err() {
            self.registry.error(RunError::AnswerNotWritten { gpa });
            return Outcome::Invalid;
        }
        Outcome::Ok
    }

    /// A process stopped at a breakpoint or step: the debugger answers.
    fn debug_trap(
        &mut self,
        cpu: &LiveCpu,
        msg: &abi::msg::DebugTrap,
        at: Gpa,
        gpa: Gpa,
    ) -> Outcome {
        let Some(d) = &mut self.debugger else {
            return Outcome::Failed;
        };
        let Some(answer) = d.trap(cpu.fd, &self.registry, msg) else {
            return Outcome::Failed;
        };
        if hypercall::write_debug_trap(self.ram.mem(), at, &answer).is_err() {
            self.registry.error(RunError::AnswerNotWritten { gpa });
            return Outcome::Invalid;
        }
        Outcome::Ok
    }

    /// whereis: the chain of one address of the asking process.
    fn whereis(&mut self, cpu: &LiveCpu, q: &WhereisRequest, gpa: Gpa) -> Outcome {
        let found = self.registry.whereis(cpu, q);
        let reply = match &found {
            None => WhereisReply::NotMapped,
            Some(w) => WhereisReply::Found {
                gpa: w.gpa,
                hva: w.host.hva,
                frame: w.host.frame.clone(),
                guest_page_size: w.guest_page_size.bytes(),
                host_page_size: w.host.page_size,
                kvm_gpa: w.kvm,
                walk: w
                    .levels
                    .iter()
                    .map(|l| (l.guest.entry_gpa, l.guest.entry, l.entry_hpa))
                    .collect(),
            },
        };
        let answer = hypercall::encode_answer(q.gva, &reply);
        if hypercall::write_answer(self.ram.mem(), q.reply, &answer).is_err() {
            self.registry.error(RunError::AnswerNotWritten { gpa });
            return Outcome::Invalid;
        }
        if found.is_none() {
            return Outcome::Failed;
        }
        Outcome::Ok
    }

    /// The run is over: everything observed, as one value.
    pub fn finish(mut self) -> Observations {
        self.console.flush();
        let r = self.registry.finish();
        Observations {
            boot: r.boot,
            procs: r.procs,
            whereis: r.whereis,
            errors: r.errors,
            not_recorded: r.not_recorded,
            exits: self.exits,
            first_output: self.console.first_output,
            unknown_ports: self.unknown_ports,
            kvm: Default::default(),
            trace: self.trace.map(|t| t.finish(self.ram.mem())),
        }
    }
}

/// The first four bytes of an `out` as a little-endian word.
fn word(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    let n = data.len().min(4);
    b[..n].copy_from_slice(&data[..n]);
    u32::from_le_bytes(b)
}

impl ExitHandler for Ports<'_> {
    fn io_out(&mut self, vcpu: &kvm_ioctls::VcpuFd, port: u16, data: &[u8]) -> Option<Stop> {
        self.exits.total += 1;
        self.traced_exit(port);
        match port {
            console::PORT_DATA => {
                self.exits.serial += 1;
                self.console.write(data);
            }
            abi::PORT_HYPERCALL => {
                self.exits.hypercall += 1;
                let gpa = Gpa(word(data) as u64);
                let cpu = LiveCpu {
                    fd: vcpu,
                    maxphyaddr: self.maxphyaddr,
                };
                let outcome = self.message(&cpu, gpa);
                // The result goes into the header the guest is waiting on.
                hypercall::write_result(self.ram.mem(), self.ram.size(), gpa, outcome);
                // The vCPU is stopped anyway: empty the trace ring.
                if let Some(t) = &mut self.trace {
                    t.drain(self.ram.mem());
                }
            }
            abi::PORT_SHUTDOWN => return Some(Stop::Shutdown(word(data))),
            // The exit-loop benchmark's port, and the legacy 8259 PICs'
            // command/data ports, which the kernel masks on the x86 path:
            // with the split irqchip the PICs are ours, in user space, and
            // a PIC that stays masked needs no emulation.
            abi::PORT_NULL | 0x20 | 0x21 | 0xa0 | 0xa1 => self.exits.other += 1,
            p => {
                self.exits.other += 1;
                self.unknown_ports.note(p);
            }
        }
        None
    }

    fn ran(&mut self) {
        if let Some(k) = &self.kvm {
            k.sample();
        }
    }

    fn pause_point(&mut self, vcpu: &kvm_ioctls::VcpuFd) {
        if let Some(d) = &mut self.debugger {
            d.pause_point(vcpu, &self.registry);
        }
    }

    fn io_in(&mut self, port: u16, data: &mut [u8]) {
        self.exits.total += 1;
        self.traced_exit(port);
        let v: u32 = match port {
            abi::PORT_HYPERCALL => abi::HYPERCALL_MAGIC,
            p if Console::serves(p) => self.console.read(p),
            _ => u32::MAX,
        };
        let b = v.to_le_bytes();
        for (i, d) in data.iter_mut().enumerate() {
            *d = b.get(i).copied().unwrap_or(0xff);
        }
    }
}
