//! Fuzz targets for the parts of microvmm that read what a hostile guest or
//! a hostile file controls. Each target takes AFL's bytes, runs the library
//! on them, and asserts what must hold whatever the bytes are; a failed
//! assertion or a panic anywhere is a crash for AFL. The binaries in
//! `src/bin/` are one-line `afl::fuzz!` wrappers; `seeds` writes the
//! synthetic seed corpora.
//!
//! Input layouts (all integers little-endian):
//!
//! ```text
//! elf, program: the file itself
//! message:      flags u8 | gpa u64 | ram_size u64 | guest memory from GPA 0 ..
//! paging:       flags u8 | maxphyaddr u8 | cr3 u64 | 4 x gva u64 | limit u16 | base u8 | memory ..
//! analyse:      as paging; flags bits 2.. choose the fakes' behaviour
//! terminal:     pid u8 | name length u8 | name | split u16 | console bytes
//! console:      records: writer u8 | length u8 | bytes   (lines.rs)
//! file:         size delta i8 | 8 read-chunk bytes | the file   (file.rs)
//! tree:         a --files tree image                            (tree.rs)
//! ```

use std::cell::RefCell;
use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use abi::Pod;
use abi::layout::{KERNEL_BASE, PIE_BIAS, RESERVED_END, USER_END};
use abi::msg::{self, CONSOLE_MAX, Header, MAX_REGIONS, MSG_MAX};
use microvmm::addr::{Gpa, Gva};
use microvmm::devices::console::Console;
use microvmm::devices::event::{Event, ProcEvent, ProcStats, Prot, Region, RegionKind};
use microvmm::devices::hypercall::{self, Outcome, WhereisReply};
use microvmm::kvm_probe::Flavour;
use microvmm::inspect::fake::{FakeCpu, FakeHost};
use microvmm::inspect::{self, Budget, MAX_FINDINGS, Options, PAGE_BUDGET, Peer};
use microvmm::loader::{self, program};
use microvmm::paging::{
    self, Cr3, FlatMem, LevelName, PageSize, PagingMode, PhysMem, PteFlags, TableBuilder,
};
use microvmm::terminal;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

mod file;
mod lines;
mod tree;

pub use file::file;
pub use lines::console;
pub use tree::tree;

const PAGE: u64 = 4096;

/// Guest RAM for the kernel ELF target: room for the embedded kernel.
pub const ELF_RAM: u64 = 4 << 20;
/// Guest RAM for the program target (files up to AFL's 1 MiB limit fit).
pub const PROGRAM_RAM: u64 = 8 << 20;
/// Where the program target stages programs: past a 2 MiB kernel.
pub const PROGRAM_START: u64 = 2 << 20;
/// Guest RAM for the message target: a few messages' worth.
pub const MESSAGE_RAM: u64 = 8 << 10;
/// Guest RAM for the paging target: 16 table pages.
pub const PAGING_RAM: u64 = 64 << 10;
/// Header bytes of a paging input, before the memory.
pub const PAGING_HEADER: usize = 1 + 1 + 8 + 4 * 8 + 2 + 1;
/// Entries table_pages may read in the paging target.
const TABLE_LIMIT: u64 = 4096;

fn memory(size: u64) -> GuestMemoryMmap {
    match GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)]) {
        Ok(m) => m,
        Err(e) => panic!("fuzz harness: cannot map {size} bytes of guest memory: {e}"),
    }
}

thread_local! {
    // One mapping per target for the whole (persistent-mode) run: an mmap
    // per input would cost more than the code under test.
    static ELF_MEM: GuestMemoryMmap = memory(ELF_RAM);
    static PROGRAM_MEM: GuestMemoryMmap = memory(PROGRAM_RAM);
    static MESSAGE_MEM: RefCell<Option<GuestMemoryMmap>> = const { RefCell::new(None) };
}

fn read_mem(mem: &GuestMemoryMmap, gpa: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0; len as usize];
    if let Err(e) = mem.read_slice(&mut buf, GuestAddress(gpa)) {
        panic!("read back {len} bytes at {gpa:#x}: {e}");
    }
    buf
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A program header, read independently of the library (the oracle).
#[derive(Debug)]
struct Ph {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

/// e_type, e_entry and the program headers of an ELF64 the library
/// accepted; a file it accepted must have them all.
fn parse(data: &[u8]) -> (u16, u64, Vec<Ph>) {
    let get = || {
        let e_type = u16_at(data, 16)?;
        let entry = u64_at(data, 24)?;
        let phoff = usize::try_from(u64_at(data, 32)?).ok()?;
        let phnum = usize::from(u16_at(data, 56)?);
        let phs = (0..phnum)
            .map(|i| {
                let at = phoff.checked_add(i * 56)?;
                Some(Ph {
                    p_type: u32_at(data, at)?,
                    offset: u64_at(data, at + 8)?,
                    vaddr: u64_at(data, at + 16)?,
                    paddr: u64_at(data, at + 24)?,
                    filesz: u64_at(data, at + 32)?,
                    memsz: u64_at(data, at + 40)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some((e_type, entry, phs))
    };
    match get() {
        Some(p) => p,
        None => panic!("accepted an ELF whose program headers are not in the file"),
    }
}

/// `[a, a + n)` and `[b, b + m)` share a byte.
fn overlap(a: u64, n: u64, b: u64, m: u64) -> bool {
    u128::from(a) < u128::from(b) + u128::from(m) && u128::from(b) < u128::from(a) + u128::from(n)
}

/// A segment's bytes in the file (none when p_filesz is 0: then its
/// offset means nothing, and the library rightly ignores it).
fn file_bytes<'d>(data: &'d [u8], ph: &Ph) -> &'d [u8] {
    if ph.filesz == 0 {
        return &[];
    }
    let range = usize::try_from(ph.offset)
        .ok()
        .and_then(|o| Some(o..o.checked_add(usize::try_from(ph.filesz).ok()?)?));
    match range.and_then(|r| data.get(r)) {
        Some(b) => b,
        None => panic!("accepted segment {ph:?} whose bytes are outside the file"),
    }
}

/// Target 1: a guest kernel ELF. Validation must be monotonic in RAM
/// size; whatever it accepts lies in RAM above the boot structures, mapped
/// by the boot page tables, with the entry point inside a segment; and
/// loading it succeeds with the same summary, puts each segment's file
/// bytes at its GPA and zeroes its bss, whatever the memory held.
pub fn elf(data: &[u8]) {
    let _ = loader::validate(data, 0);
    let _ = loader::validate(data, u64::MAX);
    let small = loader::validate(data, ELF_RAM / 2);
    let full = loader::validate(data, ELF_RAM);
    if let Ok(s) = &small {
        assert_eq!(
            full.as_ref().ok(),
            Some(s),
            "more RAM refused what less took"
        );
    }
    let Ok(summary) = full else { return };
    let (_, entry, phs) = parse(data);
    let loads: Vec<&Ph> = phs
        .iter()
        .filter(|p| p.p_type == 1 && p.memsz > 0)
        .collect();
    assert!(!loads.is_empty());
    assert_eq!(
        summary.segments,
        loads
            .iter()
            .map(|p| (Gpa(p.paddr), p.memsz))
            .collect::<Vec<_>>()
    );
    assert_eq!(summary.entry, Gva(entry));
    assert!(summary.end.raw().is_multiple_of(PAGE));
    for (i, p) in loads.iter().enumerate() {
        assert!(p.filesz <= p.memsz);
        assert!(p.paddr >= RESERVED_END, "segment in the boot structures");
        let end = p.paddr.checked_add(p.memsz);
        assert!(end.is_some_and(|e| e <= ELF_RAM && e <= summary.end.raw()));
        assert!(p.vaddr == p.paddr || p.vaddr == p.paddr.wrapping_add(KERNEL_BASE));
        for q in &loads[i + 1..] {
            assert!(!overlap(p.paddr, p.memsz, q.paddr, q.memsz), "overlap");
        }
    }
    assert!(
        loads.iter().any(|p| entry.wrapping_sub(p.vaddr) < p.memsz),
        "entry outside every segment"
    );
    if let Some(pvh) = summary.pvh_entry {
        assert!(
            loads
                .iter()
                .any(|p| pvh.raw().wrapping_sub(p.paddr) < p.memsz)
        );
    }
    ELF_MEM.with(|mem| {
        // Fill the segments first, so a bss left unzeroed shows.
        for p in &loads {
            let junk = vec![0xa5; p.memsz as usize];
            assert!(mem.write_slice(&junk, GuestAddress(p.paddr)).is_ok());
        }
        match loader::load(mem, data, ELF_RAM) {
            Ok(s) => assert_eq!(s, summary),
            Err(e) => panic!("validate accepted what load refused: {e}"),
        }
        for p in &loads {
            assert_eq!(read_mem(mem, p.paddr, p.filesz), file_bytes(data, p));
            let bss = read_mem(mem, p.paddr + p.filesz, p.memsz - p.filesz);
            assert!(bss.iter().all(|&b| b == 0), "bss not zeroed");
        }
    });
}

/// Target 2: a `--run` program. Whatever check accepts is an ET_EXEC or
/// ET_DYN without an interpreter whose loadable segments are in the file,
/// in the user half after the load bias, pairwise disjoint, with the entry
/// inside one, and `memory` is their whole pages; staging puts file and
/// argv on their own pages inside RAM with room left for the segments, and
/// placing them copies exactly those bytes.
pub fn program(data: &[u8]) {
    let argv = vec!["prog".to_string(), "an arg".to_string()];
    if !data.is_empty() {
        let r = program::check_bytes(data.to_vec(), &argv, data.len() as u64 - 1);
        assert!(matches!(r, Err(program::ProgramError::TooLarge { .. })));
    }
    let Ok(checked) = program::check_bytes(data.to_vec(), &argv, PROGRAM_RAM) else {
        return;
    };
    let (e_type, entry, phs) = parse(data);
    assert!(e_type == 2 || e_type == 3, "e_type {e_type}");
    assert!(phs.iter().all(|p| p.p_type != 3), "accepted an interpreter");
    let bias = if e_type == 3 { PIE_BIAS } else { 0 };
    let loads: Vec<&Ph> = phs.iter().filter(|p| p.p_type == 1).collect();
    let mut pages = 0u64;
    for p in &loads {
        assert!(p.filesz <= p.memsz);
        file_bytes(data, p);
    }
    let loads: Vec<&Ph> = loads.into_iter().filter(|p| p.memsz > 0).collect();
    for (i, p) in loads.iter().enumerate() {
        let start = u128::from(p.vaddr) + u128::from(bias);
        let end = start + u128::from(p.memsz);
        assert!(end <= u128::from(USER_END), "segment past the user half");
        let first = (start as u64) & !(PAGE - 1);
        pages += (end as u64).next_multiple_of(PAGE) - first;
        for q in &loads[i + 1..] {
            assert!(!overlap(p.vaddr, p.memsz, q.vaddr, q.memsz), "overlap");
        }
    }
    assert_eq!(checked.memory, pages);
    let entry = entry.wrapping_add(bias);
    assert!(
        loads
            .iter()
            .any(|p| entry.wrapping_sub(p.vaddr + bias) < p.memsz)
    );
    assert_eq!(checked.args, b"prog\0an arg\0");
    assert_eq!(checked.argc, 2);
    let staged = match program::plan(
        Gpa(PROGRAM_START),
        std::slice::from_ref(&checked),
        PROGRAM_RAM,
    ) {
        Ok((modules, free)) => program::Staged {
            programs: vec![checked],
            modules,
            free,
        },
        Err((i, e)) => {
            assert_eq!(i, 0);
            assert!(matches!(e, program::ProgramError::NoRoom { .. }), "{e}");
            return;
        }
    };
    let [m] = staged.modules.as_slice() else {
        panic!("one program, {} modules", staged.modules.len())
    };
    let (size, args_len) = (data.len() as u64, 12u64);
    assert!(m.gpa >= PROGRAM_START && m.gpa.is_multiple_of(PAGE));
    assert_eq!(m.size, size);
    assert!(m.args_gpa >= m.gpa + size && m.args_gpa.is_multiple_of(PAGE));
    assert_eq!((m.args_len, m.argc), (args_len as u32, 2));
    let free = staged.free.raw();
    assert!(free >= m.args_gpa + args_len && free.is_multiple_of(PAGE));
    assert!(free + pages <= PROGRAM_RAM, "no room left for the segments");
    PROGRAM_MEM.with(|mem| {
        assert!(program::place(mem, &staged).is_ok());
        assert_eq!(read_mem(mem, m.gpa, size), data);
        assert_eq!(read_mem(mem, m.args_gpa, args_len), b"prog\0an arg\0");
    });
}

/// Target 3: a message at any GPA, in any RAM size. An accepted message
/// is aligned, lies in RAM, carries its kind's size, decodes the same from
/// its bytes, and keeps every count in range; writing the result or the
/// answer changes no byte outside the message.
pub fn message(data: &[u8]) {
    let (Some(&flags), Some(raw_gpa), Some(raw_ram)) =
        (data.first(), u64_at(data, 1), u64_at(data, 9))
    else {
        return;
    };
    let gpa = if flags & 1 == 0 {
        raw_gpa % (MESSAGE_RAM + 0x100)
    } else {
        raw_gpa
    };
    let ram = match flags & 6 {
        0 => MESSAGE_RAM,
        2 => raw_ram % (2 * MESSAGE_RAM),
        _ => raw_ram,
    };
    let contents = data.get(17..).unwrap_or_default();
    // The decoder alone on any bytes of any kind.
    let _ = hypercall::decode(raw_ram as u32, contents, Gpa(raw_gpa));
    MESSAGE_MEM.with(|cell| {
        let mut cell = cell.borrow_mut();
        let mem = cell.get_or_insert_with(|| memory(MESSAGE_RAM));
        let mut image = vec![0u8; MESSAGE_RAM as usize];
        let n = contents.len().min(image.len());
        image[..n].copy_from_slice(&contents[..n]);
        assert!(mem.write_slice(&image, GuestAddress(0)).is_ok());
        let result = hypercall::read(mem, ram, Gpa(gpa));
        if let Ok(event) = &result {
            accepted(mem, ram, gpa, event, &image);
        }
        // Whatever read said, the result goes only into the header.
        for outcome in [Outcome::Ok, Outcome::Invalid, Outcome::Failed] {
            hypercall::write_result(mem, ram, Gpa(gpa), outcome);
        }
        let after = read_mem(mem, 0, MESSAGE_RAM);
        changed_only_within(&image, &after, gpa, gpa.saturating_add(16));
        if !(gpa.is_multiple_of(8) && gpa.saturating_add(16) <= ram) {
            assert!(after == image, "a result written for a message outside RAM");
        }
    });
}

/// The checks on a message `read` accepted at `gpa` from `image`.
fn accepted(mem: &GuestMemoryMmap, ram: u64, gpa: u64, event: &Event, image: &[u8]) {
    assert!(gpa.is_multiple_of(8));
    let at = gpa as usize;
    let header = image.get(at..at + 16).and_then(Header::from_bytes);
    let Some(header) = header else {
        panic!("accepted a header outside memory at {gpa:#x}")
    };
    let want = msg::size_of_kind(header.kind);
    assert!(want != 0 && want == header.size && want <= MSG_MAX);
    let end = gpa + u64::from(want);
    assert!(end <= ram && end <= MESSAGE_RAM, "message past RAM");
    let body = &image[at..end as usize];
    assert_eq!(
        hypercall::decode(header.kind, body, Gpa(gpa)).as_ref(),
        Ok(event)
    );
    match event {
        Event::Boot(_) => assert_eq!(header.kind, msg::KIND_BOOT),
        Event::Mark { .. } => assert_eq!(header.kind, msg::KIND_MARK),
        Event::Console { bytes, .. } => {
            assert_eq!(header.kind, msg::KIND_CONSOLE);
            assert!(bytes.len() <= CONSOLE_MAX);
        }
        Event::Proc(p) => {
            assert_eq!(header.kind, msg::KIND_PROC);
            assert!(p.regions.len() <= MAX_REGIONS);
            for r in &p.regions {
                let (s, e) = (r.span.start.raw(), r.span.end.raw());
                assert!(s < e && s.is_multiple_of(PAGE) && e.is_multiple_of(PAGE) && e <= 1 << 47);
                // A name only on a file mapping, never longer than the
                // message's field (lossy UTF-8 at most triples it).
                assert!(r.file.is_none() || r.kind == RegionKind::File);
                let len = r.file.as_ref().map_or(1, String::len);
                assert!(len > 0 && len <= 3 * msg::FILE_PATH_MAX);
            }
        }
        Event::Threads(t) => {
            assert_eq!(header.kind, msg::KIND_THREADS);
            assert!(t.threads.len() <= msg::MAX_THREADS);
            for th in &t.threads {
                assert!(
                    th.stack
                        .as_ref()
                        .is_none_or(|r| r.start < r.end && r.end.raw() <= 1 << 47)
                );
            }
        }
        Event::Whereis(w) => {
            assert_eq!(header.kind, msg::KIND_WHEREIS);
            let size = size_of::<msg::WhereisAnswer>() as u64;
            assert!(w.reply.raw() >= gpa + 16 && w.reply.raw() + size <= end);
            let answer = hypercall::encode_answer(w.gva, &WhereisReply::NotMapped);
            assert!(hypercall::write_answer(mem, w.reply, &answer).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
        Event::DebugTrap { msg: m, at } => {
            assert_eq!(header.kind, msg::KIND_DEBUG_TRAP);
            assert_eq!(at.raw(), gpa);
            // The registers a debugger writes back stay inside the message.
            assert!(hypercall::write_debug_trap(mem, *at, m).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
        Event::StdinRead { want, reply, .. } => {
            assert_eq!(header.kind, msg::KIND_STDIN);
            assert!(*want <= msg::STDIN_MAX);
            assert_eq!(reply.raw(), gpa);
            // The answer stays inside the message, however much is given.
            let full = vec![0x41; msg::STDIN_MAX + 10];
            assert!(hypercall::write_stdin(mem, *reply, &full).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
    }
}

/// `before` and `after` differ only in bytes [lo, hi).
fn changed_only_within(before: &[u8], after: &[u8], lo: u64, hi: u64) {
    if before == after {
        return;
    }
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        let i = i as u64;
        assert!(
            a == b || (lo <= i && i < hi),
            "byte {i:#x} changed outside [{lo:#x}, {hi:#x})"
        );
    }
}

/// The paging input's fields.
struct PagingInput {
    mode: PagingMode,
    cr3: u64,
    gvas: [u64; 4],
    limit: u64,
    mem: FlatMem,
}

fn paging_input(data: &[u8]) -> Option<PagingInput> {
    let flags = *data.first()?;
    let maxphyaddr = *data.get(1)?;
    let cr3 = u64_at(data, 2)?;
    let gvas = [
        u64_at(data, 10)?,
        u64_at(data, 18)?,
        u64_at(data, 26)?,
        u64_at(data, 34)?,
    ];
    let limit = u64::from(u16_at(data, 42)?);
    let base = u64::from(*data.get(44)? & 15) * PAGE;
    let mut mem = FlatMem::new(Gpa(base), PAGING_RAM);
    let words = data.get(PAGING_HEADER..).unwrap_or_default().chunks(8);
    for (i, w) in words.take((PAGING_RAM / 8) as usize).enumerate() {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        mem.write_u64(Gpa(base + 8 * i as u64), u64::from_le_bytes(word))?;
    }
    let mode = PagingMode {
        la57: flags & 1 != 0,
        nxe: flags & 2 != 0,
        maxphyaddr,
    };
    Some(PagingInput {
        mode,
        cr3,
        gvas,
        limit,
        mem,
    })
}

/// The levels a walk reads to reach a page of `size`.
fn levels_for(mode: PagingMode, size: PageSize) -> usize {
    mode.levels() as usize
        - match size {
            PageSize::Size4K => 0,
            PageSize::Size2M => 1,
            PageSize::Size1G => 2,
        }
}

/// Target 4: page tables in any memory, from any CR3, 4- or 5-level, any
/// MAXPHYADDR. A translation is built only from entries it read in RAM,
/// chained table to table from CR3, and its GPA is its leaf's frame plus
/// the offset; every page the enumerator lists walks to the same page and
/// flags; runs cover exactly those pages; table listing stays in its limit
/// and holds the tables successful walks went through.
pub fn paging(data: &[u8]) {
    let Some(input) = paging_input(data) else {
        return;
    };
    let PagingInput {
        mode,
        cr3,
        gvas,
        limit,
        mem,
    } = input;
    let tables = paging::table_pages(&mem, cr3, mode, TABLE_LIMIT);
    assert!(tables.len() as u64 <= TABLE_LIMIT + 1);
    assert_eq!(tables.first(), Some(&Gpa(mode.root_table(cr3))));
    for t in tables.iter().skip(1) {
        assert!(t.raw().is_multiple_of(PAGE) && mem.read_u64(*t).is_some());
    }
    let mut unique = tables.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), tables.len(), "a table page listed twice");
    let half = paging::table_pages(&mem, cr3, mode, TABLE_LIMIT / 2);
    assert!(
        tables.starts_with(&half),
        "a larger limit changed the start"
    );
    for gva in gvas {
        if let Ok(t) = paging::walk(&mem, cr3, mode, Gva(gva)) {
            translation(&mem, cr3, mode, &t);
            if let Some(second) = t.levels().get(1) {
                assert!(tables.contains(&second.table_gpa), "table missing");
            }
        }
    }
    let range: Range<Gva> = if gvas[0] < gvas[1] {
        Gva(gvas[0])..Gva(gvas[1])
    } else {
        Gva(0)..Gva(u64::MAX)
    };
    let mut items = 0u64;
    let mut pages = Vec::new();
    for item in paging::mapped_pages(&mem, cr3, mode, range, limit) {
        items += 1;
        assert!(items <= limit + 1, "more results than entries read");
        if let Ok(p) = item {
            pages.push(p);
        }
    }
    for pair in pages.windows(2) {
        let [a, b] = pair else { continue };
        let a_end = (a.gva.raw() as u128) + u128::from(a.page_size.bytes());
        assert!(
            a_end <= u128::from(b.gva.raw()),
            "pages out of order or overlapping"
        );
    }
    for p in &pages {
        assert!(p.gva.raw().is_multiple_of(p.page_size.bytes()));
        match paging::walk(&mem, cr3, mode, p.gva) {
            Ok(t) => {
                assert_eq!((t.gpa, t.page_size, t.flags), (p.gpa, p.page_size, p.flags));
            }
            Err(e) => panic!("enumerated {p:?} but the walk says {e}"),
        }
    }
    let runs = paging::coalesce(pages.iter().copied());
    let max = usize::from(data.get(44).copied().unwrap_or_default() >> 4);
    let (some, total) = paging::coalesce_at_most(pages.iter().copied(), max);
    assert_eq!(total, runs.len());
    assert_eq!(some[..], runs[..max.min(runs.len())]);
    assert_eq!(
        runs.iter().map(|r| r.pages).sum::<u64>(),
        pages.len() as u64
    );
    for r in &runs {
        assert_eq!(r.len, r.pages * r.page_size.bytes());
    }
    for pair in runs.windows(2) {
        let [a, b] = pair else { continue };
        let joins = a.page_size == b.page_size
            && a.flags == b.flags
            && a.gva.raw().checked_add(a.len) == Some(b.gva.raw())
            && a.gpa.raw().checked_add(a.len) == Some(b.gpa.raw());
        assert!(!joins, "two runs that are one");
    }
}

/// The checks on one successful walk.
fn translation(mem: &FlatMem, cr3: u64, mode: PagingMode, t: &paging::Translation) {
    let levels = t.levels();
    assert_eq!(levels.len(), levels_for(mode, t.page_size));
    let mut table = mode.root_table(cr3);
    let (mut all, mut any) = (u64::MAX, 0u64);
    for (i, l) in levels.iter().enumerate() {
        assert_eq!(l.table_gpa, Gpa(table));
        assert_eq!(u64::from(l.index), (t.gva.raw() >> l.level.shift()) & 511);
        assert_eq!(l.entry_gpa, Gpa(table + 8 * u64::from(l.index)));
        assert_eq!(
            mem.read_u64(l.entry_gpa),
            Some(l.entry),
            "an entry not in RAM"
        );
        assert!(l.entry & 1 == 1, "a non-present entry");
        if i == 0 {
            assert_eq!(l.level, mode.root());
        }
        table = l.entry & 0x000f_ffff_ffff_f000;
        all &= l.entry;
        any |= l.entry;
    }
    let Some(leaf) = levels.last() else {
        panic!("a translation with no levels")
    };
    assert_eq!(leaf.entry, t.entry);
    assert_eq!(leaf.level, t.page_size.level());
    assert_eq!(t.page_gpa(), Gpa(t.entry & t.page_size.addr_mask()));
    let offset = t.gva.raw() & (t.page_size.bytes() - 1);
    assert_eq!(t.gpa, Gpa(t.page_gpa().raw() | offset));
    assert_eq!(t.flags.contains(PteFlags::RW), all & 2 != 0);
    assert_eq!(t.flags.contains(PteFlags::US), all & 4 != 0);
    assert_eq!(t.flags.contains(PteFlags::NX), mode.nxe && any >> 63 != 0);
    assert!(!t.flags.contains(PteFlags::PS));
    assert!(mode.is_canonical(t.gva.raw()));
    assert!(matches!(
        leaf.level,
        LevelName::Pt | LevelName::Pd | LevelName::Pdpt
    ));
}

/// Target 5: the whole analysis of one exiting process (inspect::analyse)
/// over the paging input, with a fake vCPU and host. It stays within its
/// budgets: the run-wide page budget only shrinks, by at least what it
/// listed; findings, runs and counts are capped.
pub fn analyse(data: &[u8]) {
    let Some(input) = paging_input(data) else {
        return;
    };
    let flags = data.first().copied().unwrap_or_default();
    let g = input.gvas.map(|v| v & !(PAGE - 1));
    let kinds = [
        RegionKind::Code,
        RegionKind::Heap,
        RegionKind::Stack,
        RegionKind::Mmap,
    ];
    let regions = [(g[0], g[1]), (g[2], g[3]), (g[1], g[3])]
        .into_iter()
        .zip(kinds)
        .filter(|((s, e), _)| s < e)
        .map(|((s, e), kind)| Region {
            kind,
            span: Gva(s)..Gva(e),
            prot: Prot {
                read: true,
                write: kind != RegionKind::Code,
                exec: kind == RegionKind::Code,
            },
            faults: 0,
            cow_faults: 0,
            file: None,
        })
        .collect::<Vec<_>>();
    let p = ProcEvent {
        pid: 1,
        name: "fuzz".into(),
        ppid: 0,
        execs: 0,
        cr3: Cr3(input.cr3),
        user_pgd: None,
        regions,
        stats: ProcStats::default(),
        pattern: None,
        fs_base: 0,
        module: None,
        unknown_syscalls: Default::default(),
        exit: None,
    };
    let cr3 = Cr3(if flags & 8 == 0 {
        input.cr3
    } else {
        !input.cr3
    });
    let mut cpu = FakeCpu::new(&input.mem, (flags & 4 == 0).then_some(input.mode), cr3);
    cpu.lie = (flags & 16 != 0).then_some(Gva(input.gvas[2]));
    let o = Options {
        all_pages: flags & 32 != 0,
        max_checked: input.limit,
        flavour: Flavour::SvmNpt,
        walk: Some(Gva(input.gvas[3])),
        frames: flags & 64 != 0,
        tables: flags & 1 != 0,
        host_levels: 4,
        deadline: None,
    };
    let before = if flags & 128 == 0 {
        Budget {
            pages: PAGE_BUDGET,
            runs: 1 << 16,
            share: inspect::SHARE_BUDGET,
        }
    } else {
        Budget {
            pages: input.limit,
            runs: usize::from(data.get(44).copied().unwrap_or_default() >> 4),
            share: input.limit,
        }
    };
    // Two other live processes: one on tables the input chooses, one on
    // the same tables as the exiting process.
    let peers = [
        Peer {
            pid: 2,
            name: "peer".into(),
            cr3: Cr3(input.gvas[1]),
        },
        Peer {
            pid: 3,
            name: "thread".into(),
            cr3: Cr3(input.cr3),
        },
    ];
    let mut budget = before;
    let a = inspect::analyse(
        &cpu,
        &input.mem,
        &FakeHost(&input.mem),
        &p,
        &peers,
        &o,
        &mut budget,
    );
    assert!(budget.pages <= before.pages && budget.runs <= before.runs);
    assert!(budget.share <= before.share);
    let spent = before.pages - budget.pages;
    let recorded: usize = a
        .page_tables
        .as_ref()
        .map_or(0, |t| t.tables.iter().map(|x| x.page.entries.len()).sum());
    let listed = a.pages.len() + a.frames.len() + a.tables.len() + recorded;
    assert_eq!(listed as u64, spent, "pages listed and pages spent differ");
    let shared_runs = a.sharing.as_ref().map_or(0, |s| s.frames.len());
    assert_eq!(
        a.ranges.len() + shared_runs,
        before.runs - budget.runs,
        "runs spent"
    );
    assert!(a.pages_checked <= a.pages_total);
    assert!(a.pages_total <= 1 << 20);
    assert!(a.ranges.len() <= 4096);
    assert!(
        a.findings.len() <= MAX_FINDINGS + 4,
        "{} findings",
        a.findings.len()
    );
    if cpu.mode.is_some() {
        assert_eq!(a.regions.len(), p.regions.len());
    } else {
        assert_eq!(a.findings, [inspect::Finding::NotPagingMode]);
    }
    let mut seen = 0u64;
    for r in &a.regions {
        seen += r.pages_mapped;
        // Shared pages are some of the mapped ones, or unknown.
        assert!(r.shared_pages.is_none_or(|n| n <= r.pages_mapped));
    }
    assert!(seen <= a.pages_total);
    if let Some(s) = &a.sharing {
        assert_eq!(s.shared_pages.is_some(), s.stop.is_none());
        assert!(s.shared_pages.is_none_or(|n| n <= a.pages_total));
        assert!(s.with.iter().all(|w| w.pages <= a.pages_total));
        assert!(s.frames.len() as u64 <= s.frames_total && s.frames.len() <= 4096);
        assert!(
            a.regions
                .iter()
                .all(|r| r.shared_pages.is_some() == s.stop.is_none())
        );
        // The peer on the same tables maps every page, when it was reached.
        if let Some(t) = s.with.iter().find(|w| w.pid == 3) {
            assert_eq!(t.pages, a.pages_total);
            assert_eq!(s.shared_pages.unwrap_or(a.pages_total), a.pages_total);
        }
    }
}

/// A writer the target can look into afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `text` could reach a terminal as is: UTF-8 with no control
/// character (C0 or C1) but newline and tab, and no character that
/// reorders or breaks the line it is shown in (bidi controls, U+2028/9).
fn harmless(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|t| {
        t.chars()
            .all(|c| c == '\n' || c == '\t' || !(c.is_control() || terminal::reorders(c)))
    })
}

/// Target 6: what reaches the terminal from the guest. Escaped text is
/// UTF-8 with no control character but newline and tab, and text that
/// needed no escaping is unchanged; the console device (kernel text and a
/// process's writes with its guest-chosen name) emits only such text and
/// counts every byte.
pub fn terminal(data: &[u8]) {
    let escaped = terminal::escape_bytes(data);
    assert!(harmless(&escaped), "escape_bytes let a control through");
    if harmless(data) {
        assert_eq!(&*escaped, data);
    }
    let lossy = String::from_utf8_lossy(data);
    let text = terminal::escape_text(&lossy);
    assert!(
        harmless(text.as_bytes()),
        "escape_text let a control through"
    );
    let (Some(&pid), Some(&n)) = (data.first(), data.get(1)) else {
        return;
    };
    let name_end = (2 + usize::from(n)).min(data.len());
    let name = String::from_utf8_lossy(&data[2..name_end]);
    let rest = &data[name_end..];
    let split = u16_at(rest, 0).map_or(0, usize::from).min(rest.len());
    let (kernel, process) = rest.split_at(split);
    let out = Shared::default();
    {
        let mut console = Console::new(Box::new(out.clone()), false);
        console.write(kernel);
        console.write_process(u32::from(pid), &name, process);
        console.write_process(u32::from(pid) + 1, &name, process);
        assert_eq!(console.bytes, (kernel.len() + 2 * process.len()) as u64);
    }
    let Ok(shown) = out.0.lock() else {
        panic!("console output lock poisoned")
    };
    assert!(harmless(&shown), "the console let a control through");
}

/// The synthetic seeds: one valid message of each kind (at GPA 0 and at
/// an odd place), and small table trees in 4- and 5-level mode.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
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
        len: 6,
        pid: 1,
        fd: 1,
        _pad: 0,
        bytes: [0; CONSOLE_MAX],
    };
    console.bytes[..6].copy_from_slice(b"hello\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every synthetic seed passes its target, and the seeds exercise the
    /// accepting paths (a message of each kind decodes, tables translate).
    #[test]
    fn seeds_pass_their_targets() {
        for (target, name, bytes) in seeds() {
            match target {
                "message" => {
                    message(&bytes);
                    let mem = memory(MESSAGE_RAM);
                    let gpa = u64_at(&bytes, 1).unwrap_or_default();
                    assert!(mem.write_slice(&bytes[17..], GuestAddress(0)).is_ok());
                    let r = hypercall::read(&mem, MESSAGE_RAM, Gpa(gpa));
                    assert!(r.is_ok(), "{name}: {r:?}");
                }
                "paging" => {
                    paging(&bytes);
                    let input = paging_input(&bytes).expect("paging seed parses");
                    for gva in input.gvas {
                        let r = paging::walk(&input.mem, input.cr3, input.mode, Gva(gva));
                        assert!(r.is_ok(), "{name} {gva:#x}: {r:?}");
                    }
                }
                "analyse" => analyse(&bytes),
                "terminal" => terminal(&bytes),
                "console" => console(&bytes),
                "file" => file(&bytes),
                "tree" => {
                    tree(&bytes);
                    let t = abi::tree::Tree::parse(&bytes).expect("tree seed parses");
                    assert!(t.entries().all(|e| e.is_ok()), "{name}: the seed is valid");
                }
                other => panic!("seed for unknown target {other}"),
            }
        }
    }

    /// Inputs that once failed a target (`fuzz/regressions/TARGET/*`).
    #[test]
    fn past_findings_pass() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 9] = [
            ("elf", elf),
            ("program", program),
            ("message", message),
            ("paging", paging),
            ("analyse", analyse),
            ("terminal", terminal),
            ("console", console),
            ("file", file),
            ("tree", tree),
        ];
        for (name, target) in targets {
            let Ok(files) = std::fs::read_dir(dir.join(name)) else {
                continue;
            };
            for f in files.flatten() {
                target(&std::fs::read(f.path()).expect("read a regression input"));
            }
        }
    }

    #[test]
    fn garbage_and_edges_pass_every_target() {
        let inputs: [&[u8]; 4] = [b"", b"\x7fELF", &[0xff; 64], &[0; 200]];
        for data in inputs {
            elf(data);
            program(data);
            message(data);
            paging(data);
            analyse(data);
            terminal(data);
            console(data);
            file(data);
            tree(data);
        }
    }

    #[test]
    fn the_embedded_guest_passes_the_elf_target() {
        if !microvmm::EMBEDDED_GUEST.is_empty() {
            assert!(loader::validate(microvmm::EMBEDDED_GUEST, ELF_RAM).is_ok());
            elf(microvmm::EMBEDDED_GUEST);
        }
    }
}
