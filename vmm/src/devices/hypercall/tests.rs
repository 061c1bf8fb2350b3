//! The decoder and the replies against hostile bytes: unit tests and a
//! property test over arbitrary messages at arbitrary GPAs.

mod unit {
    use super::super::*;
    use crate::addr::{Hpa, Hva};
    use crate::pagemap::HostFrame;
    use abi::msg::WALK_MAX;

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

    #[test]
    fn console_round_trip() {
        let m = mem();
        let mut c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: 3,
            pid: 4,
            fd: 1,
            _pad: 0,
            bytes: [0; CONSOLE_MAX],
        };
        c.bytes[..3].copy_from_slice(b"hi\n");
        put(&m, 0x1000, &c);
        match read(&m, 1 << 20, Gpa(0x1000)) {
            Ok(Event::Console { pid, stream, bytes }) => assert_eq!(
                (pid, stream, &bytes[..]),
                (4, crate::devices::event::Stream::Stdout, &b"hi\n"[..])
            ),
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
    fn console_length_is_checked() {
        let m = mem();
        let c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: CONSOLE_MAX as u32 + 1,
            pid: 0,
            fd: 0,
            _pad: 0,
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
            ..Default::default()
        };
        p.faults_by_kind[msg::REGION_MMAP as usize] = 7;
        // A slot of no kind this VMM knows is left out, whatever it holds.
        p.faults_by_kind[msg::KIND_SLOTS - 1] = u64::MAX;
        put(&m, 0x1000, &p);
        match read(&m, 1 << 20, Gpa(0x1000)) {
            Ok(Event::Proc(q)) => {
                assert_eq!(q.name, "heap");
                let by_kind = &q.stats.faults_by_kind;
                assert_eq!(by_kind.get(&RegionKind::Mmap), Some(&7));
                assert_eq!(by_kind.len(), RegionKind::ALL.len());
                assert!(by_kind.values().all(|&n| n != u64::MAX));
            }
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
            ..Default::default()
        };
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, Gpa(0x1000)),
            Err(ProtocolError::BadRegion { .. })
        ));
    }

    /// Mapped files' names: attached by call to file regions only, the
    /// first entry for a call winning; the count is bounded and the path
    /// is hostile bytes (lossy UTF-8, no NUL needed, empty is no name).
    #[test]
    fn mapped_files_are_named_by_call_and_checked() {
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_EXITING,
            pid: 2,
            nregions: 4,
            nfiles: 3,
            ..Default::default()
        };
        let file = |call, start: u64| msg::Region {
            kind: msg::REGION_FILE,
            prot: msg::PROT_R,
            start,
            end: start + 0x1000,
            call,
            ..Default::default()
        };
        // Two pieces of call 7 (mprotect split it), call 8, and an mmap
        // region whose call 9 a name points at: not a file, no name.
        p.regions[0] = file(7, 0x7000_0000);
        p.regions[1] = file(7, 0x7000_1000);
        p.regions[2] = file(8, 0x7000_2000);
        p.regions[3] = msg::Region {
            kind: msg::REGION_MMAP,
            ..file(9, 0x7000_3000)
        };
        let name = |call, path: &[u8]| {
            let mut f = msg::FileName {
                call,
                ..Default::default()
            };
            f.path[..path.len()].copy_from_slice(path);
            f
        };
        p.files[0] = name(7, b"/tmp/a\xff\x1b[2J");
        p.files[1] = name(7, b"/tmp/second-name");
        p.files[2] = name(9, b"/tmp/not-a-file");
        // A full path, no NUL at all, past the count: never read.
        p.files[3] = msg::FileName {
            call: 8,
            _pad: 0,
            path: [b'z'; msg::FILE_PATH_MAX],
        };
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("a process with named files decodes");
        };
        let files: Vec<Option<&str>> = e.regions.iter().map(|r| r.file.as_deref()).collect();
        assert_eq!(
            files,
            [
                Some("/tmp/a\u{fffd}\x1b[2J"),
                Some("/tmp/a\u{fffd}\x1b[2J"),
                None,
                None
            ]
        );
        // The whole array, no NUL: 120 bytes, nothing past them.
        p.nfiles = 4;
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("four names decode");
        };
        assert_eq!(e.regions[2].file.as_deref(), Some(&*"z".repeat(120)));
        // An empty path names nothing.
        p.files[0].path = [0; msg::FILE_PATH_MAX];
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("an empty name decodes");
        };
        assert_eq!(e.regions[0].file, None);
        for bad in [msg::MAX_FILES as u32 + 1, u32::MAX] {
            p.nfiles = bad;
            assert_eq!(
                decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)),
                Err(ProtocolError::OutOfRange {
                    kind: msg::KIND_PROC,
                    field: "nfiles",
                    value: bad.into(),
                    max: msg::MAX_FILES as u64,
                })
            );
        }
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

    /// Fork and exec: the parent's pid, the image count, an exit by
    /// execve, file regions and copy-on-write faults; a process that names
    /// itself its parent is refused.
    #[test]
    fn fork_and_exec_fields_decode() {
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_EXITING,
            pid: 3,
            ppid: 2,
            execs: 1,
            exit_kind: msg::EXIT_EXEC,
            nregions: 1,
            ..Default::default()
        };
        p.regions[0] = msg::Region {
            kind: msg::REGION_FILE,
            prot: msg::PROT_R | msg::PROT_W,
            start: 0x7000_0000,
            end: 0x7000_4000,
            faults: 4,
            call: 1,
            cow_faults: 3,
        };
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("an exec exit decodes");
        };
        assert_eq!(
            (e.pid, e.ppid, e.execs, e.exit),
            (3, 2, 1, Some(Exit::Exec))
        );
        assert_eq!(e.regions[0].kind, RegionKind::File);
        assert_eq!(e.regions[0].cow_faults, 3);
        assert_eq!(RegionKind::File.to_string(), "file");
        assert_eq!("file".parse::<RegionKind>(), Ok(RegionKind::File));
        p.event = msg::PROC_CREATED;
        let Ok(Event::Proc(e)) = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)) else {
            panic!("a creation decodes");
        };
        assert_eq!(e.exit, None);
        p.exit_kind = msg::EXIT_EXEC + 1;
        assert!(matches!(
            decode(msg::KIND_PROC, p.as_bytes(), Gpa(0)),
            Err(ProtocolError::OutOfRange {
                field: "exit_kind",
                max: 4,
                ..
            })
        ));
        p.exit_kind = msg::EXIT_NONE;
        p.ppid = 3;
        let own = decode(msg::KIND_PROC, p.as_bytes(), Gpa(0));
        assert_eq!(own, Err(ProtocolError::OwnParent(3)));
        assert_eq!(
            own.err().map(|e| e.to_string()).as_deref(),
            Some("process message: pid 3 names itself its parent")
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

mod proptests {
    use super::super::*;
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
