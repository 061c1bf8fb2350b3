//! Test guest: boots, then attacks the VMM through the hypercall port with
//! malformed messages and page tables that alias themselves, then shuts
//! down cleanly. The VMM must survive, stay bounded, and report each one.
#![no_std]
#![no_main]

use abi::msg::{self, Header};
use kernel::arch::cpu::outl;
use kernel::memlayout::{Pa, p2v};
use kernel::mm::frame;
use kernel::{Machine, kprintln, shutdown};

/// Write `v` at the start of frame `pa` and hand its GPA to the VMM.
fn raw<T: Copy>(pa: Pa, v: T) {
    // SAFETY: pa is a frame we own; T is a plain message struct.
    unsafe { core::ptr::write_volatile(p2v::<T>(pa), v) };
    outl(abi::PORT_HYPERCALL, pa.get() as u32);
}

#[unsafe(no_mangle)]
pub fn kmain(m: &Machine) -> ! {
    let (Some(page), Some(alias), Some(alias2)) = (frame::alloc(), frame::alloc(), frame::alloc())
    else {
        kprintln!("[hostile] out of memory");
        shutdown::halt(abi::status::PANIC)
    };
    kprintln!("[hostile] sending bad messages");
    kernel::console::flush();
    bad_messages(m, page);
    aliased_processes(page, alias, alias2);
    kprintln!("[hostile] done; shutting down cleanly");
    shutdown::halt(abi::status::OK)
}

/// Messages the decoder must refuse: a GPA unaligned, past RAM or far
/// outside it; an unknown kind, a wrong size, a console length beyond its
/// buffer.
fn bad_messages(m: &Machine, page: Pa) {
    outl(abi::PORT_HYPERCALL, (page.get() + 3) as u32); // unaligned
    outl(abi::PORT_HYPERCALL, (m.ram - 8) as u32); // header runs past RAM
    outl(abi::PORT_HYPERCALL, 0xffff_fff8); // far outside RAM
    raw(
        page,
        Header {
            kind: 99,
            size: 16,
            result: 0,
            seq: 0,
        },
    ); // unknown kind
    raw(
        page,
        Header {
            kind: msg::KIND_BOOT,
            size: 4000,
            result: 0,
            seq: 0,
        },
    ); // wrong size
    let c = msg::Console {
        hdr: Header::new(msg::KIND_CONSOLE),
        len: 60_000,
        broken: 0,
        _pad: [0; 2],
        bytes: [b'x'; msg::CONSOLE_MAX],
    };
    raw(page, c); // length beyond the buffer
}

/// Processes whose page tables alias themselves (2^35 and 2^36 pages onto
/// one frame), created and ended out of order, with a markup name, a pid
/// that was never created, an image twice and its own parent; and a
/// whereis on a table outside RAM. The VMM's budgets must hold.
fn aliased_processes(page: Pa, alias: Pa, alias2: Pa) {
    let mut p = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        event: msg::PROC_CREATED,
        pid: 1000,
        nregions: 99,
        ..Default::default()
    };
    raw(page, p); // too many regions
    // A page table whose every entry points back at itself: as PML4, PDPT,
    // PD and PT it maps the whole lower half, 2^35 pages, onto one frame.
    for i in 0..512 {
        // SAFETY: alias is our frame; integer stores (it is about to be a table).
        unsafe { core::ptr::write_volatile(p2v::<u64>(alias).add(i), alias.get() | 7) };
    }
    p.nregions = 0;
    p.cr3 = alias.get();
    // A name that is markup (NAME_MAX bytes at most): every report must
    // show it as text, and it must not end the HTML report's data element.
    let name = b"</script><b>pwn";
    p.name[..name.len()].copy_from_slice(name);
    raw(page, p); // created, with the aliased table
    p.event = msg::PROC_EXITING;
    p.exit_kind = msg::EXIT_NORMAL;
    raw(page, p); // its exit: the VMM walks the aliased table
    raw(page, p); // and exits again
    // A second one on the same table: the run's page budget must hold.
    p.pid = 1001;
    p.event = msg::PROC_CREATED;
    p.exit_kind = msg::EXIT_NONE;
    raw(page, p);
    p.event = msg::PROC_EXITING;
    p.exit_kind = msg::EXIT_NORMAL;
    raw(page, p);
    p.pid = 2000;
    raw(page, p); // exit of a pid never created
    // Two live at once on tables of their own that alias: a PML4 whose
    // every entry points at the self-referencing table. When one ends,
    // its frames are compared with the other's 2^36 pages: bounded.
    for i in 0..512 {
        // SAFETY: alias2 is our frame; integer stores (it is about to be a table).
        unsafe { core::ptr::write_volatile(p2v::<u64>(alias2).add(i), alias.get() | 7) };
    }
    p.pid = 1002;
    p.cr3 = alias2.get();
    p.event = msg::PROC_CREATED;
    p.exit_kind = msg::EXIT_NONE;
    raw(page, p); // stays live
    p.pid = 1003;
    p.ppid = 1002;
    p.cr3 = alias.get();
    raw(page, p); // its child
    p.event = msg::PROC_EXITING;
    p.exit_kind = msg::EXIT_EXEC;
    raw(page, p); // replaced by execve: analysed, compared with 1002
    p.event = msg::PROC_CREATED;
    p.exit_kind = msg::EXIT_NONE;
    p.execs = 1;
    raw(page, p); // its next image
    raw(page, p); // and again, while it runs
    p.ppid = 1003;
    raw(page, p); // its own parent
    let w = msg::Whereis {
        hdr: Header::new(msg::KIND_WHEREIS),
        pid: 1000,
        cr3: 0xffff_ffff_f000,
        gva: 0x40_0000,
        ..Default::default()
    };
    raw(page, w); // a table outside RAM
}
