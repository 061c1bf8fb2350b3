//! Test guest: tries to make the VMM use unbounded memory or time, or to
//! reach the user's terminal, then shuts down cleanly. Its command line
//! picks the attack:
//! - `procs` (default): hundreds of fake processes on a page table that
//!   aliases itself (2^35 pages onto one frame, every page its own run),
//!   an error storm, escape sequences in a process name and on the
//!   console, and a message whose body runs past the end of RAM;
//! - `flood`: console output without end (for a reader that stalls);
//! - `resident`: every frame of RAM written first (all of guest RAM
//!   resident in the VMM), then a process whose tables list 2^20 pages,
//!   each in a 2 MiB block of its own past the end of RAM.
#![no_std]
#![no_main]

use abi::msg::{self, Header};
use kernel::arch::cpu::outl;
use kernel::memlayout::{Pa, p2v};
use kernel::mm::frame;
use kernel::{Machine, kprintln, shutdown};

/// Fake processes created (and exited): more than the VMM records.
const FAKE_PROCS: u32 = 300;
/// Of those, how many exit (each exit costs the VMM a bounded analysis).
const FAKE_EXITS: u32 = 40;
/// Bad messages in the storm.
const STORM: u32 = 5000;

/// Write `v` at the start of frame `pa` and hand its GPA to the VMM.
fn raw<T: Copy>(pa: Pa, v: T) {
    // SAFETY: pa is a frame we own; T is a plain message struct.
    unsafe { core::ptr::write_volatile(p2v::<T>(pa), v) };
    outl(abi::PORT_HYPERCALL, pa.get() as u32);
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
    if m.cmdline() == "resident" {
        resident()
    }
    let (Some(page), Some(alias)) = (frame::alloc(), frame::alloc()) else {
        kprintln!("[amplify] out of memory");
        shutdown::halt(abi::status::PANIC)
    };
    kprintln!("[amplify] \x1b]0;pwned\x07\x1b[6n\x1b[2J\rtitle and terminal queries");
    // Every entry points back at the table itself.
    for i in 0..512 {
        // SAFETY: alias is our frame; integer stores (it is about to be a table).
        unsafe { core::ptr::write_volatile(p2v::<u64>(alias).add(i), alias.get() | 7) };
    }
    let mut p = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        event: msg::PROC_CREATED,
        cr3: alias.get(),
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
        outl(abi::PORT_HYPERCALL, (page.get() + 4) as u32); // unaligned
    }
    // A header inside RAM whose body (a Proc message) runs past its end.
    let last = Pa(m.ram - 16);
    // SAFETY: the last 16 bytes of RAM: the kernel's window maps all of RAM,
    // and nothing the kernel needs lives in its final frame (it is free).
    unsafe { core::ptr::write_volatile(p2v::<Header>(last), Header::new(msg::KIND_PROC)) };
    outl(abi::PORT_HYPERCALL, last.get() as u32);
    kprintln!("[amplify] done; shutting down cleanly");
    shutdown::halt(abi::status::OK)
}

/// Page tables (8 MiB of them) that map 2^20 user pages of 4 KiB, page
/// n at GPA 4 GiB + n * 2 MiB: a million distinct 2 MiB blocks, none in
/// RAM. Their PML4, or None when RAM ran out.
fn million_blocks() -> Option<Pa> {
    let table = || -> Option<Pa> {
        let pa = frame::alloc()?;
        for i in 0..512 {
            // SAFETY: pa is our frame; integer stores (it is about to be a table).
            unsafe { core::ptr::write_volatile(p2v::<u64>(pa).add(i), 0) };
        }
        Some(pa)
    };
    let set = |t: Pa, i: usize, v: u64| {
        // SAFETY: t is a table frame of ours, i < 512.
        unsafe { core::ptr::write_volatile(p2v::<u64>(t).add(i), v) };
    };
    let (pml4, pdpt) = (table()?, table()?);
    set(pml4, 0, pdpt.get() | 7);
    let mut n = 0u64;
    for j in 0..4 {
        let pd = table()?;
        set(pdpt, j, pd.get() | 7);
        for k in 0..512 {
            let pt = table()?;
            set(pd, k, pt.get() | 7);
            for i in 0..512 {
                set(pt, i, ((1u64 << 32) + (n << 21)) | 7);
                n += 1;
            }
        }
    }
    Some(pml4)
}

/// The `resident` attack: see the module's documentation.
fn resident() -> ! {
    let (Some(page), Some(pml4)) = (frame::alloc(), million_blocks()) else {
        kprintln!("[amplify] out of memory");
        shutdown::halt(abi::status::PANIC)
    };
    // Every frame left, written: all of guest RAM is resident now.
    let mut touched = 0u64;
    while let Some(pa) = frame::alloc() {
        // SAFETY: a free frame, ours from now on.
        unsafe { core::ptr::write_volatile(p2v::<u64>(pa), 0x5a5a_5a5a) };
        touched += 1;
    }
    kprintln!("[amplify] {touched} frames written; a process of 2^20 pages past RAM");
    let mut p = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        event: msg::PROC_CREATED,
        pid: 1,
        cr3: pml4.get(),
        ..Default::default()
    };
    p.name[..8].copy_from_slice(b"resident");
    raw(page, p);
    p.event = msg::PROC_EXITING;
    p.exit_kind = msg::EXIT_NORMAL;
    raw(page, p);
    kprintln!("[amplify] done; shutting down cleanly");
    shutdown::halt(abi::status::OK)
}
