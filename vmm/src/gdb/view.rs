//! The stopped guest as the gdb stub shows it, taken once per stop: the
//! live processes (pid, name, page table root, regions) from the registry,
//! the vCPU's registers, and the user registers of the process stopped in
//! a debug trap (abi::msg::DebugTrap). Whose registers are known: the
//! trapped process's (writable: they go back with the trap's answer), the
//! process on the vCPU in user mode (writable with KVM_SET_REGS), and no
//! other's (the guest kernel keeps them).

use kvm_bindings::{kvm_regs, kvm_sregs};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::mem::Space;
use crate::addr::Gpa;
use crate::devices::event::{ProcEvent, Region};
use crate::inspect::Options;
use crate::memory::GuestRam;
use crate::pagemap::Pagemap;
use crate::paging::PagingMode;

/// The general registers gdb reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// rax rbx rcx rdx rsi rdi rbp rsp r8-r15, gdb's order.
    pub gpr: [u64; 16],
    /// The instruction pointer.
    pub rip: u64,
    /// The flags.
    pub rflags: u64,
}

impl Regs {
    /// From KVM's layout.
    pub fn from_kvm(r: &kvm_regs) -> Regs {
        Regs {
            gpr: [
                r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
                r.r12, r.r13, r.r14, r.r15,
            ],
            rip: r.rip,
            rflags: r.rflags,
        }
    }

    /// Into KVM's layout, over `r`.
    pub fn to_kvm(self, r: &mut kvm_regs) {
        let g = self.gpr;
        (r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp) =
            (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) =
            (g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        r.rip = self.rip;
        r.rflags = self.rflags;
    }
}

/// Where a process's registers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// It is stopped in a debug trap: the trap's registers.
    Trap,
    /// It is on the vCPU, in user mode.
    Vcpu,
    /// Neither: not known.
    Unknown,
}

/// One live process.
#[derive(Clone, Debug)]
pub struct ProcView {
    /// Its pid (gdb's thread id).
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// Its page table root (the kernel PGD).
    pub cr3: u64,
    /// Its regions, as the kernel listed them at creation.
    pub regions: Vec<Region>,
    /// The `--run` program (0-based) it was loaded from.
    pub module: Option<u32>,
}

impl ProcView {
    /// From its creation message.
    pub fn from_event(p: &ProcEvent) -> ProcView {
        ProcView {
            pid: p.pid,
            name: p.name.clone(),
            cr3: p.cr3.raw(),
            regions: p.regions.clone(),
            module: p.module,
        }
    }
}

/// What the host's debug facilities are, in words for gdb's user.
#[derive(Clone, Debug)]
pub struct Facilities {
    /// Why hardware breakpoints are refused.
    pub hw_breakpoints: String,
}

/// The stopped guest.
pub struct Snapshot<'a> {
    /// Guest RAM.
    pub mem: &'a GuestMemoryMmap,
    /// Guest RAM, its memslots (for whereis).
    pub ram: &'a GuestRam,
    /// The host's page tables, where readable (for whereis).
    pub pagemap: Option<&'a Pagemap>,
    /// The analysis's options (for whereis).
    pub opts: Options,
    /// The guest's paging mode.
    pub mode: Option<PagingMode>,
    /// Live processes, by pid.
    pub procs: Vec<ProcView>,
    /// The vCPU's registers.
    pub vcpu: kvm_regs,
    /// The vCPU's system registers.
    pub sregs: kvm_sregs,
    /// gdb changed `vcpu`.
    pub vcpu_dirty: bool,
    /// The process stopped in a debug trap, and its registers.
    pub trap: Option<(u32, Regs)>,
    /// The host's debug facilities.
    pub facilities: Facilities,
}

impl<'a> Snapshot<'a> {
    /// An empty view over `ram`.
    pub fn new(
        ram: &'a GuestRam,
        pagemap: Option<&'a Pagemap>,
        opts: Options,
        facilities: Facilities,
    ) -> Self {
        Snapshot {
            mem: ram.mem(),
            ram,
            pagemap,
            opts,
            mode: None,
            procs: Vec::new(),
            vcpu: kvm_regs::default(),
            sregs: kvm_sregs::default(),
            vcpu_dirty: false,
            trap: None,
            facilities,
        }
    }

    /// Process `pid`, if it is alive.
    pub fn proc(&self, pid: u32) -> Option<&ProcView> {
        self.procs.iter().find(|p| p.pid == pid)
    }

    /// The process whose tables the vCPU has loaded (either PGD of the
    /// pv_kpti pair), in user mode.
    fn on_vcpu_user(&self) -> Option<u32> {
        if self.sregs.cs.selector & 3 != 3 {
            return None;
        }
        self.on_vcpu()
    }

    /// The process whose tables the vCPU has loaded, in any mode.
    fn on_vcpu(&self) -> Option<u32> {
        let c = self.sregs.cr3 & !0xfff;
        self.procs
            .iter()
            .find(|p| c == p.cr3 & !0xfff || c == (p.cr3 & !0xfff) | 0x1000)
            .map(|p| p.pid)
    }

    /// The process the guest stopped in, if it is known (Ctrl-C in the
    /// guest kernel: the process whose tables are loaded).
    pub fn stopped_pid(&self) -> Option<u32> {
        self.trap.map(|t| t.0).or_else(|| self.on_vcpu())
    }

    /// Where `pid`'s registers come from.
    pub fn source(&self, pid: u32) -> Source {
        if self.trap.is_some_and(|t| t.0 == pid) {
            Source::Trap
        } else if self.on_vcpu_user() == Some(pid) {
            Source::Vcpu
        } else {
            Source::Unknown
        }
    }

    /// `pid`'s registers (zeros where unknown).
    pub fn regs(&self, pid: u32) -> Regs {
        match self.source(pid) {
            Source::Trap => self.trap.map(|t| t.1).unwrap_or_default(),
            Source::Vcpu => Regs::from_kvm(&self.vcpu),
            Source::Unknown => Regs::default(),
        }
    }

    /// Change `pid`'s registers; false where they are not known.
    pub fn set_regs(&mut self, pid: u32, r: Regs) -> bool {
        match self.source(pid) {
            Source::Trap => {
                self.trap = Some((pid, r));
                true
            }
            Source::Vcpu => {
                r.to_kvm(&mut self.vcpu);
                self.vcpu_dirty = true;
                true
            }
            Source::Unknown => false,
        }
    }

    /// `pid`'s address space.
    pub fn space(&self, pid: u32) -> Option<Space<'a>> {
        self.proc(pid).map(|p| Space {
            mem: self.mem,
            mode: self.mode,
            cr3: p.cr3,
        })
    }

    /// Every other live process's address space.
    pub fn others(&self, pid: u32) -> Vec<(u32, Space<'a>)> {
        self.procs
            .iter()
            .filter(|p| p.pid != pid)
            .map(|p| {
                (
                    p.pid,
                    Space {
                        mem: self.mem,
                        mode: self.mode,
                        cr3: p.cr3,
                    },
                )
            })
            .collect()
    }

    /// Read guest-physical bytes; false outside RAM.
    pub fn read_gpa(&self, gpa: Gpa, buf: &mut [u8]) -> bool {
        self.mem.read_slice(buf, GuestAddress(gpa.raw())).is_ok()
    }

    /// Write guest-physical bytes; false outside RAM.
    pub fn write_gpa(&self, gpa: Gpa, buf: &[u8]) -> bool {
        self.mem.write_slice(buf, GuestAddress(gpa.raw())).is_ok()
    }

    /// ", stopped in a trap" and the like, for thread lists.
    pub fn state_text(&self, pid: u32) -> &'static str {
        match self.source(pid) {
            Source::Trap => " (stopped here)",
            Source::Vcpu => " (on the vCPU)",
            Source::Unknown => "",
        }
    }
}
