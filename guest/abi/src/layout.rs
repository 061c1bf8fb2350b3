//! Guest-physical layout the VMM prepares before the first instruction, and
//! the boot-info block that describes the machine to the kernel.
//!
//! ```text
//! GPA 0x0000_0000  unused (null page)
//!     0x0000_1000  BootInfo                       (VMM -> kernel)
//!     0x0000_2000  boot PML4 "K"  } 8 KiB-aligned pair: PVM's pv_kpti uses
//!     0x0000_3000  boot PML4 "U"  } CR3 | 0x1000 as the user PGD
//!     0x0000_4000  boot PDPT (low half, identity)
//!     0x0000_5000  boot PDPT (high half, KERNEL_BASE)
//!     0x0000_6000  boot PDs, one per GiB of RAM (2 MiB pages)
//!     0x0000_8000  boot PML5 pair (only when the vCPU offers LA57)
//!     0x0000_a000  the environment of `--run` programs (NUL-separated)
//!     0x0000_b000  Running: who runs now (kernel -> VMM, read at every exit)
//!     0x0010_0000  kernel image (ELF segments must start at or above here)
//!     ...          boot modules (`--run`), then the tree image (`--files`)
//!     free_start   free frames up to ram_size
//! ```

/// Lowest GPA an ELF segment may occupy: everything below belongs to the
/// VMM's boot structures.
pub const RESERVED_END: u64 = 0x10_0000;
/// Where [`BootInfo`] lives.
pub const BOOT_INFO_GPA: u64 = 0x1000;
/// Boot page tables (see the drawing above).
pub const BOOT_PML4_GPA: u64 = 0x2000;
pub const BOOT_PDPT_LOW_GPA: u64 = 0x4000;
pub const BOOT_PDPT_HIGH_GPA: u64 = 0x5000;
pub const BOOT_PD_GPA: u64 = 0x6000;
pub const BOOT_PML5_GPA: u64 = 0x8000;
/// The environment block: `BootInfo::envc` NUL-terminated `K=V` strings in
/// `BootInfo::env_len` bytes (at most [`ENV_MAX`]).
pub const BOOT_ENV_GPA: u64 = 0xa000;
/// Where the kernel keeps [`Running`]: one per vCPU, 16 bytes apart.
pub const RUNNING_GPA: u64 = 0xb000;
/// Largest environment block, in bytes (one page).
pub const ENV_MAX: usize = 4096;
/// Most environment strings a process gets.
pub const ENVC_MAX: usize = 64;

/// Virtual base of the kernel image window: VA = KERNEL_BASE + GPA for the
/// first 2 GiB of guest RAM.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// Largest guest RAM: what the kernel's window (KERNEL_BASE + pa) reaches,
/// and well below the MMIO hole under 4 GiB (IOAPIC/LAPIC).
pub const MAX_RAM: u64 = 2 << 30;
/// Smallest guest RAM the kernel can run processes in.
pub const MIN_RAM: u64 = 16 << 20;

/// "MVMMBOOT" in little-endian bytes.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"MVMMBOOT");
pub const BOOT_INFO_VERSION: u32 = 6;
/// Most vCPUs a VM gets (`--cpus`).
pub const MAX_CPUS: u32 = 8;
/// `rdi` of an application processor's first instruction (`_start`): it
/// tells an AP, which the VMM starts in the same 64-bit state as vCPU 0,
/// from the bootstrap processor (rdi 0); `rsi` holds its vCPU index.
pub const AP_START_MAGIC: u64 = u64::from_le_bytes(*b"MVMM-AP!");

/// `BootInfo::flags`: the VMM created an in-kernel irqchip, so the LAPIC
/// timer can interrupt the guest.
pub const BOOT_IRQCHIP: u32 = 1 << 0;
/// `BootInfo::flags`: back heap and mmap areas with 2 MiB pages wherever an
/// aligned 2 MiB of the area is touched (`--guest-pages 2m`).
pub const BOOT_GUEST_HUGE: u32 = 1 << 1;
/// `BootInfo::flags`: microvmm's stdin / the stream a `--run` program's
/// stdout / stderr reaches is a terminal. The kernel's fstat and terminal
/// ioctls say so, and only then: libc line-buffers a terminal and fully
/// buffers the rest, and every line flushed is an exit here.
pub const BOOT_TTY_STDIN: u32 = 1 << 2;
pub const BOOT_TTY_STDOUT: u32 = 1 << 3;
pub const BOOT_TTY_STDERR: u32 = 1 << 4;

/// Longest kernel command line (NUL-padded).
pub const CMDLINE_MAX: usize = 256;

/// What the VMM tells the kernel about the machine, at [`BOOT_INFO_GPA`].
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BootInfo {
    pub magic: u64,
    pub version: u32,
    pub flags: u32,
    /// Bytes of guest RAM, starting at GPA 0.
    pub ram_size: u64,
    /// First GPA past every loaded ELF segment (page aligned): frames from
    /// here up to `ram_size` are free for the kernel to allocate.
    pub free_start: u64,
    /// TSC frequency in kHz as KVM reports it (0 if unknown).
    pub tsc_khz: u64,
    /// Which built-in programs to run, space separated (`name[:arg]`);
    /// empty means the default demo when `nmodules` is 0, and no built-in
    /// program otherwise.
    pub cmdline: [u8; CMDLINE_MAX],
    /// How many entries of `modules` are valid (at most [`MAX_MODULES`]).
    pub nmodules: u32,
    pub _pad: u32,
    /// The user's static Linux executables (`--run`), one process each,
    /// started after the built-in programs, in this order.
    pub modules: [Module; MAX_MODULES],
    /// XCR0 of the host, as the VMM's own `xgetbv` reads it (0 when the
    /// host has no XSAVE). Under PVM guest code runs on the hardware with
    /// the host's XCR0, whatever CPUID the guest sees: this is what user
    /// code can touch, and so what the kernel must save per process.
    pub host_xcr0: u64,
    /// Bytes of a standard-format XSAVE area for `host_xcr0` (the host's
    /// CPUID 0xD.0 EBX; 0 when unknown): the guest's own CPUID may not
    /// describe components KVM does not offer (AMX on Intel PVM).
    pub host_xsave_size: u32,
    pub _pad2: u32,
    /// The host's wall clock (CLOCK_REALTIME, ns since the Unix epoch) when
    /// the VMM wrote this block, for the guest's CLOCK_REALTIME; 0 unknown.
    pub realtime_ns: u64,
    /// The guest's TSC at that moment (KVM_GET_MSRS IA32_TSC); 0 when the
    /// VMM could not read it: the kernel then pairs `realtime_ns` with its
    /// own first TSC reading, a few hundred microseconds later.
    pub realtime_tsc: u64,
    /// Bytes of the environment block at [`BOOT_ENV_GPA`] (0: none given,
    /// the kernel's default).
    pub env_len: u32,
    /// Strings in it (at most [`ENVC_MAX`]).
    pub envc: u32,
    /// GPA of the tree image (`--files DIR`, [`crate::tree`]): page
    /// aligned, between the kernel image and `free_start`, after the
    /// modules; 0 with `tree_len` 0 when there is none.
    pub tree_gpa: u64,
    /// Bytes of the tree image (its header's `total`).
    pub tree_len: u64,
    /// GPA of the trace ring (`--trace`, [`crate::trace`]): page aligned,
    /// below `free_start`, after the tree; 0 with `trace_len` 0 when the
    /// run is not traced.
    pub trace_gpa: u64,
    /// Bytes of the ring ([`crate::trace::RING_BYTES`]).
    pub trace_len: u64,
    /// vCPUs the VMM created (`--cpus`, 1 to [`MAX_CPUS`]); vCPU 0 enters
    /// `_start` with rdi 0, the others with rdi [`AP_START_MAGIC`].
    pub cpus: u32,
    pub _pad3: u32,
}
const _: () = assert!(core::mem::size_of::<BootInfo>() == 384 + 32 * MAX_MODULES);

/// Most user programs (`--run`) in one run.
pub const MAX_MODULES: usize = 16;
/// Longest argument block of one module (argv strings, NUL-terminated).
pub const MODULE_ARGS_MAX: u64 = 4096;
/// Most argv strings a process gets (`argv[0]` included): the kernel's
/// start-up stack holds no more, and the VMM refuses a `--run` with more.
pub const ARGC_MAX: usize = 64;

/// One boot module: a user program's ELF bytes and its argv, both in guest
/// RAM between the kernel image and `BootInfo::free_start` (page aligned,
/// never overlapping). The kernel frees these frames once every process is
/// loaded.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Module {
    /// GPA of the ELF file's first byte (page aligned).
    pub gpa: u64,
    /// The file's size in bytes.
    pub size: u64,
    /// GPA of argv: `args_len` bytes of NUL-terminated strings, argv[0] first.
    pub args_gpa: u64,
    /// Bytes at `args_gpa` (at most [`MODULE_ARGS_MAX`]).
    pub args_len: u32,
    /// How many strings the block holds (argc).
    pub argc: u32,
}
const _: () = assert!(core::mem::size_of::<Module>() == 32);

/// First address past the user half the kernel gives a process (Linux's
/// TASK_SIZE on x86-64: the lower canonical half less one guard page). A
/// user program's segments must lie below it.
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;
/// Where the kernel loads an ET_DYN (static-pie) program linked at 0: its
/// load bias, which keeps PIE code where non-PIE code is.
pub const PIE_BIAS: u64 = 0x40_0000;

/// Which process the vCPU runs for, kept by the kernel at [`RUNNING_GPA`]
/// with plain stores (no exit), as a seqlock: `switches` goes odd, then
/// `pid` and `image` change, then `switches` goes even again. A VMM thread
/// reads it while the vCPU runs, around each read of KVM's counters: an
/// even `switches` that is the same before and after means the counters
/// read belong to this process. When it moved between two such reads,
/// more than one process ran in between and the VMM cannot split the
/// counts (it says so, as "mixed"). Only under microvmm (the hypercall
/// device answered).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Running {
    /// Twice the changes of (`pid`, `image`) since boot, odd during one
    /// (wrapping).
    pub switches: u64,
    /// The process (thread group) running, or 0: the kernel's own work
    /// before the first process and after the last.
    pub pid: u32,
    /// Which image of `pid` (its execve count).
    pub image: u32,
}
const _: () = assert!(core::mem::size_of::<Running>() == 16);
