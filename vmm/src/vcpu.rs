//! The vCPU: its initial 64-bit state, and the run loop that turns VM exits
//! into calls on an `ExitHandler` until the guest stops (vcpu/stop.rs: why).

use kvm_bindings::KVM_MAX_CPUID_ENTRIES;
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

use crate::addr::{Gpa, Gva};
use crate::boot;
use crate::cpu::negotiate::{MandatoryRefused, negotiate};
use crate::cpu::{CpuMask, Feature, InitialState, Refusal, feature};
use crate::inspect::Cpu;
use crate::paging::{Cr3, PagingMode};
use crate::watchdog::Watchdog;

mod stop;
pub use stop::{RegDump, Stop};

/// Why the vCPU could not be created, set up or run.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// A KVM ioctl on the vCPU failed.
    #[error("{what} failed: {source}")]
    Kvm {
        /// The ioctl, e.g. "KVM_SET_SREGS".
        what: &'static str,
        /// What KVM said.
        source: kvm_ioctls::Error,
    },
    /// KVM refused the state every 64-bit guest needs.
    #[error(transparent)]
    Refused(#[from] MandatoryRefused),
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VcpuError {
    move |source| VcpuError::Kvm { what, source }
}

/// What the guest's CPU became: KVM's offer, less `--cpu`'s mask, less
/// what KVM refused when it was tried.
#[derive(Clone, Debug)]
pub struct CpuSetup {
    /// The state bits the guest starts with.
    pub cpu: boot::CpuFeatures,
    /// XCR0 set with KVM_SET_XCRS (0: CR4.OSXSAVE off, none set).
    pub xcr0: u64,
    /// Features KVM offered and then refused, with why.
    pub refused: Vec<Refusal>,
    /// Features in the guest's final CPUID, in `Feature::ALL` order.
    pub given: Vec<Feature>,
}

/// The XCR0 microvmm asks for: what KVM supports (CPUID 0xD.0) among x87,
/// SSE, AVX and AVX-512, less what the (masked) CPUID no longer offers. AMX,
/// MPX and PKRU are never asked for. 0 where x87|SSE is not supported.
fn wanted_xcr0(entries: &[kvm_bindings::kvm_cpuid_entry2]) -> u64 {
    use crate::cpu::negotiate::{XCR0_AVX, XCR0_AVX512, XCR0_X87_SSE};
    let supported = entries
        .iter()
        .find(|e| e.function == 0xd && e.index == 0)
        .map_or(0, |e| ((e.edx as u64) << 32) | e.eax as u64);
    if supported & XCR0_X87_SSE != XCR0_X87_SSE {
        return 0;
    }
    let mut allowed = XCR0_X87_SSE;
    if feature::offers(entries, Feature::Avx) {
        allowed |= XCR0_AVX;
        if feature::offers(entries, Feature::Avx512f) {
            allowed |= XCR0_AVX512;
        }
    }
    let xcr0 = supported & allowed;
    // AVX-512's three components go together or not at all.
    if xcr0 & XCR0_AVX512 != XCR0_AVX512 {
        xcr0 & !XCR0_AVX512
    } else {
        xcr0
    }
}

/// The real vCPU as negotiation tries it.
struct Trial<'a>(&'a VcpuFd);

impl InitialState for Trial<'_> {
    fn set_sregs(&mut self, s: &kvm_bindings::kvm_sregs) -> Result<(), i32> {
        self.0.set_sregs(s).map_err(|e| e.errno())
    }

    fn set_xcr0(&mut self, xcr0: u64) -> Result<(), i32> {
        let mut x = kvm_bindings::kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        x.xcrs[0].xcr = 0;
        x.xcrs[0].value = xcr0;
        self.0.set_xcrs(&x).map_err(|e| e.errno())
    }
}

/// Create vCPU 0 in 64-bit mode at `entry` with KVM's supported CPUID less
/// `mask`; every optional bit of the first state is negotiated (cpu::
/// negotiate), and what KVM refuses is hidden from the guest's CPUID too.
pub fn create(
    kvm_fd: &Kvm,
    vm: &VmFd,
    entry: Gva,
    mask: &CpuMask,
) -> Result<(VcpuFd, CpuSetup), VcpuError> {
    let vcpu = vm.create_vcpu(0).map_err(kvm("KVM_CREATE_VCPU"))?;
    let mut cpuid = kvm_fd
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(kvm("KVM_GET_SUPPORTED_CPUID"))?;
    for &f in &mask.hidden {
        feature::hide(cpuid.as_mut_slice(), f);
    }
    let entries = cpuid.as_slice();
    let maxphyaddr = entries
        .iter()
        .find(|e| e.function == 0x8000_0008)
        .map_or(52, |e| (e.eax & 0xff) as u8);
    let want_xcr0 = wanted_xcr0(entries);
    let want = boot::CpuFeatures {
        nx: feature::offers(entries, Feature::Nx),
        fsgsbase: feature::offers(entries, Feature::Fsgsbase),
        la57: feature::offers(entries, Feature::La57),
        osxsave: feature::offers(entries, Feature::Xsave) && want_xcr0 != 0,
        maxphyaddr,
    };
    vcpu.set_cpuid2(&cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
    let sregs = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    let agreed = negotiate(&mut Trial(&vcpu), sregs, want, want_xcr0)?;
    if !agreed.refused.is_empty() {
        // Before the first KVM_RUN the CPUID may still change.
        for r in &agreed.refused {
            feature::hide(cpuid.as_mut_slice(), r.feature);
        }
        vcpu.set_cpuid2(&cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
    }
    let mut regs = vcpu.get_regs().map_err(kvm("KVM_GET_REGS"))?;
    regs.rip = entry.raw();
    regs.rflags = 0x2;
    vcpu.set_regs(&regs).map_err(kvm("KVM_SET_REGS"))?;
    let given = Feature::ALL
        .into_iter()
        .filter(|&f| feature::offers(cpuid.as_slice(), f))
        .collect();
    Ok((
        vcpu,
        CpuSetup {
            cpu: agreed.cpu,
            xcr0: agreed.xcr0,
            refused: agreed.refused,
            given,
        },
    ))
}

/// The host's wall clock (ns since the Unix epoch) and the guest's TSC at
/// the same moment, for the guest's CLOCK_REALTIME: `date` in the guest
/// shows the host's date. The TSC is 0 where KVM_GET_MSRS cannot read it.
pub fn realtime_pair(vcpu: &VcpuFd) -> (u64, u64) {
    const MSR_IA32_TSC: u32 = 0x10;
    let read_tsc = || -> Option<u64> {
        let mut msrs = kvm_bindings::Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
            index: MSR_IA32_TSC,
            ..Default::default()
        }])
        .ok()?;
        (vcpu.get_msrs(&mut msrs).ok()? == 1).then_some(())?;
        msrs.as_slice().first().map(|e| e.data)
    };
    let tsc = read_tsc().unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    (now, tsc)
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
    /// The vCPU, for its registers and KVM_TRANSLATE.
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

/// What the run loop asks of the devices.
pub trait ExitHandler {
    /// The guest wrote `data` to `port`; Some(stop) ends the run.
    fn io_out(&mut self, vcpu: &VcpuFd, port: u16, data: &[u8]) -> Option<Stop>;
    /// The guest reads `data.len()` bytes from `port`.
    fn io_in(&mut self, port: u16, data: &mut [u8]);
    /// KVM_RUN just returned, for whatever reason, before the exit is
    /// served: KVM's counters are sampled here (kvmstats).
    fn ran(&mut self) {}
    /// Before each KVM_RUN: where a debugger (`--gdb`) waits for gdb, or
    /// stops the guest for gdb's Ctrl-C.
    fn pause_point(&mut self, _vcpu: &VcpuFd) {}
}

/// What one vCPU did: its exits to the VMM (every return from KVM_RUN with
/// an exit) and the wall time its thread spent inside KVM_RUN.
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuStats {
    /// Exits that reached the VMM.
    pub exits: u64,
    /// Time inside KVM_RUN (a parked vCPU's HLT counts: it waits there).
    pub run_time: std::time::Duration,
}

/// Run until the guest stops, the watchdog fires (`dog`: the vCPU thread
/// that owns it also answers SIGINT/SIGTERM), or `others` says another
/// vCPU ended the run (None then).
pub fn run_until(
    vcpu: &mut VcpuFd,
    h: &mut impl ExitHandler,
    dog: Option<&Watchdog>,
    others: &std::sync::atomic::AtomicBool,
    stats: &mut VcpuStats,
) -> Result<Option<Stop>, VcpuError> {
    loop {
        if others.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(None);
        }
        if let Some(dog) = dog {
            // Checked every time round, not only on EINTR: a long exit
            // handler (an analysis of hostile tables) must not outlast
            // --timeout.
            if dog.fired() {
                return Ok(Some(Stop::Timeout(RegDump::read(vcpu))));
            }
            if let Some(signal) = crate::interrupt::received() {
                return Ok(Some(Stop::Interrupted {
                    signal,
                    regs: RegDump::read(vcpu),
                }));
            }
        }
        h.pause_point(vcpu);
        let t0 = std::time::Instant::now();
        let exit = vcpu.run();
        stats.run_time += t0.elapsed();
        stats.exits += u64::from(exit.is_ok());
        // Copy what an exit carries, so the handler can use the vCPU again.
        h.ran();
        let out = match exit {
            Ok(VcpuExit::IoOut(port, data)) => Some((port, data.to_vec())),
            Ok(VcpuExit::IoIn(port, data)) => {
                h.io_in(port, data);
                None
            }
            Ok(VcpuExit::Shutdown) => return Ok(Some(Stop::TripleFault(RegDump::read(vcpu)))),
            Ok(VcpuExit::Hlt) => return Ok(Some(Stop::Halted(RegDump::read(vcpu)))),
            Ok(VcpuExit::InternalError) => {
                let run = vcpu.get_kvm_run();
                // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so the
                // `internal` member of the union is the valid one.
                let suberror = unsafe { run.__bindgen_anon_1.internal.suberror };
                return Ok(Some(Stop::InternalError {
                    suberror,
                    regs: RegDump::read(vcpu),
                }));
            }
            Ok(other) => {
                let what = format!("{other:?}");
                return Ok(Some(Stop::Unexpected {
                    what,
                    regs: RegDump::read(vcpu),
                }));
            }
            // The loop's checks above say whether the watchdog, a signal
            // or another vCPU ended KVM_RUN.
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
            return Ok(Some(stop));
        }
    }
}
