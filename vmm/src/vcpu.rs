//! The vCPU: its initial 64-bit state, and the run loop that turns VM exits
//! into calls on an `ExitHandler` until the guest stops.

use std::fmt;

use kvm_bindings::KVM_MAX_CPUID_ENTRIES;
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

use crate::addr::{Gpa, Gva};
use crate::boot;
use crate::inspect::Cpu;
use crate::paging::{Cr3, PagingMode};
use crate::watchdog::Watchdog;

#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// A KVM ioctl on the vCPU failed.
    #[error("{what} failed: {source}")]
    Kvm {
        what: &'static str,
        source: kvm_ioctls::Error,
    },
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VcpuError {
    move |source| VcpuError::Kvm { what, source }
}

/// Create vCPU 0 in 64-bit mode at `entry` with KVM's supported CPUID;
/// also say what that CPUID offers.
pub fn create(
    kvm_fd: &Kvm,
    vm: &VmFd,
    entry: Gva,
) -> Result<(VcpuFd, boot::CpuFeatures), VcpuError> {
    let vcpu = vm.create_vcpu(0).map_err(kvm("KVM_CREATE_VCPU"))?;
    let cpuid = kvm_fd
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(kvm("KVM_GET_SUPPORTED_CPUID"))?;
    let has = |f: u32, reg: fn(&kvm_bindings::kvm_cpuid_entry2) -> u32, bit: u32| {
        cpuid
            .as_slice()
            .iter()
            .any(|e| e.function == f && e.index == 0 && reg(e) & (1 << bit) != 0)
    };
    let maxphyaddr = cpuid
        .as_slice()
        .iter()
        .find(|e| e.function == 0x8000_0008)
        .map_or(52, |e| (e.eax & 0xff) as u8);
    let cpu = boot::CpuFeatures {
        nx: has(0x8000_0001, |e| e.edx, 20),
        fsgsbase: has(7, |e| e.ebx, 0),
        la57: has(7, |e| e.ecx, 16),
        maxphyaddr,
    };
    vcpu.set_cpuid2(&cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
    let sregs = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    vcpu.set_sregs(&boot::sregs(sregs, cpu))
        .map_err(kvm("KVM_SET_SREGS"))?;
    let mut regs = vcpu.get_regs().map_err(kvm("KVM_GET_REGS"))?;
    regs.rip = entry.raw();
    regs.rflags = 0x2;
    vcpu.set_regs(&regs).map_err(kvm("KVM_SET_REGS"))?;
    Ok((vcpu, cpu))
}

/// The vCPU's paging mode right now, with the CPU's MAXPHYADDR (None if it
/// is not in 64-bit paging mode).
pub fn paging_mode(vcpu: &VcpuFd, maxphyaddr: u8) -> Option<PagingMode> {
    let s = vcpu.get_sregs().ok()?;
    PagingMode::from_regs(s.cr0, s.cr4, s.efer)
        .ok()?
        .with_maxphyaddr(maxphyaddr)
        .ok()
}

/// The real vCPU, stopped in an exit, as the analysis sees it.
pub struct LiveCpu<'a> {
    pub fd: &'a VcpuFd,
    /// From CPUID (reserved-bit checks of the walker).
    pub maxphyaddr: u8,
}

impl Cpu for LiveCpu<'_> {
    fn paging_mode(&self) -> Option<PagingMode> {
        paging_mode(self.fd, self.maxphyaddr)
    }

    fn cr3(&self) -> Option<Cr3> {
        self.fd.get_sregs().ok().map(|s| Cr3(s.cr3))
    }

    fn translate(&self, gva: Gva) -> Option<Gpa> {
        let t = self.fd.translate_gva(gva.raw()).ok()?;
        (t.valid != 0).then_some(Gpa(t.physical_address))
    }
}

/// The registers worth seeing when a guest dies.
#[derive(Debug, Clone, Default)]
pub struct RegDump {
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    pub cs: u16,
}

impl RegDump {
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
    InternalError { suberror: u32, regs: RegDump },
    /// `--timeout` expired.
    Timeout(RegDump),
    /// SIGINT or SIGTERM asked the run to end.
    Interrupted { signal: i32, regs: RegDump },
    /// HLT reached the VMM (no in-kernel irqchip to wake the guest).
    Halted(RegDump),
    /// Any other exit the VMM cannot continue from.
    Unexpected { what: String, regs: RegDump },
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

/// What the run loop asks of the devices.
pub trait ExitHandler {
    /// The guest wrote `data` to `port`; Some(stop) ends the run.
    fn io_out(&mut self, vcpu: &VcpuFd, port: u16, data: &[u8]) -> Option<Stop>;
    /// The guest reads `data.len()` bytes from `port`.
    fn io_in(&mut self, port: u16, data: &mut [u8]);
}

/// Run until the guest stops (or the watchdog fires).
pub fn run(vcpu: &mut VcpuFd, h: &mut impl ExitHandler, dog: &Watchdog) -> Result<Stop, VcpuError> {
    loop {
        // Checked every time round, not only on EINTR: a long exit handler
        // (an analysis of hostile tables) must not outlast --timeout.
        if dog.fired() {
            return Ok(Stop::Timeout(RegDump::read(vcpu)));
        }
        if let Some(signal) = crate::interrupt::received() {
            return Ok(Stop::Interrupted {
                signal,
                regs: RegDump::read(vcpu),
            });
        }
        // Copy what an exit carries, so the handler can use the vCPU again.
        let out = match vcpu.run() {
            Ok(VcpuExit::IoOut(port, data)) => Some((port, data.to_vec())),
            Ok(VcpuExit::IoIn(port, data)) => {
                h.io_in(port, data);
                None
            }
            Ok(VcpuExit::Shutdown) => return Ok(Stop::TripleFault(RegDump::read(vcpu))),
            Ok(VcpuExit::Hlt) => return Ok(Stop::Halted(RegDump::read(vcpu))),
            Ok(VcpuExit::InternalError) => {
                let run = vcpu.get_kvm_run();
                // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so the
                // `internal` member of the union is the valid one.
                let suberror = unsafe { run.__bindgen_anon_1.internal.suberror };
                return Ok(Stop::InternalError {
                    suberror,
                    regs: RegDump::read(vcpu),
                });
            }
            Ok(other) => {
                let what = format!("{other:?}");
                return Ok(Stop::Unexpected {
                    what,
                    regs: RegDump::read(vcpu),
                });
            }
            // The loop's checks above say whether the watchdog or a
            // signal ended KVM_RUN.
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => None,
            Err(source) => {
                return Err(VcpuError::Kvm {
                    what: "KVM_RUN",
                    source,
                });
            }
        };
        if let Some((port, data)) = out
            && let Some(stop) = h.io_out(vcpu, port, &data)
        {
            return Ok(stop);
        }
    }
}
