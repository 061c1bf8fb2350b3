//! The `--run` program target: what `loader::program` accepts, stages and
//! places, checked against the independent ELF reader of `elf.rs`.

use abi::layout::{PIE_BIAS, USER_END};
use microvmm::addr::Gpa;
use microvmm::loader::program;
use vm_memory::GuestMemoryMmap;

use crate::elf::{Ph, file_bytes, overlap, parse};
use crate::{PAGE, PROGRAM_RAM, PROGRAM_START, memory, read_mem};

thread_local! {
    // One mapping for the whole (persistent-mode) run: an mmap per input
    // would cost more than the code under test.
    static PROGRAM_MEM: GuestMemoryMmap = memory(PROGRAM_RAM);
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
