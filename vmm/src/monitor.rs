//! The VMM's side of a run: serves every port the guest touches, answers
//! its questions (`whereis`), and keeps what it learns for the report.

use std::collections::{BTreeMap, BTreeSet};

use abi::msg::{self, WhereisAnswer};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress};

use crate::addr::{Gpa, Gva, Hva};
use crate::devices::console::Console;
use crate::devices::hypercall::{self, Message};
use crate::hostmem::{HostFrame, Pagemap};
use crate::inspect;
use crate::memory::GuestRam;
use crate::paging::{self, PagingMode};
use crate::report::{ExitCounts, WhereisReport};
use crate::vcpu::{ExitHandler, Stop};

/// Most process records and whereis answers kept: the guest is hostile and
/// must not make the VMM grow without bound.
const MAX_RECORDS: usize = 4096;

/// What the VMM knows about one guest process.
pub struct ProcRecord {
    pub created: msg::Proc,
    pub exited: Option<msg::Proc>,
    /// GPA of the first code page, walked when the creation message came.
    pub code_gpa: Option<Gpa>,
    /// The translation analysis made while its CR3 was live.
    pub analysis: Option<inspect::Analysis>,
    /// Order of exit among all processes (0 = first to end).
    pub exit_order: Option<usize>,
}

pub struct Monitor<'a> {
    pub ram: &'a GuestRam,
    pub pagemap: Option<&'a Pagemap>,
    pub console: Console,
    pub boot: Option<msg::Boot>,
    pub procs: BTreeMap<u32, ProcRecord>,
    pub whereis: Vec<WhereisReport>,
    pub errors: Vec<String>,
    pub exits: ExitCounts,
    pub inspect: inspect::Options,
    unknown_ports: BTreeSet<u16>,
    /// Processes that have exited so far.
    exited: usize,
    /// Pages the rest of the run may still list (inspect::PAGE_BUDGET).
    page_budget: u64,
    /// First console byte, for the boot-time report.
    pub first_output: Option<std::time::Instant>,
}

impl<'a> Monitor<'a> {
    /// A monitor for one run over `ram`, printing the guest's console to
    /// `console`.
    pub fn new(
        ram: &'a GuestRam,
        pagemap: Option<&'a Pagemap>,
        console: Console,
        inspect: inspect::Options,
    ) -> Self {
        Monitor {
            ram,
            pagemap,
            console,
            boot: None,
            procs: BTreeMap::new(),
            whereis: Vec::new(),
            errors: Vec::new(),
            exits: ExitCounts::default(),
            inspect,
            unknown_ports: BTreeSet::new(),
            exited: 0,
            page_budget: inspect::PAGE_BUDGET,
            first_output: None,
        }
    }

    fn output(&mut self, pid: u32, data: &[u8]) {
        if self.first_output.is_none() {
            self.first_output = Some(std::time::Instant::now());
        }
        if pid == 0 {
            self.console.write(data);
            return;
        }
        let name = self
            .procs
            .get(&pid)
            .map(|r| String::from_utf8_lossy(msg::until_nul(&r.created.name)).into_owned())
            .unwrap_or_else(|| "?".into());
        self.console.write_process(pid, &name, data);
    }

    /// Serve one message at `gpa`; return the result code for its header.
    fn message(&mut self, vcpu: &VcpuFd, gpa: u64) -> i32 {
        let m = match hypercall::read(self.ram.mem(), self.ram.size(), gpa) {
            Ok(m) => m,
            Err(e) => {
                self.error(format!("guest protocol: {e}"));
                return msg::RESULT_INVALID;
            }
        };
        match m {
            Message::Console { pid, bytes } => self.output(pid, &bytes),
            Message::Boot(b) => self.boot = Some(b),
            Message::Mark(_) => {}
            Message::Proc(p) => self.proc(vcpu, *p),
            Message::Whereis(w) => return self.whereis(vcpu, gpa, &w),
        }
        msg::RESULT_OK
    }

    fn proc(&mut self, vcpu: &VcpuFd, p: msg::Proc) {
        match p.event {
            msg::PROC_CREATED => {
                if self.procs.contains_key(&p.pid) {
                    self.error(format!("guest protocol: pid {} created twice", p.pid));
                    return;
                }
                if self.procs.len() >= MAX_RECORDS {
                    self.error(format!(
                        "guest protocol: more than {MAX_RECORDS} processes; pid {} not recorded",
                        p.pid
                    ));
                    return;
                }
                let code = inspect::regions(&p)
                    .iter()
                    .find(|r| r.kind == msg::REGION_CODE);
                let code_gpa = code.and_then(|r| {
                    let mode = paging_mode(vcpu, self.inspect.maxphyaddr)?;
                    paging::walk(self.ram.mem(), p.cr3, mode, Gva(r.start))
                        .ok()
                        .map(|t| t.gpa)
                });
                self.procs.insert(
                    p.pid,
                    ProcRecord {
                        created: p,
                        exited: None,
                        code_gpa,
                        analysis: None,
                        exit_order: None,
                    },
                );
            }
            _ => {
                let problem = match self.procs.get(&p.pid) {
                    None => Some(format!("exit of unknown pid {}", p.pid)),
                    Some(r) if r.exited.is_some() => Some(format!("pid {} exited twice", p.pid)),
                    Some(r) if r.created.cr3 != p.cr3 => Some(format!(
                        "pid {} exits with CR3 {:#x}, created with {:#x}",
                        p.pid, p.cr3, r.created.cr3
                    )),
                    Some(_) => None,
                };
                if let Some(why) = problem {
                    self.error(format!("guest protocol: {why}"));
                    return;
                }
                let analysis = inspect::analyse(
                    vcpu,
                    self.ram,
                    self.pagemap,
                    &p,
                    &self.inspect,
                    &mut self.page_budget,
                );
                for e in &analysis.errors {
                    self.error(format!("pid {}: {e}", p.pid));
                }
                if let Some(gva) = self.inspect.walk {
                    // The user's chosen address, walked while this CR3 is live.
                    let w = msg::Whereis {
                        pid: p.pid,
                        cr3: p.cr3,
                        gva,
                        ..Default::default()
                    };
                    if let (_, Some(r)) =
                        inspect::whereis(vcpu, self.ram, self.pagemap, &w, &self.inspect)
                    {
                        self.record_whereis(r);
                    }
                }
                let order = self.exited;
                self.exited += 1;
                if let Some(rec) = self.procs.get_mut(&p.pid) {
                    rec.exited = Some(p);
                    rec.exit_order = Some(order);
                    rec.analysis = Some(analysis);
                }
            }
        }
    }

    /// Answer `whereis`: walk the asker's table, then follow the GPA to the
    /// host, and write the answer back into the message.
    fn whereis(&mut self, vcpu: &VcpuFd, gpa: u64, w: &msg::Whereis) -> i32 {
        let (ans, report) = inspect::whereis(vcpu, self.ram, self.pagemap, w, &self.inspect);
        let bytes = hypercall::to_bytes(&ans);
        if self
            .ram
            .mem()
            .write_slice(&bytes, GuestAddress(hypercall::whereis_answer_gpa(gpa)))
            .is_err()
        {
            self.error(format!("cannot write the whereis answer at GPA {gpa:#x}"));
            return msg::RESULT_INVALID;
        }
        if let Some(r) = report {
            self.record_whereis(r);
        }
        if ans.status == msg::WHEREIS_OK {
            msg::RESULT_OK
        } else {
            msg::RESULT_FAILED
        }
    }

    /// Keep a 2D walk for the report (the first MAX_RECORDS), and flag it if
    /// KVM_TRANSLATE disagrees with the software walk.
    fn record_whereis(&mut self, r: WhereisReport) {
        if let Some(k) = r.kvm_translate_gpa
            && Some(k) != r.gpa
        {
            self.error(format!(
                "whereis {}: software walk {:?} but KVM_TRANSLATE {k}",
                r.gva, r.gpa
            ));
        }
        if self.whereis.len() < MAX_RECORDS {
            self.whereis.push(r);
        }
    }

    /// Record a problem for the report (the first 1000).
    pub fn error(&mut self, e: String) {
        if self.errors.len() < 1000 {
            self.errors.push(e);
        }
    }
}

/// The vCPU's paging mode right now, with the CPU's MAXPHYADDR (None if it
/// is not in long mode).
pub fn paging_mode(vcpu: &VcpuFd, maxphyaddr: u8) -> Option<PagingMode> {
    let s = vcpu.get_sregs().ok()?;
    PagingMode::from_regs(s.cr0, s.cr4, s.efer)
        .ok()?
        .with_maxphyaddr(maxphyaddr)
        .ok()
}

/// Host frame of `gpa`: through the memslots and pagemap.
pub fn host_frame(
    ram: &GuestRam,
    pagemap: Option<&Pagemap>,
    gpa: Gpa,
) -> (Option<crate::addr::Hva>, HostFrame) {
    let Some(hva) = ram.gpa_to_hva(gpa) else {
        return (
            None,
            HostFrame::Unavailable("GPA outside every memslot".into()),
        );
    };
    let frame = match pagemap {
        Some(p) => p.lookup(hva),
        None => HostFrame::Unavailable("/proc/self/pagemap could not be opened".into()),
    };
    (Some(hva), frame)
}

/// The host page size behind `hva`: from pagemap's frame when it is
/// present, else (no CAP_SYS_ADMIN) from the mapping in smaps.
pub fn host_page_size(
    pagemap: Option<&Pagemap>,
    hva: Option<Hva>,
    frame: &HostFrame,
) -> Option<u64> {
    match frame {
        HostFrame::Present { page_size, .. } => *page_size,
        HostFrame::NeedsCap => pagemap?.mapping_page_size(hva?),
        _ => None,
    }
}

/// Fill the HPA fields of a whereis answer from a host frame.
pub fn set_hpa(a: &mut WhereisAnswer, f: &HostFrame) {
    (a.hpa_status, a.hpa, a.host_page_size) = match f {
        HostFrame::Present { hpa, page_size } => (msg::HPA_OK, hpa.raw(), page_size.unwrap_or(0)),
        HostFrame::NeedsCap => (msg::HPA_NEEDS_CAP, 0, 0),
        HostFrame::NotPresent | HostFrame::Swapped => (msg::HPA_NOT_PRESENT, 0, 0),
        HostFrame::Unavailable(_) => (msg::HPA_UNAVAILABLE, 0, 0),
    };
}

impl ExitHandler for Monitor<'_> {
    fn io_out(&mut self, vcpu: &VcpuFd, port: u16, data: &[u8]) -> Option<Stop> {
        self.exits.total += 1;
        let word = || {
            let mut b = [0u8; 4];
            let n = data.len().min(4);
            b[..n].copy_from_slice(&data[..n]);
            u32::from_le_bytes(b)
        };
        match port {
            abi::PORT_SERIAL => {
                self.exits.serial += 1;
                self.output(0, data);
            }
            abi::PORT_HYPERCALL => {
                self.exits.hypercall += 1;
                let gpa = word() as u64;
                let r = self.message(vcpu, gpa);
                // The result goes into the header the guest is waiting on.
                let at = GuestAddress(gpa + std::mem::offset_of!(msg::Header, result) as u64);
                if gpa + 16 <= self.ram.size() && gpa.is_multiple_of(8) {
                    let _ = self.ram.mem().write_obj(r, at);
                }
            }
            abi::PORT_SHUTDOWN => return Some(Stop::Shutdown(word())),
            p => {
                self.exits.other += 1;
                if self.unknown_ports.insert(p) {
                    eprintln!(
                        "microvmm: guest wrote to unknown port {p:#x} (ignored; logged once)"
                    );
                }
            }
        }
        None
    }

    fn io_in(&mut self, port: u16, data: &mut [u8]) {
        self.exits.total += 1;
        let v: u32 = match port {
            abi::PORT_HYPERCALL => abi::HYPERCALL_MAGIC,
            // COM1 line status: transmitter empty, so polling guests write on.
            0x3fd => 0x60,
            _ => u32::MAX,
        };
        let b = v.to_le_bytes();
        for (i, d) in data.iter_mut().enumerate() {
            *d = b.get(i).copied().unwrap_or(0xff);
        }
    }
}
