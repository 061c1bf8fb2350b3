//! The boot sequence in Rust: what vCPU 0 does between the boot prefix
//! (boot.rs, assembly) and `kmain` (the binary's main.rs). It sets the
//! platform mode, reads the machine description (bootinfo.rs), brings up
//! the FPU, frames, the kernel page table and the timer (under QEMU's PVH
//! entry: the LAPIC and the TSC's rate first), prints the banner, tells
//! the VMM (a `Boot` message), starts the other vCPUs (smp.rs; under PVH
//! apboot.rs wakes them first) and hands over to `kmain`.

use abi::msg::{Boot, MODE_PVM_NATIVE, MODE_X86, SCHED_COOPERATIVE, SCHED_TIMER};

use crate::arch::{Mode, cpu};

use crate::bootinfo::Machine;
use crate::{
    apboot, apic, arch, bootinfo, entry, file, fpu, kprint, kprintln, memlayout, mm, proc,
    shutdown, smp, syscall, timer, trace, trap, vmmdev,
};

/// Boot time from TSC cycles, in µs when the TSC frequency is known.
struct BootTime(u64, u64);

impl core::fmt::Display for BootTime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.0 * 1000).checked_div(self.1) {
            Some(us) => write!(f, "{us} us"),
            None => write!(f, "{} TSC cycles (TSC frequency unknown)", self.0),
        }
    }
}

/// The PVM flags as written, and what the host reads back (bit 10 reads 0).
struct PvFlags(u64);

impl core::fmt::Display for PvFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        write!(f, "{:#x} (reads back {:#x})", crate::boot::PV_FLAGS, self.0)
    }
}

unsafe extern "Rust" {
    /// What this kernel binary does once the machine is up.
    safe fn kmain(m: &Machine) -> !;
}

/// Called by the boot prefix in native mode (or on x86): `tsc0` is the TSC
/// at `_start`, `mode` 2 for PVM-native and 1 for x86, `pvh` QEMU's
/// hvm_start_info (0 under microvmm).
#[unsafe(no_mangle)]
extern "C" fn rust_start(tsc0: u64, mode: u64, pvh: u64) -> ! {
    // Kernel code runs under the big kernel lock (smp.rs): vCPU 0 holds
    // it from here until it first enters user mode.
    smp::lock();
    let mode = if mode == 2 { Mode::Pvm } else { Mode::X86 };
    arch::set_mode(mode);
    // The exit path keeps its own copy (arch must not depend on entry).
    entry::set_pvm(mode == Mode::Pvm);
    arch::detect_levels();
    trap::init_idt();
    entry::set_kernel_fx();
    let mut m = match bootinfo::read(pvh) {
        Ok(m) => m,
        Err(e) => {
            kprintln!("[kernel] cannot boot: {e}");
            shutdown::halt(abi::status::PANIC)
        }
    };
    fpu::init(&m);
    arch::fsbase::init();
    let vmm = vmmdev::probe();
    arch::set_has_nx(cpu::rdmsr(0xc000_0080) & (1 << 11) != 0);
    arch::set_tsc_khz(m.tsc_khz);
    file::stream::set_ttys(m.ttys);
    syscall::time::init(
        tsc0,
        m.realtime_ns,
        if m.realtime_tsc != 0 {
            m.realtime_tsc
        } else {
            tsc0
        },
    );
    if mode == Mode::X86 {
        // Mask the legacy PICs: their default vectors collide with exceptions.
        cpu::outb(0x21, 0xff);
        cpu::outb(0xa1, 0xff);
    }
    mm::frame::init(memlayout::Pa(m.free_start), memlayout::Pa(m.ram));
    trace::init(&m);
    mm::huge::set_everywhere(m.huge_pages);
    let Some(root) = mm::kspace::init(m.ram) else {
        kprintln!("[kernel] out of memory building the kernel page table");
        shutdown::halt(abi::status::PANIC)
    };
    if pvh != 0 {
        pvh_lapic(&mut m);
    }
    if m.irqchip {
        timer::init();
    }
    proc::init(m.irqchip);
    announce(mode, tsc0, &m, vmm, root.get());
    if m.cpus > 1 {
        // Under PVH the kernel starts the APs itself; microvmm made them
        // runnable already.
        let woken = if pvh != 0 {
            apboot::wake(&m.apic_ids[..m.cpus as usize], m.tsc_khz) + 1
        } else {
            m.cpus
        };
        let online = smp::start_aps(woken, m.tsc_khz);
        kprintln!(
            "[kernel] vCPUs: {online} of {} online, one big kernel lock",
            m.cpus
        );
    }
    kmain(&m)
}

/// Say the kernel is up: the banner on the console (what the platform
/// gave it, how long boot took) and the `Boot` message to the VMM.
/// `root` is the kernel page table's root; `vmm`, whether the microvmm
/// device answered.
fn announce(mode: Mode, tsc0: u64, m: &Machine, vmm: bool, root: u64) {
    let pv_flags = if mode == Mode::Pvm {
        arch::pvm::registered_flags()
    } else {
        0
    };
    let tsc_banner = cpu::rdtsc();
    let boot_time = BootTime(tsc_banner - tsc0, m.tsc_khz);
    kprintln!(
        "[kernel] microvmm guest kernel: mode {}, pv flags {}, {}-level paging, NX {}, FPU {}, scheduling {}, RAM {} MiB, {} free frames, booted in {}{}",
        mode.name(),
        PvFlags(pv_flags),
        arch::levels(),
        if arch::has_nx() { "on" } else { "off" },
        fpu::Describe,
        if m.irqchip {
            "timer (250 Hz)"
        } else {
            "cooperative (no timer)"
        },
        m.ram >> 20,
        mm::frame::free_count(),
        boot_time,
        if vmm {
            ""
        } else {
            "; no microvmm hypercall device (port 0x510 reads all-ones): console on COM1, no reports"
        }
    );
    let mut b = Boot {
        mode: if mode == Mode::Pvm {
            MODE_PVM_NATIVE
        } else {
            MODE_X86
        },
        pv_flags: pv_flags as u32,
        tsc_start: tsc0,
        tsc_banner,
        tsc_khz: m.tsc_khz,
        paging_levels: arch::levels(),
        sched: if m.irqchip {
            SCHED_TIMER
        } else {
            SCHED_COOPERATIVE
        },
        timer_hz: if m.irqchip { timer::HZ } else { 0 },
        kernel_cr3: root,
        fpu_xcr0: fpu::saved().0,
        fpu_size: fpu::saved().1,
        outbox: vmmdev::outbox::gpa(),
        ..Default::default()
    };
    vmmdev::send(&mut b);
}

/// Under PVH, with the kernel page table up: the LAPIC's mode (apic.rs),
/// the TSC's rate measured against the LAPIC timer (QEMU gives no
/// BootInfo), and one line on how the CPUs were found.
fn pvh_lapic(m: &mut Machine) {
    let lapic = if m.irqchip { apic::init_pvh() } else { None };
    if lapic.is_none() {
        m.irqchip = false;
        m.cpus = 1;
    }
    if m.irqchip && m.tsc_khz == 0 {
        m.tsc_khz = apic::calibrate_tsc();
        arch::set_tsc_khz(m.tsc_khz);
    }
    // The CPUs before the first whose APIC id an IPI cannot name.
    if let Some(k) = m.apic_ids[..m.cpus as usize]
        .iter()
        .position(|&id| !apic::reachable(id))
    {
        m.cpus = (k as u32).max(1);
    }
    apic::set_ids(&m.apic_ids[..m.cpus as usize]);
    let ids = &m.apic_ids[..m.cpus as usize];
    if m.cpus_from == "ACPI MADT" {
        kprint!(
            "[kernel] PVH: CPUs from the ACPI MADT: {} listed, using {} (APIC ids {ids:?})",
            m.cpus_listed,
            m.cpus
        );
    } else {
        kprint!("[kernel] PVH: one CPU ({})", m.cpus_from);
    }
    kprintln!(
        "; LAPIC {}; TSC {} kHz (measured against the LAPIC timer)",
        lapic.unwrap_or("none"),
        m.tsc_khz
    );
}
