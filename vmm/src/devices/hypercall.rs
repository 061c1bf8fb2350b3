//! Decoding the guest's messages into typed events, and encoding the
//! VMM's answers. The guest is hostile: the GPA it hands over, the header's
//! kind and size, and every count inside are checked before anything is
//! used; a bad message is an error value, never a panic and never a read
//! outside guest memory. This file is the only one that knows the abi's
//! message layouts and constants.

use abi::Pod;
use abi::msg::{
    self, CONSOLE_MAX, Header, MAX_REGIONS, MAX_UNKNOWN, MSG_MAX, WALK_MAX, WalkStep, WhereisAnswer,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::event::{
    BootEvent, Event, Exit, Fault, GuestMode, Pattern, ProcEvent, ProcStats, Prot, Region,
    RegionKind, Scheduling, UnknownSyscalls, WhereisRequest,
};
use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::hostmem::HostFrame;
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
        msg::KIND_CONSOLE => {
            let c = msg::Console::from_bytes(body).ok_or_else(short)?;
            let bytes = c
                .bytes
                .get(..c.len as usize)
                .ok_or(ProtocolError::OutOfRange {
                    kind,
                    field: "len",
                    value: c.len as u64,
                    max: CONSOLE_MAX as u64,
                })?;
            Ok(Event::Console {
                pid: c.pid,
                bytes: bytes.to_vec(),
            })
        }
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
        _ => return None,
    })
}

fn proc(p: &msg::Proc) -> Result<ProcEvent, ProtocolError> {
    let kind = msg::KIND_PROC;
    let out_of_range = |field, value: u64, max: u64| ProtocolError::OutOfRange {
        kind,
        field,
        value,
        max,
    };
    let regions = p.regions.get(..p.nregions as usize).ok_or(out_of_range(
        "nregions",
        p.nregions as u64,
        MAX_REGIONS as u64,
    ))?;
    let exiting = match p.event {
        msg::PROC_CREATED => false,
        msg::PROC_EXITING => true,
        e => return Err(out_of_range("event", e as u64, 2)),
    };
    let exit = match p.exit_kind {
        _ if !exiting => None,
        msg::EXIT_FAULT => Some(Exit::Fault(Fault {
            vector: p.fault_vector,
            error_code: p.fault_error,
            address: Gva(p.fault_addr),
            rip: Gva(p.fault_rip),
        })),
        msg::EXIT_NONE | msg::EXIT_NORMAL => Some(Exit::Status(p.exit_status)),
        k => return Err(out_of_range("exit_kind", k as u64, 2)),
    };
    if !exiting && p.exit_kind > msg::EXIT_FAULT {
        return Err(out_of_range("exit_kind", p.exit_kind as u64, 2));
    }
    let regions = regions
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
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProcEvent {
        pid: p.pid,
        name: String::from_utf8_lossy(msg::until_nul(&p.name)).into_owned(),
        cr3: Cr3(p.cr3),
        user_pgd: (p.user_pgd != 0).then_some(Gpa(p.user_pgd)),
        regions,
        stats: ProcStats {
            heap_faults: p.heap_faults,
            stack_faults: p.stack_faults,
            pages_resident: p.pages_resident,
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

/// The VMM's answer to a `whereis` question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WhereisReply {
    /// The address is not mapped in the asker's tables (or the vCPU is not
    /// in a paging mode the walker knows).
    NotMapped,
    /// Where it lives.
    Found {
        /// Its guest-physical address.
        gpa: Gpa,
        /// The VMM's mapping of the GPA; None outside every memslot.
        hva: Option<Hva>,
        /// Where the host keeps it.
        frame: HostFrame,
        /// The guest's page size in bytes.
        guest_page_size: u64,
        /// The host's page size backing it, in bytes; None when unknown.
        host_page_size: Option<u64>,
        /// KVM_TRANSLATE's answer; None if it gave none.
        kvm_gpa: Option<Gpa>,
        /// Each level's entry: its GPA, value and HPA, top level first.
        walk: Vec<(Gpa, u64, Option<Hpa>)>,
    },
}

/// The answer's bytes as the guest's `WhereisAnswer` lays them out.
pub fn encode_answer(gva: Gva, reply: &WhereisReply) -> WhereisAnswer {
    let mut a = WhereisAnswer {
        gva: gva.raw(),
        kvm_gpa: u64::MAX,
        status: msg::WHEREIS_NOT_MAPPED,
        ..Default::default()
    };
    let WhereisReply::Found {
        gpa,
        hva,
        frame,
        guest_page_size,
        host_page_size,
        kvm_gpa,
        walk,
    } = reply
    else {
        return a;
    };
    a.status = msg::WHEREIS_OK;
    a.gpa = gpa.raw();
    a.hva = hva.map_or(0, Hva::raw);
    a.guest_page_size = *guest_page_size;
    (a.hpa_status, a.hpa) = match frame {
        HostFrame::Present { hpa, .. } => (msg::HPA_OK, hpa.raw()),
        HostFrame::NeedsCap => (msg::HPA_NEEDS_CAP, 0),
        HostFrame::NotPresent | HostFrame::Swapped => (msg::HPA_NOT_PRESENT, 0),
        HostFrame::Unavailable(_) => (msg::HPA_UNAVAILABLE, 0),
    };
    a.host_page_size = host_page_size.unwrap_or(0);
    a.kvm_gpa = kvm_gpa.map_or(u64::MAX, Gpa::raw);
    for (step, (entry_gpa, entry, entry_hpa)) in a.walk.iter_mut().zip(walk) {
        *step = WalkStep {
            entry_gpa: entry_gpa.raw(),
            entry: *entry,
            entry_hpa: entry_hpa.map_or(0, Hpa::raw),
        };
    }
    a.levels = walk.len().min(WALK_MAX) as u32;
    a
}

/// The result code for the message header: ok, invalid (a protocol error)
/// or failed (the VMM could not do what was asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; any answer is in the message.
    Ok,
    /// The message broke the protocol.
    Invalid,
    /// The message was fine but the VMM could not serve it.
    Failed,
}

/// Write `outcome` into the header of the message at `gpa`, if the header
/// lies in guest RAM (a bad GPA gets no result: there is nowhere to put it).
pub fn write_result(mem: &GuestMemoryMmap, ram_size: u64, gpa: Gpa, outcome: Outcome) {
    let code = match outcome {
        Outcome::Ok => msg::RESULT_OK,
        Outcome::Invalid => msg::RESULT_INVALID,
        Outcome::Failed => msg::RESULT_FAILED,
    };
    let at = gpa.checked_add(std::mem::offset_of!(Header, result) as u64);
    let header_end = gpa.checked_add(size_of::<Header>() as u64);
    if let (Some(at), Some(end)) = (at, header_end)
        && end.raw() <= ram_size
        && gpa.raw().is_multiple_of(8)
    {
        let _ = mem.write_obj(code, GuestAddress(at.raw()));
    }
}

/// Write a whereis answer at `reply` (inside the question's message).
pub fn write_answer(
    mem: &GuestMemoryMmap,
    reply: Gpa,
    answer: &WhereisAnswer,
) -> Result<(), vm_memory::GuestMemoryError> {
    mem.write_slice(answer.as_bytes(), GuestAddress(reply.raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("test memory")
    }

    fn put<T: Pod>(m: &GuestMemoryMmap, gpa: u64, v: &T) {
        m.write_slice(v.as_bytes(), GuestAddress(gpa))
            .expect("write");
    }

    #[test]
    fn console_round_trip() {
        let m = mem();
        let mut c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: 3,
            pid: 4,
            bytes: [0; CONSOLE_MAX],
        };
        c.bytes[..3].copy_from_slice(b"hi\n");
        put(&m, 0x1000, &c);
        match read(&m, 1 << 20, Gpa(0x1000)) {
            Ok(Event::Console { pid, bytes }) => assert_eq!((pid, &bytes[..]), (4, &b"hi\n"[..])),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn hostile_headers_are_errors() {
        let m = mem();
        assert_eq!(
            read(&m, 1 << 20, Gpa(0x1001)).err(),
            Some(ProtocolError::Unaligned(0x1001))
        );
        assert!(matches!(
            read(&m, 1 << 20, Gpa((1 << 20) - 8)),
            Err(ProtocolError::OutsideRam { .. })
        ));
        assert!(matches!(
            read(&m, 1 << 20, Gpa(u64::MAX - 7)),
            Err(ProtocolError::OutsideRam { .. })
        ));
        put(
            &m,
            0x2000,
            &Header {
                kind: 99,
                size: 16,
                result: 0,
                seq: 0,
            },
        );
        assert_eq!(
            read(&m, 1 << 20, Gpa(0x2000)).err(),
            Some(ProtocolError::UnknownKind(99))
        );
        put(
            &m,
            0x2000,
            &Header {
                kind: msg::KIND_BOOT,
                size: 4096,
                result: 0,
                seq: 0,
            },
        );
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x2000)),
            Err(ProtocolError::BadSize { .. })
        ));
        // A console message whose body would run past the end of RAM.
        put(&m, (1 << 20) - 64, &Header::new(msg::KIND_CONSOLE));
        assert!(matches!(
            read(&m, 1 << 20, Gpa((1 << 20) - 64)),
            Err(ProtocolError::OutsideRam { .. })
        ));
    }

    #[test]
    fn console_length_is_checked() {
        let m = mem();
        let c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: CONSOLE_MAX as u32 + 1,
            pid: 0,
            bytes: [0; CONSOLE_MAX],
        };
        put(&m, 0x1000, &c);
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x1000)),
            Err(ProtocolError::OutOfRange { field: "len", .. })
        ));
    }

    #[test]
    fn proc_regions_are_checked() {
        let m = mem();
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_CREATED,
            nregions: 1,
            ..Default::default()
        };
        p.name[..4].copy_from_slice(b"heap");
        p.regions[0] = msg::Region {
            kind: msg::REGION_CODE,
            prot: 5,
            start: 0x40_0000,
            end: 0x40_1000,
            faults: 0,
        };
        put(&m, 0x1000, &p);
        match read(&m, 1 << 20, Gpa(0x1000)) {
            Ok(Event::Proc(q)) => assert_eq!(q.name, "heap"),
            other => panic!("unexpected {other:?}"),
        }
        p.nregions = msg::MAX_REGIONS as u32 + 1;
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x1000)),
            Err(ProtocolError::OutOfRange {
                field: "nregions",
                ..
            })
        ));
        p.nregions = 1;
        p.regions[0].end = p.regions[0].start;
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x1000)),
            Err(ProtocolError::BadRegion { .. })
        ));
        p.regions[0] = msg::Region {
            kind: 42,
            prot: 0,
            start: 0x1000,
            end: 0x2000,
            faults: 0,
        };
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x1000)),
            Err(ProtocolError::BadRegion { .. })
        ));
    }

    #[test]
    fn whereis_decodes_with_the_answer_address() {
        let w = msg::Whereis {
            hdr: Header::new(msg::KIND_WHEREIS),
            pid: 3,
            cr3: 0x14_a000,
            gva: 0x40_0123,
            ..Default::default()
        };
        let got = decode(msg::KIND_WHEREIS, w.as_bytes(), Gpa(0x2000));
        assert_eq!(
            got,
            Ok(Event::Whereis(WhereisRequest {
                pid: 3,
                cr3: Cr3(0x14_a000),
                gva: Gva(0x40_0123),
                reply: Gpa(0x2000 + std::mem::offset_of!(msg::Whereis, answer) as u64),
            }))
        );
    }

    #[test]
    fn exits_decode_to_their_kind() {
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_EXITING,
            exit_kind: msg::EXIT_FAULT,
            fault_vector: 14,
            fault_error: 4,
            fault_addr: 0xffff_ffff_8010_0000,
            fault_rip: 0x40_0103,
            pattern_gva: 0x40_5000,
            pattern: 7,
            ..Default::default()
        };
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("a fault exit decodes");
        };
        assert_eq!(
            e.exit,
            Some(Exit::Fault(Fault {
                vector: 14,
                error_code: 4,
                address: Gva(0xffff_ffff_8010_0000),
                rip: Gva(0x40_0103),
            }))
        );
        assert_eq!(
            e.pattern,
            Some(Pattern {
                gva: Gva(0x40_5000),
                value: 7
            })
        );
        p.exit_kind = msg::EXIT_NORMAL;
        p.exit_status = -3;
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("a normal exit decodes");
        };
        assert_eq!(e.exit, Some(Exit::Status(-3)));
        p.event = msg::PROC_CREATED;
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("a creation decodes");
        };
        assert_eq!(e.exit, None);
        p.exit_kind = 9;
        assert!(matches!(
            decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)),
            Err(ProtocolError::OutOfRange {
                field: "exit_kind",
                ..
            })
        ));
    }

    #[test]
    fn answers_encode_what_was_found() {
        let a = encode_answer(Gva(0x1000), &WhereisReply::NotMapped);
        assert_eq!(
            (a.status, a.kvm_gpa, a.gva),
            (msg::WHEREIS_NOT_MAPPED, u64::MAX, 0x1000)
        );
        let found = WhereisReply::Found {
            gpa: Gpa(0x17_90a0),
            hva: Some(Hva(0x7f00_0017_90a0)),
            frame: HostFrame::NeedsCap,
            guest_page_size: 4096,
            host_page_size: Some(4096),
            kvm_gpa: Some(Gpa(0x17_90a0)),
            walk: vec![(Gpa(0x14_a000), 0x14_b007, Some(Hpa(0x9_0000))); 7],
        };
        let a = encode_answer(Gva(0x40_00a0), &found);
        assert_eq!(a.status, msg::WHEREIS_OK);
        assert_eq!(
            (a.gpa, a.hva, a.kvm_gpa),
            (0x17_90a0, 0x7f00_0017_90a0, 0x17_90a0)
        );
        assert_eq!((a.hpa_status, a.hpa), (msg::HPA_NEEDS_CAP, 0));
        assert_eq!(a.levels as usize, WALK_MAX, "at most WALK_MAX levels");
        assert_eq!(a.walk[0].entry_hpa, 0x9_0000);
    }

    #[test]
    fn invalid_utf8_name_is_lossy() {
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_CREATED,
            ..Default::default()
        };
        p.name[..2].copy_from_slice(&[0xff, b'a']);
        match decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) {
            Ok(Event::Proc(q)) => assert_eq!(q.name, "\u{fffd}a"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever bytes a hostile guest leaves at whatever GPA, decoding
        /// returns a value or an error — it never panics, never reads
        /// outside RAM, and accepts only messages whose size fits their kind.
        #[test]
        fn any_bytes_any_gpa_never_panic(
            kind in 0u32..8,
            size in prop_oneof![Just(0u32), 0u32..5000, Just(u32::MAX)],
            body in proptest::collection::vec(any::<u8>(), 0..4096),
            gpa in prop_oneof![0u64..(1 << 20), Just((1 << 20) - 16), any::<u32>().prop_map(u64::from)],
        ) {
            let ram = 1u64 << 20;
            let m = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), ram as usize)]).expect("test memory");
            let mut bytes = Header { kind, size, result: 0, seq: 0 }.as_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let at = (gpa & !7).min(ram - 8);
            let n = bytes.len().min((ram - at) as usize);
            m.write_slice(&bytes[..n], GuestAddress(at)).expect("write");
            if let Ok(msg) = read(&m, ram, Gpa(gpa)) {
                prop_assert_eq!(size, msg::size_of_kind(kind));
                prop_assert!(gpa + size as u64 <= ram);
                if let Event::Console { bytes: c, .. } = msg {
                    prop_assert!(c.len() <= CONSOLE_MAX);
                }
            }
        }
    }
}
