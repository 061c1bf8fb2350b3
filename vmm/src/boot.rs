//! What the VMM puts in guest memory before the first instruction, and the
//! 64-bit CPU state the guest starts in (abi::layout draws the map).
//!
//! One state serves PVM and plain x86: long mode with paging on, the Linux
//! GDT layout (0x10 kernel CS, 0x18 kernel DS, 0x23/0x2b/0x33 user, TSS at
//! 0x40), page tables with U set on every entry (PVM requires it of a
//! native kernel; a plain x86 kernel builds its own tables anyway).

use abi::Pod;
use abi::layout::{
    BOOT_ENV_GPA, BOOT_GUEST_HUGE, BOOT_INFO_GPA, BOOT_INFO_MAGIC, BOOT_INFO_VERSION, BOOT_IRQCHIP,
    BOOT_TTY_STDERR, BOOT_TTY_STDIN, BOOT_TTY_STDOUT, BootInfo, CMDLINE_MAX, ENV_MAX, ENVC_MAX,
    MAX_MODULES, Module,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::addr::Gpa;

mod state;
mod tables;

pub use state::{CpuFeatures, sregs};

/// Where the VMM's GDT lives (inside the BootInfo page, after the struct).
pub const BOOT_GDT_GPA: u64 = BOOT_INFO_GPA + 0x800;

/// The Linux GDT layout; entry 8/9 (the TSS) is left to the guest.
const GDT: [u64; 7] = [
    0,
    0x00cf_9b00_0000_ffff, // 0x08 kernel CS32
    0x00af_9b00_0000_ffff, // 0x10 kernel CS64
    0x00cf_9300_0000_ffff, // 0x18 kernel DS
    0x00cf_fb00_0000_ffff, // 0x23 user CS32
    0x00cf_f300_0000_ffff, // 0x2b user DS
    0x00af_fb00_0000_ffff, // 0x33 user CS64
];

/// Why the boot structures could not be laid out in guest RAM.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// Writing the boot structures failed.
    #[error("cannot write the boot structures into guest memory: {0}")]
    Write(#[from] vm_memory::GuestMemoryError),
    /// The kernel command line does not fit.
    #[error("the guest command line is {0} bytes; at most {max} fit", max = CMDLINE_MAX - 1)]
    CmdlineTooLong(usize),
    /// An environment larger than its block (loader::env checks first).
    #[error("the environment does not fit its {ENV_MAX}-byte block")]
    EnvTooLarge,
    /// More user programs than BootInfo's module table holds.
    #[error("{0} programs to run; BootInfo holds at most {MAX_MODULES}")]
    TooManyModules(usize),
}

/// What BootInfo says about the machine.
pub struct BootParams<'a> {
    /// Guest RAM in bytes.
    pub ram_size: u64,
    /// First GPA the kernel may allocate from.
    pub free_start: Gpa,
    /// The TSC's rate in kHz, for the guest's clock; 0 if unknown.
    pub tsc_khz: u64,
    /// An in-kernel irqchip exists, so the LAPIC timer can preempt.
    pub irqchip: bool,
    /// Heap and mmap areas in 2 MiB guest pages.
    pub guest_huge: bool,
    /// The kernel command line (which built-in programs to run).
    pub cmdline: &'a str,
    /// The user programs already in guest RAM (loader::program::place),
    /// below `free_start`.
    pub modules: &'a [Module],
    /// 5-level paging (the vCPU offers LA57): a PML5 pair tops the tables.
    pub la57: bool,
    /// The host's XCR0 and XSAVE area size (cpu::xsave::host_xsave).
    pub host_xsave: (u64, u32),
    /// The wall clock now (ns since the epoch) and the guest's TSC at the
    /// same moment (0 if unknown), for the guest's CLOCK_REALTIME.
    pub realtime: (u64, u64),
    /// The environment of `--run` programs (loader::env).
    pub env: &'a crate::loader::env::Environ,
    /// Which of the programs' stdin, stdout, stderr are terminals.
    pub ttys: [bool; 3],
    /// The tree image (`--files`) already in guest RAM below `free_start`:
    /// its GPA and length in bytes.
    pub tree: Option<(Gpa, u64)>,
    /// vCPUs created (`--cpus`).
    pub cpus: u32,
    /// The trace ring (`--trace`) reserved below `free_start`, and whether
    /// system calls are traced too.
    pub trace: Option<(Gpa, bool)>,
}

/// Write BootInfo, the boot GDT and the boot page tables. The tables map
/// VA = GPA (low half) and VA = KERNEL_BASE + GPA for the first 2 GiB, with
/// 2 MiB pages; the PML4 at 0x2000 has a copy at 0x3000, the user-PGD slot
/// of PVM's pv_kpti pair.
pub fn write(mem: &GuestMemoryMmap, p: &BootParams) -> Result<(), BootError> {
    let bytes = p.cmdline.as_bytes();
    if bytes.len() >= CMDLINE_MAX {
        return Err(BootError::CmdlineTooLong(bytes.len()));
    }
    let mut cmdline = [0u8; CMDLINE_MAX];
    cmdline[..bytes.len()].copy_from_slice(bytes);
    let mut modules = [Module::default(); MAX_MODULES];
    if p.modules.len() > MAX_MODULES {
        return Err(BootError::TooManyModules(p.modules.len()));
    }
    modules[..p.modules.len()].copy_from_slice(p.modules);
    let env = p.env.block();
    if env.len() > ENV_MAX || p.env.0.len() > ENVC_MAX {
        return Err(BootError::EnvTooLarge);
    }
    let info = BootInfo {
        magic: BOOT_INFO_MAGIC,
        version: BOOT_INFO_VERSION,
        flags: if p.irqchip { BOOT_IRQCHIP } else { 0 }
            | if p.guest_huge { BOOT_GUEST_HUGE } else { 0 }
            | [BOOT_TTY_STDIN, BOOT_TTY_STDOUT, BOOT_TTY_STDERR]
                .iter()
                .zip(p.ttys)
                .filter(|(_, tty)| *tty)
                .fold(0, |f, (bit, _)| f | bit),
        ram_size: p.ram_size,
        free_start: p.free_start.raw(),
        tsc_khz: p.tsc_khz,
        cmdline,
        nmodules: p.modules.len() as u32, // At most MAX_MODULES.
        _pad: 0,
        modules,
        host_xcr0: p.host_xsave.0,
        host_xsave_size: p.host_xsave.1,
        _pad2: 0,
        realtime_ns: p.realtime.0,
        realtime_tsc: p.realtime.1,
        env_len: 0,
        envc: 0,
        tree_gpa: p.tree.map_or(0, |(gpa, _)| gpa.raw()),
        tree_len: p.tree.map_or(0, |(_, len)| len),
        cpus: p.cpus,
        _pad3: 0,
        trace_gpa: p.trace.map_or(0, |(gpa, _)| gpa.raw()),
        trace_len: p.trace.map_or(0, |_| abi::trace::RING_BYTES),
    };
    let info = BootInfo {
        env_len: env.len() as u32, // At most ENV_MAX.
        envc: p.env.0.len() as u32,
        ..info
    };
    mem.write_slice(info.as_bytes(), GuestAddress(BOOT_INFO_GPA))?;
    mem.write_slice(&env, GuestAddress(BOOT_ENV_GPA))?;
    if let Some((gpa, syscalls)) = p.trace {
        crate::trace::ring::prepare(mem, gpa, syscalls)?;
    }
    for (i, d) in GDT.iter().enumerate() {
        mem.write_obj(*d, GuestAddress(BOOT_GDT_GPA + 8 * i as u64))?;
    }
    tables::write(mem, p.ram_size, p.la57)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::layout::{
        BOOT_PD_GPA, BOOT_PDPT_HIGH_GPA, BOOT_PDPT_LOW_GPA, BOOT_PML4_GPA, BOOT_PML5_GPA,
    };
    use kvm_bindings::kvm_sregs;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 64 << 20)]).expect("test memory")
    }

    #[test]
    fn tables_map_both_halves_with_u() {
        let m = mem();
        let p = BootParams {
            ram_size: 64 << 20,
            free_start: Gpa(0x20_0000),
            tsc_khz: 1,
            irqchip: true,
            guest_huge: false,
            cmdline: "a b",
            modules: &[],
            la57: false,
            host_xsave: (0, 0),
            realtime: (0, 0),
            env: &crate::loader::env::Environ::default(),
            ttys: [false; 3],
            tree: None,
            cpus: 1,
            trace: None,
        };
        write(&m, &p).expect("write");
        let pml4_0: u64 = m.read_obj(GuestAddress(BOOT_PML4_GPA)).expect("read");
        let pml4_511: u64 = m
            .read_obj(GuestAddress(BOOT_PML4_GPA + 511 * 8))
            .expect("read");
        let copy_511: u64 = m
            .read_obj(GuestAddress(BOOT_PML4_GPA + 0x1000 + 511 * 8))
            .expect("read");
        assert_eq!(pml4_0, BOOT_PDPT_LOW_GPA | 7);
        assert_eq!(pml4_511, BOOT_PDPT_HIGH_GPA | 7);
        assert_eq!(copy_511, pml4_511);
        let pd1: u64 = m.read_obj(GuestAddress(BOOT_PD_GPA + 8)).expect("read");
        assert_eq!(pd1, 0x20_0000 | 0x87);
        // 64 MiB of RAM = 32 large pages; the 33rd entry is empty.
        let pd32: u64 = m
            .read_obj(GuestAddress(BOOT_PD_GPA + 32 * 8))
            .expect("read");
        assert_eq!(pd32, 0);
        let info: [u8; 8] = m.read_obj(GuestAddress(BOOT_INFO_GPA)).expect("read");
        assert_eq!(&info, b"MVMMBOOT");
        // Without LA57 no PML5 is written.
        let pml5: u64 = m.read_obj(GuestAddress(BOOT_PML5_GPA)).expect("read");
        assert_eq!(pml5, 0);
    }

    #[test]
    fn la57_puts_a_pml5_pair_on_top() {
        let m = mem();
        let p = BootParams {
            ram_size: 64 << 20,
            free_start: Gpa(0),
            tsc_khz: 0,
            irqchip: false,
            guest_huge: false,
            cmdline: "",
            modules: &[],
            la57: true,
            host_xsave: (0xe7, 2432),
            realtime: (0, 0),
            env: &crate::loader::env::Environ::default(),
            ttys: [false; 3],
            tree: None,
            cpus: 1,
            trace: None,
        };
        write(&m, &p).expect("write");
        for pml5 in [BOOT_PML5_GPA, BOOT_PML5_GPA + 0x1000] {
            for i in [0, 511] {
                let e: u64 = m.read_obj(GuestAddress(pml5 + 8 * i)).expect("read");
                assert_eq!(e, BOOT_PML4_GPA | 7);
            }
        }
        let cpu = CpuFeatures {
            nx: true,
            fsgsbase: false,
            la57: true,
            osxsave: false,
            maxphyaddr: 52,
        };
        let s = sregs(kvm_sregs::default(), cpu);
        assert_eq!(s.cr3, BOOT_PML5_GPA);
        assert_ne!(s.cr4 & (1 << 12), 0);
        assert_eq!(s.cr4 & (1 << 16), 0, "no FSGSBASE when the CPU lacks it");
    }

    #[test]
    fn modules_go_into_boot_info() {
        let m = mem();
        let modules = [Module {
            gpa: 0x20_0000,
            size: 0x1234,
            args_gpa: 0x20_2000,
            args_len: 9,
            argc: 3,
        }; 2];
        let p = BootParams {
            ram_size: 64 << 20,
            free_start: Gpa(0x20_3000),
            tsc_khz: 0,
            irqchip: false,
            guest_huge: false,
            cmdline: "",
            modules: &modules,
            la57: false,
            host_xsave: (0, 0),
            realtime: (0, 0),
            env: &crate::loader::env::Environ::default(),
            ttys: [false; 3],
            tree: None,
            cpus: 1,
            trace: None,
        };
        write(&m, &p).expect("write");
        let at = |off: usize| GuestAddress(BOOT_INFO_GPA + off as u64);
        let nmodules: u32 = m
            .read_obj(at(std::mem::offset_of!(BootInfo, nmodules)))
            .expect("read");
        assert_eq!(nmodules, 2);
        let first = std::mem::offset_of!(BootInfo, modules);
        let words: [u64; 4] = m.read_obj(at(first + 32)).expect("read");
        assert_eq!(words, [0x20_0000, 0x1234, 0x20_2000, 9 | (3 << 32)]);
        let unused: [u64; 4] = m.read_obj(at(first + 64)).expect("read");
        assert_eq!(unused, [0; 4]);
        let many = [modules[0]; MAX_MODULES + 1];
        let p = BootParams {
            modules: &many,
            ..p
        };
        assert!(matches!(write(&m, &p), Err(BootError::TooManyModules(17))));
    }

    #[test]
    fn long_cmdline_is_an_error() {
        let long = "x".repeat(CMDLINE_MAX);
        let p = BootParams {
            ram_size: 64 << 20,
            free_start: Gpa(0),
            tsc_khz: 0,
            irqchip: false,
            guest_huge: false,
            cmdline: &long,
            modules: &[],
            la57: false,
            host_xsave: (0, 0),
            realtime: (0, 0),
            env: &crate::loader::env::Environ::default(),
            ttys: [false; 3],
            tree: None,
            cpus: 1,
            trace: None,
        };
        assert!(matches!(
            write(&mem(), &p),
            Err(BootError::CmdlineTooLong(_))
        ));
    }
}
