//! The run's second step: the VM itself. Open /dev/kvm and say what host
//! this is, map guest RAM, create the VM, load the kernel, the programs and
//! the file tree into RAM, register the memslots, create the irqchip and
//! the vCPUs, and write BootInfo: after `boot` the guest is ready for its
//! first instruction. The order of these calls is measured or required
//! (see the comments), not free.

use super::inputs::Inputs;
use crate::loader::program::Program;
use crate::memory::GuestRam;
use crate::{Config, Error, boot, cpu, files, kvm_probe, loader, vcpu, vcpus};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use std::io::Write;

/// The vCPUs, apart from the [`Machine`] so that they can run while the
/// devices borrow its RAM. `boot` returns them second, so that they drop
/// first; 1.. before 0, as the run always dropped them.
pub(super) struct Vcpus {
    /// vCPUs 1.. (`--cpus`).
    pub aps: Vec<VcpuFd>,
    /// vCPU 0.
    pub bsp: VcpuFd,
}

/// The booted VM. Its fields drop in the order declared, which is the
/// order the run always dropped them in: the VM (and its memslots), then
/// the RAM they mapped; KVM must never be left with a slot whose mapping
/// is gone.
pub(super) struct Machine {
    /// The VM.
    pub vm: VmFd,
    /// Guest RAM.
    pub ram: GuestRam,
    /// /dev/kvm, held to the end of the run as it always was.
    pub _kvm: Kvm,
    /// What the host is (the banner, the flavour, its paging levels).
    pub info: kvm_probe::HostInfo,
    /// The CPU the guest was given.
    pub cpu_setup: vcpu::CpuSetup,
    /// The TSC rate BootInfo gave the guest (0: unknown).
    pub tsc_khz: u64,
    /// The realtime clock and TSC read together at boot.
    pub realtime: (u64, u64),
}

/// Set up the VM for `cfg` with `inputs` in its RAM; the host line goes to
/// `out` unless `cfg.quiet_console`.
pub(super) fn boot(
    cfg: &Config,
    inputs: &Inputs,
    out: &mut dyn Write,
) -> Result<(Machine, Vcpus), Error> {
    let staged = &inputs.staged;
    let tree = &inputs.tree;
    let kvm = kvm_probe::open_kvm()?;
    let info = kvm_probe::probe(&kvm)?;
    if !cfg.quiet_console {
        let _ = writeln!(out, "{}", info.banner());
    }
    // RAM before the VM, so the VM (and its memslot) is dropped first: KVM
    // must never be left with a slot whose mapping is gone.
    let mut ram = GuestRam::new(cfg.mem_size, cfg.backing)?;
    let vm = kvm.create_vm().map_err(super::kvm_err("KVM_CREATE_VM"))?;
    let elf =
        loader::load(ram.mem(), &inputs.bytes, cfg.mem_size).map_err(|source| Error::Guest {
            path: inputs.path.clone(),
            source,
        })?;
    loader::program::place(ram.mem(), staged).map_err(|e| match e {
        loader::program::PlaceError::Memory(e) => Error::Boot(boot::BootError::Write(e)),
        loader::program::PlaceError::Program(i, source) => Error::Program {
            path: cfg.programs.get(i).map_or_else(String::new, Program::shown),
            source,
        },
    })?;
    if let Some(t) = tree {
        files::image::place(ram.mem(), &t.walked, t.gpa).map_err(|e| match e {
            files::FilesError::Memory(e) => Error::Boot(boot::BootError::Write(e)),
            e => Error::Files(e),
        })?;
    }
    // The memslot goes in before the irqchip: the other way round, a 64 MiB
    // slot took 5.5-7 ms instead of 0.1 ms here (HOST-KVM.md).
    ram.register(&vm, cfg.dirty_log)?;
    cfg.irqchip
        .create(&vm)
        .map_err(|(what, source)| Error::Kvm { what, source })?;
    let (vcpu, cpu_setup) = vcpu::create(&kvm, &vm, elf.entry, &cfg.cpu)?;
    let aps = (1..cfg.cpus)
        .map(|id| vcpus::create_ap(&vm, &vcpu, id, elf.entry, cpu_setup.xcr0))
        .collect::<Result<Vec<_>, _>>()?;
    let tsc_khz = vcpu.get_tsc_khz().unwrap_or(0) as u64;
    let realtime = vcpu::realtime_pair(&vcpu);
    boot::write(
        ram.mem(),
        &boot::BootParams {
            ram_size: cfg.mem_size,
            free_start: inputs.free_start,
            tsc_khz,
            irqchip: cfg.irqchip.has_timer(),
            guest_huge: cfg.guest_huge,
            cmdline: &cfg.cmdline,
            modules: &staged.modules,
            la57: cpu_setup.cpu.la57,
            host_xsave: cpu::xsave::host_xsave(),
            realtime,
            env: &cfg.env,
            ttys: cfg.ttys,
            tree: tree.as_ref().map(|t| (t.gpa, t.walked.len)),
            cpus: cfg.cpus,
            trace: inputs.trace_ring,
        },
    )?;
    let machine = Machine {
        vm,
        ram,
        _kvm: kvm,
        info,
        cpu_setup,
        tsc_khz,
        realtime,
    };
    Ok((machine, Vcpus { aps, bsp: vcpu }))
}
