//! The synthetic seed corpora: one valid message of each kind, small
//! table trees in 4- and 5-level mode, and a few console, file and tree
//! inputs.

use abi::Pod;
use abi::msg::{self, CONSOLE_MAX, Header};
use microvmm::addr::{Gpa, Gva};
use microvmm::paging::{FlatMem, PageSize, PagingMode, PhysMem, PteFlags, TableBuilder};

use crate::{MESSAGE_RAM, PAGING_RAM, tree};

/// A seed: its target, its file name, its bytes.
type Seed = (&'static str, String, Vec<u8>);

/// The synthetic seeds: one valid message of each kind (at GPA 0 and at
/// an odd place), small table trees in 4- and 5-level mode (for the
/// paging and the analysis targets), console text, files and a tree.
pub fn seeds() -> Vec<Seed> {
    let mut out = messages();
    out.extend(tables());
    out.extend(text_and_files());
    out
}

/// A valid message of each kind, at GPA 0 and at GPA 8.
fn messages() -> Vec<Seed> {
    let mut out = Vec::new();
    let message = |flags: u8, gpa: u64, body: &[u8]| {
        let mut v = vec![flags];
        v.extend_from_slice(&gpa.to_le_bytes());
        v.extend_from_slice(&MESSAGE_RAM.to_le_bytes());
        v.resize(17 + gpa as usize, 0);
        v.extend_from_slice(body);
        v
    };
    let mut boot = msg::Boot {
        hdr: Header::new(msg::KIND_BOOT),
        ..Default::default()
    };
    boot.mode = msg::MODE_X86;
    boot.sched = msg::SCHED_TIMER;
    let mut console = msg::Console {
        hdr: Header::new(msg::KIND_CONSOLE),
        len: 14,
        broken: 0,
        _pad: [0; 2],
        bytes: [0; CONSOLE_MAX],
    };
    let record = msg::ConsoleRecord {
        pid: 1,
        fd: 1,
        len: 6,
    };
    console.bytes[..8].copy_from_slice(&record.encode());
    console.bytes[8..14].copy_from_slice(b"hello\n");
    let proc = exiting();
    let whereis = msg::Whereis {
        hdr: Header::new(msg::KIND_WHEREIS),
        pid: 1,
        cr3: 0x1000,
        gva: 0x40_0000,
        ..Default::default()
    };
    let mark = msg::Mark {
        hdr: Header::new(msg::KIND_MARK),
        id: 3,
        tsc: 12345,
        ..Default::default()
    };
    let trap = msg::DebugTrap {
        hdr: Header::new(msg::KIND_DEBUG_TRAP),
        pid: 1,
        vector: msg::TRAP_BREAKPOINT,
        rip: 0x40_1001,
        rflags: 0x246,
        ..Default::default()
    };
    let bodies: [(&str, &[u8]); 6] = [
        ("boot", boot.as_bytes()),
        ("console", console.as_bytes()),
        ("proc", proc.as_bytes()),
        ("whereis", whereis.as_bytes()),
        ("mark", mark.as_bytes()),
        ("debugtrap", trap.as_bytes()),
    ];
    for (name, body) in bodies {
        out.push(("message", name.to_string(), message(0, 0, body)));
        out.push(("message", format!("{name}-at-8"), message(0, 8, body)));
    }
    out
}

/// A process exiting on a fault: code, stack and a file mapping whose
/// path holds a non-UTF-8 byte and an escape.
fn exiting() -> msg::Proc {
    let mut proc = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        event: msg::PROC_EXITING,
        exit_kind: msg::EXIT_FAULT,
        nregions: 3,
        nfiles: 1,
        ..Default::default()
    };
    proc.regions[0] = msg::Region {
        kind: msg::REGION_CODE,
        prot: msg::PROT_R | msg::PROT_X,
        start: 0x40_0000,
        end: 0x40_2000,
        ..Default::default()
    };
    proc.regions[1] = msg::Region {
        kind: msg::REGION_STACK,
        prot: msg::PROT_R | msg::PROT_W,
        start: 0x7fff_ffff_0000,
        end: 0x7fff_ffff_f000,
        ..Default::default()
    };
    proc.regions[2] = msg::Region {
        kind: msg::REGION_FILE,
        prot: msg::PROT_R,
        start: 0x7fff_0000_0000,
        end: 0x7fff_0000_1000,
        call: 5,
        ..Default::default()
    };
    proc.files[0].call = 5;
    proc.files[0].path[..9].copy_from_slice(b"/tmp/m\xff\x1b[");
    proc.name[..4].copy_from_slice(b"heap");
    proc
}

/// Table trees in 4- and 5-level mode and with a 36-bit MAXPHYADDR and no
/// NX, each for the paging and the analysis target.
fn tables() -> Vec<Seed> {
    let mut out = Vec::new();
    for (name, mode) in [
        ("4level", PagingMode::four_level()),
        ("5level", PagingMode::five_level()),
    ] {
        if let Some(seed) = table_seed(mode) {
            out.push(("paging", name.to_string(), seed));
        }
    }
    let mut narrow = PagingMode::four_level();
    narrow.maxphyaddr = 36;
    narrow.nxe = false;
    if let Some(seed) = table_seed(narrow) {
        out.push(("paging", "4level-36bit-nonx".to_string(), seed));
    }
    let analyse: Vec<_> = out
        .iter()
        .filter(|(t, _, _)| *t == "paging")
        .map(|(_, name, bytes)| ("analyse", name.clone(), bytes.clone()))
        .collect();
    out.extend(analyse);
    out
}

/// Console text with escapes, interleaved console writers, a file read in
/// chunks (and one that shrank), a small tree image.
fn text_and_files() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut console = vec![7u8, 4];
    console.extend_from_slice(b"heap");
    console.extend_from_slice(&10u16.to_le_bytes());
    console.extend_from_slice(
        "booted\r\n\x1b[31mred\x1b[0m grüße\n\x1b]0;title\x07 \u{9b}".as_bytes(),
    );
    out.push(("terminal", "console".to_string(), console));
    // Two processes and the kernel, one mid-line when another writes.
    let mut lines = Vec::new();
    for (who, bytes) in [
        (1u8, &b"x"[..]),
        (2, b"hello\n"),
        (1, b"microvmm: pid 3 was killed\n\n\n"),
        (0, b"[kernel] half"),
        (3, b"\x1b[2J\n"),
        (0, b" line\n"),
    ] {
        lines.extend_from_slice(&[who, bytes.len() as u8]);
        lines.extend_from_slice(bytes);
    }
    out.push(("console", "interleaved".to_string(), lines));
    let mut f = vec![0u8, 3, 0, 64, 255, 1, 7, 200, 9];
    f.extend_from_slice(b"\x7fELF\x02\x01\x01 a small file");
    out.push(("file", "chunks".to_string(), f.clone()));
    f[0] = 0xff; // one byte shorter than checked: it shrank
    f[5] = 100;
    out.push(("file", "shrank".to_string(), f));
    out.push(("tree", "small".to_string(), tree::seed()));
    out
}

/// A tree of tables in `mode`: code and heap 4K pages, a 2M page and a 1G
/// page, one shared frame (an alias), and the paging input that holds it.
fn table_seed(mode: PagingMode) -> Option<Vec<u8>> {
    let mem = FlatMem::new(Gpa(0), PAGING_RAM);
    let mut b = TableBuilder::new(mem, mode, Gpa(0x1000)..Gpa(0xc000)).ok()?;
    let rw = PteFlags::RW.union(PteFlags::US);
    let maps = [
        (0x40_0000, 0xc000, PageSize::Size4K, PteFlags::US),
        (0x40_1000, 0xd000, PageSize::Size4K, rw),
        (0x40_2000, 0xd000, PageSize::Size4K, rw.union(PteFlags::NX)),
        (0x60_0000, 0x20_0000, PageSize::Size2M, rw),
        (0x40_0000_0000, 0x4000_0000, PageSize::Size1G, PteFlags::G),
        (0x7fff_ffff_f000, 0xe000, PageSize::Size4K, rw),
    ];
    for (gva, gpa, size, flags) in maps {
        let flags = if mode.nxe {
            flags
        } else {
            flags.without(PteFlags::NX)
        };
        b.map(Gva(gva), Gpa(gpa), size, flags).ok()?;
    }
    let flags = u8::from(mode.la57) | u8::from(mode.nxe) << 1;
    let mut v = vec![flags, mode.maxphyaddr];
    v.extend_from_slice(&b.cr3().to_le_bytes());
    for gva in [0x40_1234u64, 0x60_0000, 0x40_0000_0040, 0x7fff_ffff_fff8] {
        v.extend_from_slice(&gva.to_le_bytes());
    }
    v.extend_from_slice(&4096u16.to_le_bytes());
    v.push(0);
    let end = b.tables_used().end.raw();
    for gpa in (0..end).step_by(8) {
        v.extend_from_slice(&b.mem().read_u64(Gpa(gpa))?.to_le_bytes());
    }
    Some(v)
}
