//! The decoder and the replies against hostile bytes: unit tests of each
//! message kind but `proc` (whose are in `tests/proc.rs`), and a property
//! test over arbitrary messages at arbitrary GPAs.

use super::*;
use crate::addr::{Hpa, Hva};
use crate::pagemap::HostFrame;
use abi::msg::{CONSOLE_MAX, WALK_MAX};

mod proc;

fn mem() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("test memory")
}

fn put<T: Pod>(m: &GuestMemoryMmap, gpa: u64, v: &T) {
    m.write_slice(v.as_bytes(), GuestAddress(gpa))
        .expect("write");
}

#[test]
fn debug_trap_round_trip() {
    let m = mem();
    let mut t = msg::DebugTrap {
        hdr: Header::new(msg::KIND_DEBUG_TRAP),
        pid: 3,
        vector: msg::TRAP_BREAKPOINT,
        rip: 0x40_1001,
        rflags: 0x246,
        ..Default::default()
    };
    t.regs[7] = 0x7fff_0000;
    put(&m, 0x2000, &t);
    let Ok(Event::DebugTrap { msg: got, at }) = read(&m, 1 << 20, Gpa(0x2000)) else {
        panic!("not a debug trap");
    };
    assert_eq!((got, at), (t, Gpa(0x2000)));
    // The answer goes back over the message, and nowhere else.
    let end = 0x2000 + std::mem::size_of::<msg::DebugTrap>() as u64;
    m.write_obj(0xa5u8, GuestAddress(end)).expect("guard");
    let mut answer = got;
    answer.rip = 0x40_1000;
    answer.rflags |= msg::RFLAGS_TF;
    write_debug_trap(&m, at, &answer).expect("answer");
    let mut raw = vec![0u8; std::mem::size_of::<msg::DebugTrap>()];
    m.read_slice(&mut raw, GuestAddress(0x2000))
        .expect("read back");
    assert_eq!(msg::DebugTrap::from_bytes(&raw), Some(answer));
    assert_eq!(m.read_obj::<u8>(GuestAddress(end)).expect("guard"), 0xa5);
    // A short one is refused.
    let mut short = t;
    short.hdr.size -= 8;
    put(&m, 0x3000, &short);
    assert!(read(&m, 1 << 20, Gpa(0x3000)).is_err());
}

/// A console message holding `records` (pid, fd, bytes), in order.
fn console(records: &[(u32, u16, &[u8])]) -> msg::Console {
    let mut c = msg::Console {
        hdr: Header::new(msg::KIND_CONSOLE),
        len: 0,
        broken: 0,
        _pad: [0; 2],
        bytes: [0; CONSOLE_MAX],
    };
    let mut at = 0;
    for &(pid, fd, b) in records {
        let h = msg::ConsoleRecord {
            pid,
            fd,
            len: b.len() as u16,
        };
        c.bytes[at..at + 8].copy_from_slice(&h.encode());
        c.bytes[at + 8..at + 8 + b.len()].copy_from_slice(b);
        at += 8 + b.len();
    }
    c.len = at as u32;
    c
}

#[test]
fn console_round_trip() {
    use crate::devices::event::{ConsoleChunk, Stream};
    let m = mem();
    let c = console(&[
        (4, 1, b"hi\n"),
        (0, 0, b"[kernel] x\n"),
        (4, 2, b"err"),
        (5, 1, b""),
    ]);
    put(&m, 0x1000, &c);
    let chunk = |pid, stream, b: &[u8]| ConsoleChunk {
        pid,
        stream,
        bytes: b.to_vec(),
    };
    match read(&m, 1 << 20, Gpa(0x1000)) {
        Ok(Event::Console { chunks, reply }) => {
            assert_eq!(reply, Gpa(0x1000));
            assert_eq!(
                chunks,
                vec![
                    chunk(4, Stream::Stdout, b"hi\n"),
                    chunk(0, Stream::Stdout, b"[kernel] x\n"),
                    chunk(4, Stream::Stderr, b"err"),
                    chunk(5, Stream::Stdout, b""),
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // The answer lands in `broken` and nowhere else.
    write_console_broken(&m, Gpa(0x1000), 1 << 2).expect("answer");
    let mut back = c;
    back.broken = 1 << 2;
    let mut got = vec![0u8; size_of::<msg::Console>()];
    m.read_slice(&mut got, GuestAddress(0x1000)).expect("read");
    assert_eq!(got, back.as_bytes());
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
fn stdin_reads_decode_and_answers_stay_in_the_message() {
    let m = mem();
    let mut q = msg::Stdin {
        hdr: Header::new(msg::KIND_STDIN),
        pid: 7,
        len: 100,
        bytes: [0; msg::STDIN_MAX],
    };
    put(&m, 0x1000, &q);
    let Ok(Event::StdinRead { pid, want, reply }) = read(&m, 1 << 20, Gpa(0x1000)) else {
        panic!("not a stdin read");
    };
    assert_eq!((pid, want, reply), (7, 100, Gpa(0x1000)));
    write_stdin(&m, reply, b"hello").expect("answer");
    let mut raw = vec![0u8; std::mem::size_of::<msg::Stdin>()];
    m.read_slice(&mut raw, GuestAddress(0x1000))
        .expect("read back");
    let back = msg::Stdin::from_bytes(&raw).expect("a Stdin");
    assert_eq!((back.len, &back.bytes[..5]), (5, &b"hello"[..]));
    // Past STDIN_MAX is cut to it, never written beyond the message.
    let end = 0x1000 + std::mem::size_of::<msg::Stdin>() as u64;
    m.write_obj(0xa5u8, GuestAddress(end)).expect("guard");
    write_stdin(&m, reply, &[1; msg::STDIN_MAX + 50]).expect("answer");
    let guard: u8 = m.read_obj(GuestAddress(end)).expect("guard");
    assert_eq!(guard, 0xa5);
    q.len = msg::STDIN_MAX as u32 + 1;
    put(&m, 0x1000, &q);
    assert!(matches!(
        read(&m, 1 << 20, Gpa(0x1000)),
        Err(ProtocolError::OutOfRange { field: "len", .. })
    ));
}

#[test]
fn console_lengths_and_fds_are_checked() {
    let m = mem();
    let refused = |c: &msg::Console, field: &str| {
        put(&m, 0x1000, c);
        match read(&m, 1 << 20, Gpa(0x1000)) {
            Err(ProtocolError::OutOfRange { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: unexpected {other:?}"),
        }
    };
    let mut c = console(&[(1, 1, b"ok")]);
    c.len = CONSOLE_MAX as u32 + 1;
    refused(&c, "len");
    // A record longer than what follows its header.
    let mut c = console(&[(1, 1, b"abc")]);
    c.len -= 1;
    refused(&c, "record len");
    let mut c = console(&[(1, 1, b"abc")]);
    c.bytes[6..8].copy_from_slice(&60_000u16.to_le_bytes());
    c.len = CONSOLE_MAX as u32;
    refused(&c, "record len");
    // Half a header after a good record.
    let mut c = console(&[(1, 1, b"abc")]);
    c.len += 5;
    refused(&c, "record header");
    refused(&console(&[(1, 3, b"x")]), "record fd");
    refused(&console(&[(0, 2, b"x")]), "record fd");
    refused(&console(&[(0, 1, b"x"), (0, 7, b"y")]), "record fd");
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

mod proptests {
    use super::super::*;
    use abi::msg::CONSOLE_MAX;
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
                if let Event::Console { chunks, .. } = msg {
                    let shown: usize = chunks.iter().map(|c| c.bytes.len() + msg::ConsoleRecord::SIZE).sum();
                    prop_assert!(shown <= CONSOLE_MAX);
                }
            }
        }
    }
}
