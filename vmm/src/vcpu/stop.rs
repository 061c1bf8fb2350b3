//! Why the guest stopped (`Stop`), in words for the host line and the
//! report, and the registers worth seeing when it died (`RegDump`), read
//! from the stopped vCPU.

use std::fmt;

use kvm_ioctls::VcpuFd;

/// The registers worth seeing when a guest dies.
#[derive(Debug, Clone, Default)]
pub struct RegDump {
    /// Where it was executing.
    pub rip: u64,
    /// Its stack pointer.
    pub rsp: u64,
    /// Its flags (IF says whether interrupts could reach it).
    pub rflags: u64,
    /// Protection and paging enable bits.
    pub cr0: u64,
    /// The last page-fault address.
    pub cr2: u64,
    /// The page table in use.
    pub cr3: u64,
    /// PAE, LA57 and other paging extensions.
    pub cr4: u64,
    /// Long mode and NX enable bits.
    pub efer: u64,
    /// The code segment selector: its low two bits are the ring.
    pub cs: u16,
}

impl RegDump {
    /// Read them from a stopped vCPU; a register KVM will not give stays 0.
    pub fn read(vcpu: &VcpuFd) -> RegDump {
        let mut d = RegDump::default();
        if let Ok(r) = vcpu.get_regs() {
            (d.rip, d.rsp, d.rflags) = (r.rip, r.rsp, r.rflags);
        }
        if let Ok(s) = vcpu.get_sregs() {
            (d.cr0, d.cr2, d.cr3, d.cr4, d.efer, d.cs) =
                (s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector);
        }
        d
    }
}

impl fmt::Display for RegDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RIP {:#x} RSP {:#x} RFLAGS {:#x} CS {:#x} CR0 {:#x} CR2 {:#x} CR3 {:#x} CR4 {:#x} EFER {:#x}",
            self.rip,
            self.rsp,
            self.rflags,
            self.cs,
            self.cr0,
            self.cr2,
            self.cr3,
            self.cr4,
            self.efer
        )
    }
}

/// Why the guest stopped.
#[derive(Debug, Clone)]
pub enum Stop {
    /// The guest wrote its exit status to the shutdown port.
    Shutdown(u32),
    /// KVM_EXIT_SHUTDOWN: a triple fault.
    TripleFault(RegDump),
    /// KVM_EXIT_INTERNAL_ERROR with its suberror (1 = emulation failure).
    InternalError {
        /// KVM_INTERNAL_ERROR_*.
        suberror: u32,
        /// The registers at the error.
        regs: RegDump,
    },
    /// `--timeout` expired.
    Timeout(RegDump),
    /// SIGINT or SIGTERM asked the run to end.
    Interrupted {
        /// The signal's number.
        signal: i32,
        /// The registers when the run was stopped.
        regs: RegDump,
    },
    /// HLT reached the VMM (no in-kernel irqchip to wake the guest).
    Halted(RegDump),
    /// Any other exit the VMM cannot continue from.
    Unexpected {
        /// The exit, in KVM's words.
        what: String,
        /// The registers at the exit.
        regs: RegDump,
    },
}

impl Stop {
    /// The guest finished normally.
    pub fn is_ok(&self) -> bool {
        matches!(self, Stop::Shutdown(0))
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Shutdown(0) => write!(f, "guest shut down with status 0"),
            Stop::Shutdown(s) => write!(f, "guest shut down with status {s:#x}{}", status_name(*s)),
            Stop::TripleFault(r) => write!(f, "triple fault (KVM_EXIT_SHUTDOWN): {r}"),
            Stop::InternalError { suberror, regs } => {
                write!(
                    f,
                    "KVM internal error, suberror {suberror}{}: {regs}",
                    internal_name(*suberror)
                )
            }
            Stop::Timeout(r) => write!(f, "timeout: the guest was still running: {r}"),
            Stop::Halted(r) => write!(f, "the guest halted without shutting down: {r}"),
            Stop::Interrupted { signal, regs } => write!(
                f,
                "interrupted by {}: the report holds what was seen until then: {regs}",
                crate::interrupt::name(*signal)
            ),
            Stop::Unexpected { what, regs } => write!(f, "unexpected exit {what}: {regs}"),
        }
    }
}

fn status_name(s: u32) -> &'static str {
    match s {
        abi::status::BAD_CMDLINE => " (the kernel cannot run its command line)",
        abi::status::PROCESS_FAILED => " (a process exited with a non-zero status)",
        abi::status::PANIC => " (kernel panic)",
        abi::status::KERNEL_TRAP => " (kernel trap)",
        _ => "",
    }
}

fn internal_name(s: u32) -> &'static str {
    match s {
        1 => " (emulation failure)",
        2 => " (simultaneous exceptions)",
        3 => " (delivery event)",
        _ => "",
    }
}
