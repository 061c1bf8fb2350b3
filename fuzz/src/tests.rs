//! Every target passes its seeds, past findings and edge inputs.

use microvmm::addr::{Gpa, Gva};
use microvmm::devices::hypercall;
use microvmm::loader;
use vm_memory::{Bytes, GuestAddress};

use crate::paging::paging_input;
use crate::{
    ELF_RAM, MESSAGE_RAM, analyse, console, elf, file, memory, message, paging, program, seeds,
    terminal, tree, u64_at,
};

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
                    let r = microvmm::paging::walk(&input.mem, input.cr3, input.mode, Gva(gva));
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
