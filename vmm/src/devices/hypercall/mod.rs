//! Decoding the guest's messages into typed events, and encoding the
//! VMM's answers. The guest is hostile: the GPA it hands over, the header's
//! kind and size, and every count inside are checked before anything is
//! used; a bad message is an error value, never a panic and never a read
//! outside guest memory. This file is the only one that knows the abi's
//! message layouts and constants.

use abi::Pod;
use abi::msg::{self, Header, MAX_FILES, MAX_REGIONS, MAX_UNKNOWN, MSG_MAX};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::event::{
    BootEvent, Event, Exit, Fault, GuestMode, Pattern, ProcEvent, ProcStats, Prot, Region,
    RegionKind, Scheduling, UnknownSyscalls, WhereisRequest,
};
use crate::addr::{Gpa, Gva};
use crate::paging::Cr3;

/// Why a guest message was refused; the guest gets `Invalid` back.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The GPA is not 8-byte aligned.
    #[error("message GPA {0:#x} is not 8-byte aligned")]
    Unaligned(u64),
    /// The message does not lie inside guest RAM.
    #[error("message at GPA {gpa:#x} ({size} bytes) is outside guest RAM")]
    OutsideRam {
        /// Where the guest said the message is.
        gpa: u64,
        /// The bytes that were to be read there.
        size: u64,
    },
    /// Unknown kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u32),
    /// Header size disagrees with the kind.
    #[error("message kind {kind} says it is {got} bytes; that kind is {want}")]
    BadSize {
        /// The header's kind.
        kind: u32,
        /// The header's size.
        got: u32,
        /// The size of that kind.
        want: u32,
    },
    /// A count inside the message is out of range.
    #[error("message kind {kind}: {field} is {value}, at most {max}")]
    OutOfRange {
        /// The header's kind.
        kind: u32,
        /// The count's field name in the abi struct.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// A process names itself its parent.
    #[error("process message: pid {0} names itself its parent")]
    OwnParent(u32),
    /// A region is malformed.
    #[error("process message: region {index} [{start:#x}, {end:#x}) kind {kind} is malformed")]
    BadRegion {
        /// Its position in the message's region list.
        index: usize,
        /// Its kind number.
        kind: u32,
        /// Its first address.
        start: u64,
        /// Its end, exclusive.
        end: u64,
    },
}

/// `ProtocolError::OutOfRange` for message kind `kind`, as a function of
/// the field, its value and the largest allowed: each decoder makes one.
pub(super) fn out_of_range(kind: u32) -> impl Fn(&'static str, u64, u64) -> ProtocolError {
    move |field, value, max| ProtocolError::OutOfRange {
        kind,
        field,
        value,
        max,
    }
}

/// Decode the message the guest placed at `gpa`.
pub fn read(mem: &GuestMemoryMmap, ram_size: u64, gpa: Gpa) -> Result<Event, ProtocolError> {
    let gpa = gpa.raw();
    if !gpa.is_multiple_of(8) {
        return Err(ProtocolError::Unaligned(gpa));
    }
    let in_ram = |size: u64| gpa.checked_add(size).is_some_and(|end| end <= ram_size);
    let hsize = size_of::<Header>() as u64;
    if !in_ram(hsize) {
        return Err(ProtocolError::OutsideRam { gpa, size: hsize });
    }
    let mut hb = [0u8; size_of::<Header>()];
    mem.read_slice(&mut hb, GuestAddress(gpa))
        .map_err(|_| ProtocolError::OutsideRam { gpa, size: hsize })?;
    let h = Header::from_bytes(&hb).ok_or(ProtocolError::OutsideRam { gpa, size: hsize })?;
    let want = msg::size_of_kind(h.kind);
    if want == 0 {
        return Err(ProtocolError::UnknownKind(h.kind));
    }
    if h.size != want || want > MSG_MAX {
        return Err(ProtocolError::BadSize {
            kind: h.kind,
            got: h.size,
            want,
        });
    }
    if !in_ram(want as u64) {
        return Err(ProtocolError::OutsideRam {
            gpa,
            size: want as u64,
        });
    }
    let mut body = vec![0u8; want as usize];
    mem.read_slice(&mut body, GuestAddress(gpa))
        .map_err(|_| ProtocolError::OutsideRam {
            gpa,
            size: want as u64,
        })?;
    decode(h.kind, &body, Gpa(gpa))
}

/// Decode a message body (header included) that was read from `gpa`.
pub fn decode(kind: u32, body: &[u8], gpa: Gpa) -> Result<Event, ProtocolError> {
    let short = || ProtocolError::BadSize {
        kind,
        got: body.len() as u32,
        want: msg::size_of_kind(kind),
    };
    match kind {
        msg::KIND_BOOT => Ok(Event::Boot(boot(
            &msg::Boot::from_bytes(body).ok_or_else(short)?,
        ))),
        msg::KIND_MARK => {
            let m = msg::Mark::from_bytes(body).ok_or_else(short)?;
            Ok(Event::Mark {
                id: m.id,
                tsc: m.tsc,
            })
        }
        msg::KIND_WHEREIS => {
            let w = msg::Whereis::from_bytes(body).ok_or_else(short)?;
            let reply = gpa
                .checked_add(std::mem::offset_of!(msg::Whereis, answer) as u64)
                .ok_or_else(short)?;
            Ok(Event::Whereis(WhereisRequest {
                pid: w.pid,
                cr3: Cr3(w.cr3),
                gva: Gva(w.gva),
                reply,
            }))
        }
        msg::KIND_STDIN => {
            let m = msg::Stdin::from_bytes(body).ok_or_else(short)?;
            if m.len as usize > msg::STDIN_MAX {
                return Err(out_of_range(kind)(
                    "len",
                    m.len as u64,
                    msg::STDIN_MAX as u64,
                ));
            }
            Ok(Event::StdinRead {
                pid: m.pid,
                want: m.len as usize,
                reply: gpa,
            })
        }
        msg::KIND_CONSOLE => Ok(Event::Console {
            chunks: console::chunks(&msg::Console::from_bytes(body).ok_or_else(short)?)?,
            reply: gpa,
        }),
        msg::KIND_DEBUG_TRAP => Ok(Event::DebugTrap {
            msg: msg::DebugTrap::from_bytes(body).ok_or_else(short)?,
            at: gpa,
        }),
        msg::KIND_THREADS => Ok(Event::Threads(threads::threads(
            &msg::Threads::from_bytes(body).ok_or_else(short)?,
        )?)),
        msg::KIND_PROC => Ok(Event::Proc(proc(
            &msg::Proc::from_bytes(body).ok_or_else(short)?,
        )?)),
        k => Err(ProtocolError::UnknownKind(k)),
    }
}

fn boot(b: &msg::Boot) -> BootEvent {
    BootEvent {
        mode: match b.mode {
            msg::MODE_X86 => GuestMode::X86,
            msg::MODE_PVM_NATIVE => GuestMode::PvmNative,
            m => GuestMode::Unknown(m),
        },
        pv_flags: b.pv_flags,
        tsc_start: b.tsc_start,
        tsc_banner: b.tsc_banner,
        tsc_khz: b.tsc_khz,
        paging_levels: b.paging_levels,
        sched: if b.sched == msg::SCHED_TIMER {
            Scheduling::Timer
        } else {
            Scheduling::Cooperative
        },
        timer_hz: b.timer_hz,
        kernel_cr3: Cr3(b.kernel_cr3),
        fpu_xcr0: b.fpu_xcr0,
        fpu_size: b.fpu_size,
        outbox: (b.outbox != 0).then_some(Gpa(b.outbox)),
    }
}

fn region_kind(kind: u32) -> Option<RegionKind> {
    Some(match kind {
        msg::REGION_CODE => RegionKind::Code,
        msg::REGION_DATA => RegionKind::Data,
        msg::REGION_HEAP => RegionKind::Heap,
        msg::REGION_STACK => RegionKind::Stack,
        msg::REGION_GUARD => RegionKind::Guard,
        msg::REGION_RODATA => RegionKind::Rodata,
        msg::REGION_BSS => RegionKind::Bss,
        msg::REGION_MMAP => RegionKind::Mmap,
        msg::REGION_DATA_BSS => RegionKind::DataBss,
        msg::REGION_FILE => RegionKind::File,
        _ => return None,
    })
}

/// The path of the file that file mapping `r` shows: the first of
/// `files` naming its call. None for other kinds, for a call no entry
/// names, and for an empty path. The bytes are the guest's: lossy UTF-8
/// here, escaped where they are printed.
fn file_of(r: &msg::Region, files: &[msg::FileName]) -> Option<String> {
    if r.kind != msg::REGION_FILE {
        return None;
    }
    let f = files.iter().find(|f| f.call == r.call)?;
    let path = msg::until_nul(&f.path);
    (!path.is_empty()).then(|| String::from_utf8_lossy(path).into_owned())
}

fn proc(p: &msg::Proc) -> Result<ProcEvent, ProtocolError> {
    let kind = msg::KIND_PROC;
    let out_of_range = out_of_range(kind);
    let regions = p.regions.get(..p.nregions as usize).ok_or(out_of_range(
        "nregions",
        p.nregions as u64,
        MAX_REGIONS as u64,
    ))?;
    let files = p.files.get(..p.nfiles as usize).ok_or(out_of_range(
        "nfiles",
        p.nfiles as u64,
        MAX_FILES as u64,
    ))?;
    let exiting = match p.event {
        msg::PROC_CREATED => false,
        msg::PROC_EXITING => true,
        e => return Err(out_of_range("event", e as u64, 2)),
    };
    let exit = exit(p, exiting)?;
    if !exiting && p.exit_kind > msg::EXIT_EXEC {
        return Err(out_of_range(
            "exit_kind",
            p.exit_kind as u64,
            msg::EXIT_EXEC.into(),
        ));
    }
    // No process is its own parent (pid 0 is the kernel's, never a
    // process's): a tree built from ppids must not loop on one pid.
    if p.ppid == p.pid && p.pid != 0 {
        return Err(ProtocolError::OwnParent(p.pid));
    }
    let regions = decode_regions(regions, files)?;
    Ok(ProcEvent {
        pid: p.pid,
        name: String::from_utf8_lossy(msg::until_nul(&p.name)).into_owned(),
        ppid: p.ppid,
        execs: p.execs,
        cr3: Cr3(p.cr3),
        user_pgd: (p.user_pgd != 0).then_some(Gpa(p.user_pgd)),
        regions,
        stats: ProcStats {
            heap_faults: p.heap_faults,
            stack_faults: p.stack_faults,
            // Slots of kinds this VMM does not know are left out.
            faults_by_kind: p
                .faults_by_kind
                .iter()
                .enumerate()
                .filter_map(|(k, &n)| Some((region_kind(u32::try_from(k).ok()?)?, n)))
                .collect(),
            pages_resident: p.pages_resident,
            tlb_shootdowns: p.tlb_shootdowns,
            tlb_shootdown_pages: p.tlb_shootdown_pages,
            tlb_shootdown_ns: p.tlb_shootdown_ns,
            vcpus_ran: p.vcpus_ran,
        },
        pattern: (p.pattern_gva != 0).then_some(Pattern {
            gva: Gva(p.pattern_gva),
            value: p.pattern,
        }),
        fs_base: p.fs_base,
        module: p.module.checked_sub(1),
        unknown_syscalls: UnknownSyscalls {
            // The counts come from the guest: at most MAX_UNKNOWN are listed.
            listed: p
                .unknown_syscalls
                .iter()
                .take((p.nunknown as usize).min(MAX_UNKNOWN))
                .copied()
                .collect(),
            distinct: p.nunknown,
        },
        exit,
    })
}

/// How an exiting process ended, from a Proc message (None when it is
/// being created).
fn exit(p: &msg::Proc, exiting: bool) -> Result<Option<Exit>, ProtocolError> {
    let out_of_range = out_of_range(msg::KIND_PROC);
    let exit = match p.exit_kind {
        _ if !exiting => None,
        msg::EXIT_FAULT => Some(Exit::Fault(Fault {
            vector: p.fault_vector,
            error_code: p.fault_error,
            address: Gva(p.fault_addr),
            rip: Gva(p.fault_rip),
        })),
        msg::EXIT_SIGNAL => match u32::try_from(p.exit_status) {
            Ok(sig @ 1..=64) => Some(Exit::Signal(sig)),
            _ => return Err(out_of_range("exit_status", p.exit_status as u64, 64)),
        },
        msg::EXIT_NONE | msg::EXIT_NORMAL => Some(Exit::Status(p.exit_status)),
        msg::EXIT_EXEC => Some(Exit::Exec),
        k => return Err(out_of_range("exit_kind", k as u64, msg::EXIT_EXEC.into())),
    };
    Ok(exit)
}

/// A Proc message's regions, each checked (known kind, page-aligned,
/// nonempty, below 2^47) and named by its file when it maps one.
fn decode_regions(
    regions: &[msg::Region],
    files: &[msg::FileName],
) -> Result<Vec<Region>, ProtocolError> {
    regions
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let bad = ProtocolError::BadRegion {
                index,
                kind: r.kind,
                start: r.start,
                end: r.end,
            };
            let k = region_kind(r.kind).ok_or(bad.clone())?;
            if r.start >= r.end || r.start % 4096 != 0 || r.end % 4096 != 0 || r.end > 1 << 47 {
                return Err(bad);
            }
            Ok(Region {
                kind: k,
                span: Gva(r.start)..Gva(r.end),
                prot: Prot {
                    read: r.prot & msg::PROT_R != 0,
                    write: r.prot & msg::PROT_W != 0,
                    exec: r.prot & msg::PROT_X != 0,
                },
                faults: r.faults,
                cow_faults: r.cow_faults,
                file: file_of(r, files),
            })
        })
        .collect::<Result<Vec<_>, _>>()
}

mod console;
mod reply;
#[cfg(test)]
mod tests;
mod threads;

pub use console::broken_bit;
pub use reply::{
    Outcome, WhereisReply, encode_answer, write_answer, write_console_broken, write_debug_trap,
    write_result, write_stdin,
};
