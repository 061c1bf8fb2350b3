//! The kernel ELF target, and the reader of ELF64 program headers both
//! ELF targets check the library against: written apart from the
//! library's own parser, so that a shared mistake cannot hide.

use abi::layout::{KERNEL_BASE, RESERVED_END};
use microvmm::addr::{Gpa, Gva};
use microvmm::loader::{self};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::{ELF_RAM, PAGE, memory, read_mem, u16_at, u32_at, u64_at};

thread_local! {
    // One mapping for the whole (persistent-mode) run: an mmap per input
    // would cost more than the code under test.
    static ELF_MEM: GuestMemoryMmap = memory(ELF_RAM);
}

/// A program header, read independently of the library (the oracle).
#[derive(Debug)]
pub(crate) struct Ph {
    pub(crate) p_type: u32,
    pub(crate) offset: u64,
    pub(crate) vaddr: u64,
    pub(crate) paddr: u64,
    pub(crate) filesz: u64,
    pub(crate) memsz: u64,
}

/// e_type, e_entry and the program headers of an ELF64 the library
/// accepted; a file it accepted must have them all.
pub(crate) fn parse(data: &[u8]) -> (u16, u64, Vec<Ph>) {
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
pub(crate) fn overlap(a: u64, n: u64, b: u64, m: u64) -> bool {
    u128::from(a) < u128::from(b) + u128::from(m) && u128::from(b) < u128::from(a) + u128::from(n)
}

/// A segment's bytes in the file (none when p_filesz is 0: then its
/// offset means nothing, and the library rightly ignores it).
pub(crate) fn file_bytes<'d>(data: &'d [u8], ph: &Ph) -> &'d [u8] {
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
