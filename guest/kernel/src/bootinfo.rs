//! What the kernel learns about its machine: from microvmm's BootInfo
//! block, or under QEMU from the PVH hvm_start_info memory map.

use abi::layout::{
    BOOT_ENV_GPA, BOOT_GUEST_HUGE, BOOT_INFO_GPA, BOOT_INFO_MAGIC, BOOT_INFO_VERSION, BOOT_IRQCHIP,
    BOOT_TTY_STDERR, BOOT_TTY_STDIN, BOOT_TTY_STDOUT, BootInfo, CMDLINE_MAX, ENV_MAX, ENVC_MAX,
    MAX_CPUS, MAX_MODULES, MIN_RAM, Module,
};

use crate::memlayout::{self, Pa, p2v, page_down, page_up};

pub struct Machine {
    pub ram: u64,
    pub free_start: u64,
    pub tsc_khz: u64,
    pub irqchip: bool,
    /// `--guest-pages 2m`.
    pub huge_pages: bool,
    pub cmdline: [u8; CMDLINE_MAX],
    pub cmdline_len: usize,
    /// The boot modules (user programs) as the VMM described them:
    /// unchecked until modules.rs looks at them.
    pub modules: [Module; MAX_MODULES],
    pub nmodules: usize,
    /// The host's XCR0 and its XSAVE area size (BootInfo; 0 under QEMU).
    pub host_xcr0: u64,
    pub host_xsave_size: u32,
    /// Wall clock at the guest TSC `realtime_tsc` (BootInfo; 0 under QEMU).
    pub realtime_ns: u64,
    pub realtime_tsc: u64,
    /// The environment block at BOOT_ENV_GPA as the VMM described it
    /// (length clamped to ENV_MAX; its strings are checked by env()).
    pub env_len: usize,
    pub envc: usize,
    /// Which of fds 0, 1, 2 reach a terminal on the host (BootInfo flags;
    /// none under QEMU).
    pub ttys: [bool; 3],
    /// The tree image (`--files`) as the VMM described it: unchecked
    /// until tree() looks at it; 0, 0 when there is none.
    pub tree_gpa: u64,
    pub tree_len: u64,
    /// vCPUs the VMM created (clamped to 1..=MAX_CPUS); under QEMU PVH
    /// the enabled CPUs the ACPI MADT lists, at most MAX_CPUS (1 when it
    /// cannot be used: `cpus_from` says why).
    pub cpus: u32,
    /// The CPUs' APIC ids, CPU 0 (the boot CPU) first: the index under
    /// microvmm, the MADT's under PVH.
    pub apic_ids: [u32; MAX_CPUS as usize],
    /// Where `cpus` came from, or why it is 1 (PVH).
    pub cpus_from: &'static str,
    /// Enabled CPUs the MADT lists (PVH; may exceed MAX_CPUS).
    pub cpus_listed: usize,
    /// The trace ring (`--trace`) as the VMM described it: unchecked
    /// until trace::init looks at it; 0, 0 when the run is not traced.
    pub trace_gpa: u64,
    pub trace_len: u64,
}

impl Machine {
    /// The `--run` programs' environment: at most ENVC_MAX NUL-terminated
    /// strings from the block; an unterminated tail is dropped.
    pub fn env(&self, out: &mut [&'static [u8]; ENVC_MAX]) -> usize {
        if self.env_len == 0 {
            return 0;
        }
        // SAFETY: the page at BOOT_ENV_GPA is the VMM's, below the kernel
        // image, mapped by the kernel window and never given to the frame
        // allocator; env_len is at most ENV_MAX (one page).
        let block: &'static [u8] =
            unsafe { core::slice::from_raw_parts(p2v::<u8>(Pa(BOOT_ENV_GPA)), self.env_len) };
        let Some(end) = block.iter().rposition(|&b| b == 0) else {
            return 0;
        };
        let mut n = 0;
        for s in block[..end].split(|&b| b == 0) {
            if n == out.len() || n == self.envc {
                break;
            }
            out[n] = s;
            n += 1;
        }
        n
    }

    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// The tree image the VMM packed from `--files DIR` (decode it with
    /// `abi::tree::Tree::parse`), or None when there is none or its range
    /// is refused: it must lie in guest RAM between the kernel image and
    /// `free_start`, as the modules do (modules.rs `range()`), and share
    /// no page with a module, so that the modules' give-back leaves it
    /// alone.
    ///
    /// Contract: the frames under it are not the frame allocator's until
    /// the RAM file system has copied what it needs out of the slice; then
    /// the file system's code hands the pages of [`Machine::tree_range`]
    /// to the allocator once (`frame::give` for each page, then
    /// `proc::frames_returned(n)`, as modules.rs `give_back()` does) and
    /// never touches the slice again. Nothing else gives those frames
    /// back: without that call they stay unused, which is safe.
    pub fn tree(&self) -> Option<&'static [u8]> {
        let (start, end) = self.tree_bytes()?;
        // SAFETY: tree_bytes() keeps [start, end) inside guest RAM between
        // the kernel image and free_start, which the kernel window maps
        // and the frame allocator never hands out until the file system
        // gives tree_range() back (the contract above), and off every
        // module's pages, which modules.rs gives back.
        Some(unsafe { core::slice::from_raw_parts(p2v::<u8>(Pa(start)), (end - start) as usize) })
    }

    /// The whole pages under the tree image, [start, end), for the file
    /// system to give to the frame allocator once it is done with
    /// [`Machine::tree`] (see its contract); None when there is no
    /// usable tree.
    pub fn tree_range(&self) -> Option<(u64, u64)> {
        let (start, end) = self.tree_bytes()?;
        Some((page_down(start), page_up(end)?))
    }

    /// The tree's byte range, checked: inside [page_up(kernel end),
    /// free_start), its pages below page_down(free_start), and no page
    /// shared with a module's file or argv.
    fn tree_bytes(&self) -> Option<(u64, u64)> {
        let (gpa, len) = (self.tree_gpa, self.tree_len);
        let end = gpa.checked_add(len)?;
        let low = page_up(memlayout::kernel_end_pa())?;
        if len == 0 || gpa < low || end > self.free_start || end > self.ram {
            return None;
        }
        let (ps, pe) = (page_down(gpa), page_up(end)?);
        if pe > page_down(self.free_start) {
            return None;
        }
        // Two intervals [a, b) and [c, d) intersect iff a < d && c < b.
        let clash = |mgpa: u64, mlen: u64| {
            let Some(mend) = mgpa.checked_add(mlen).and_then(page_up) else {
                return true;
            };
            mlen != 0 && page_down(mgpa) < pe && ps < mend
        };
        let mods = &self.modules[..self.nmodules.min(MAX_MODULES)];
        if mods
            .iter()
            .any(|m| clash(m.gpa, m.size) || clash(m.args_gpa, u64::from(m.args_len)))
        {
            return None;
        }
        Some((gpa, end))
    }
}

/// Read the machine description. `pvh` is the hvm_start_info address (0
/// when microvmm started us). Err names what was wrong.
pub fn read(pvh: u64) -> Result<Machine, &'static str> {
    let kend = page_up(memlayout::kernel_end_pa()).ok_or("kernel end overflows")?;
    if pvh != 0 {
        return read_pvh(pvh, kend);
    }
    // SAFETY: the VMM reserves this page for BootInfo below the kernel image.
    let b: BootInfo = unsafe { core::ptr::read_volatile(p2v(Pa(BOOT_INFO_GPA))) };
    if b.magic != BOOT_INFO_MAGIC || b.version != BOOT_INFO_VERSION {
        return Err("no BootInfo at GPA 0x1000 (bad magic or version)");
    }
    let ram = b.ram_size.min(memlayout::WINDOW);
    if ram < MIN_RAM || b.free_start > ram {
        return Err("BootInfo RAM size or free range out of bounds");
    }
    let len = abi::msg::until_nul(&b.cmdline).len();
    Ok(Machine {
        ram,
        free_start: b.free_start.max(kend),
        tsc_khz: b.tsc_khz,
        irqchip: b.flags & BOOT_IRQCHIP != 0,
        ttys: [BOOT_TTY_STDIN, BOOT_TTY_STDOUT, BOOT_TTY_STDERR].map(|f| b.flags & f != 0),
        huge_pages: b.flags & BOOT_GUEST_HUGE != 0,
        cmdline: b.cmdline,
        cmdline_len: len,
        modules: b.modules,
        nmodules: (b.nmodules as usize).min(MAX_MODULES),
        host_xcr0: b.host_xcr0,
        host_xsave_size: b.host_xsave_size,
        realtime_ns: b.realtime_ns,
        realtime_tsc: b.realtime_tsc,
        env_len: (b.env_len as usize).min(ENV_MAX),
        envc: (b.envc as usize).min(ENVC_MAX),
        tree_gpa: b.tree_gpa,
        tree_len: b.tree_len,
        cpus: b.cpus.clamp(1, MAX_CPUS),
        apic_ids: core::array::from_fn(|i| i as u32),
        cpus_from: "BootInfo",
        cpus_listed: b.cpus.clamp(1, MAX_CPUS) as usize,
        trace_gpa: b.trace_gpa,
        trace_len: b.trace_len,
    })
}

fn rd<T: Copy>(pa: u64) -> T {
    // SAFETY: QEMU's start_info and memory map lie in low RAM, inside the
    // window the PVH boot tables map.
    unsafe { core::ptr::read_volatile(p2v(Pa(pa))) }
}

fn read_pvh(pvh: u64, kend: u64) -> Result<Machine, &'static str> {
    if rd::<u32>(pvh) != 0x336e_c578 {
        return Err("bad hvm_start_info magic");
    }
    if rd::<u32>(pvh + 4) < 1 {
        return Err("hvm_start_info without a memory map (version 0)");
    }
    let map: u64 = rd(pvh + 40);
    let n: u32 = rd(pvh + 48);
    let mut ram = 0;
    // The AP trampoline's page (apboot.rs) must be RAM.
    let tramp = crate::apboot::TRAMPOLINE_PA;
    let mut tramp_ram = false;
    for i in 0..n.min(128) as u64 {
        let (addr, size, ty): (u64, u64, u32) = (
            rd(map + 24 * i),
            rd(map + 24 * i + 8),
            rd(map + 24 * i + 16),
        );
        if ty == 1 && addr <= kend && kend < addr.saturating_add(size) {
            ram = addr.saturating_add(size);
        }
        tramp_ram |= ty == 1 && addr <= tramp && tramp + 4096 <= addr.saturating_add(size);
    }
    // The PVH boot tables map 1 GiB; the kernel needs no more here.
    let ram = ram.min(1 << 30);
    if ram < MIN_RAM {
        return Err("memory map shows too little RAM above the kernel");
    }
    let mut m = Machine {
        ram,
        free_start: kend,
        tsc_khz: 0,
        irqchip: false,
        huge_pages: false,
        cmdline: [0; CMDLINE_MAX],
        cmdline_len: 0,
        modules: [Module::default(); MAX_MODULES],
        nmodules: 0,
        host_xcr0: 0,
        host_xsave_size: 0,
        realtime_ns: 0,
        realtime_tsc: 0,
        env_len: 0,
        envc: 0,
        ttys: [false; 3],
        tree_gpa: 0,
        tree_len: 0,
        cpus: 1,
        apic_ids: [0; MAX_CPUS as usize],
        cpus_from: "",
        cpus_listed: 1,
        trace_gpa: 0,
        trace_len: 0,
    };
    pvh_cpus(&mut m, rd(pvh + 32), tramp_ram);
    let cmd: u64 = rd(pvh + 24);
    if cmd != 0 && cmd < ram {
        while m.cmdline_len < CMDLINE_MAX {
            let c: u8 = rd(cmd + m.cmdline_len as u64);
            if c == 0 {
                break;
            }
            m.cmdline[m.cmdline_len] = c;
            m.cmdline_len += 1;
        }
    }
    Ok(m)
}

/// Under PVH: the CPUs from the ACPI MADT (acpi.rs), the boot CPU first,
/// if the machine has a LAPIC and RAM for the AP trampoline; else the boot
/// CPU alone. QEMU holds the others in wait-for-SIPI until apboot.rs
/// starts them.
fn pvh_cpus(m: &mut Machine, rsdp: u64, tramp_ram: bool) {
    m.apic_ids[0] = crate::apic::boot_id();
    m.irqchip = crate::apic::cpuid_has().0;
    m.cpus_from = if !m.irqchip {
        "CPUID shows no local APIC"
    } else if !tramp_ram {
        "the memory map shows no RAM for the AP trampoline at 0x8000"
    } else {
        // The PVH boot tables map the first GiB.
        match crate::acpi::cpus(rsdp, 1 << 30, m.apic_ids[0], &mut m.apic_ids) {
            Ok((n, listed)) => {
                m.cpus = (n as u32).clamp(1, MAX_CPUS);
                m.cpus_listed = listed;
                "ACPI MADT"
            }
            Err(e) => e,
        }
    };
}
