//! Test guest: tries to make the VMM use unbounded memory or time, or to
//! reach the user's terminal, then shuts down cleanly. Its command line
//! picks the attack:
//! - `procs` (default): hundreds of fake processes on a page table that
//!   aliases itself (2^35 pages onto one frame, every page its own run),
//!   an error storm, escape sequences in a process name and on the
//!   console, and a message whose body runs past the end of RAM;
//! - `flood`: console output without end (for a reader that stalls).
#![no_std]
#![no_main]

use abi::msg::{self, Header};
use kernel::arch::cpu::outl;
use kernel::memlayout::p2v;
use kernel::mm::frame;
use kernel::{Machine, kprintln, vmmdev};

/// Fake processes created (and exited): more than the VMM records.
const FAKE_PROCS: u32 = 300;
/// Of those, how many exit (each exit costs the VMM a bounded analysis).
const FAKE_EXITS: u32 = 40;
/// Bad messages in the storm.
const STORM: u32 = 5000;

/// Write `v` at the start of frame `pa` and hand its GPA to the VMM.
fn raw<T: Copy>(pa: u64, v: T) {
    // SAFETY: pa is a frame we own; T is a plain message struct.
    unsafe { core::ptr::write_volatile(p2v::<T>(pa), v) };
    outl(abi::PORT_HYPERCALL, pa as u32);
}

#[unsafe(no_mangle)]
pub fn kmain(m: &Machine) -> ! {
    if m.cmdline() == "flood" {
        let mut n = 0u64;
        loop {
            kprintln!("[amplify] flood line {n}: the reader is not reading");
            n += 1;
        }
    }
    let (Some(page), Some(alias)) = (frame::alloc(), frame::alloc()) else {
        kprintln!("[amplify] out of memory");
        vmmdev::shutdown(abi::status::PANIC)
    };
    kprintln!("[amplify] \x1b]0;pwned\x07\x1b[6n\x1b[2J\rtitle and terminal queries");
    // Every entry points back at the table itself.
    for i in 0..512 {
        // SAFETY: alias is our frame; integer stores (it is about to be a table).
        unsafe { core::ptr::write_volatile(p2v::<u64>(alias).add(i), alias | 7) };
    }
    let mut p = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        event: msg::PROC_CREATED,
        cr3: alias,
        ..Default::default()
    };
    p.name[..9].copy_from_slice(b"\x1b]0;x\x07\x1b[H");
    for pid in 1..=FAKE_PROCS {
        p.pid = pid;
        p.event = msg::PROC_CREATED;
        p.exit_kind = msg::EXIT_NONE;
        raw(page, p);
        if pid <= FAKE_EXITS {
            p.event = msg::PROC_EXITING;
            p.exit_kind = msg::EXIT_NORMAL;
            raw(page, p);
        }
    }
    for _ in 0..STORM {
        outl(abi::PORT_HYPERCALL, (page + 4) as u32); // unaligned
    }
    // A header inside RAM whose body (a Proc message) runs past its end.
    let last = m.ram - 16;
    // SAFETY: the last 16 bytes of RAM: the kernel's window maps all of RAM,
    // and nothing the kernel needs lives in its final frame (it is free).
    unsafe { core::ptr::write_volatile(p2v::<Header>(last), Header::new(msg::KIND_PROC)) };
    outl(abi::PORT_HYPERCALL, last as u32);
    kprintln!("[amplify] done; shutting down cleanly");
    vmmdev::shutdown(abi::status::OK)
}
