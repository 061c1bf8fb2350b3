//! The `proc` message against hostile bytes: its regions, mapped files'
//! names, exits, fork and exec fields, and a name that is not UTF-8.

use super::super::*;
use super::{mem, put};

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
