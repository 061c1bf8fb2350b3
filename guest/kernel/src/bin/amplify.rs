//! Test guest: tries to make the VMM use unbounded memory or time, or to
//! reach the user's terminal, then shuts down cleanly. Its command line
//! picks the attack:
//! - `procs` (default): hundreds of fake processes on a page table that
//!   aliases itself (2^35 pages onto one frame, every page its own run),
//!   an error storm, escape sequences in a process name and on the
//!   console, and a message whose body runs past the end of RAM;
//! - `flood`: console output without end (for a reader that stalls);
//! - `noise`: a write to each of 4096 ports no device serves (more than a
//!   pipe holds when each is a line of its own), then `flood`;
//! - `translate`: the live page table gets a self-aliasing user half
//!   (2^20 pages and more), and processes on it exit without end, each an
//!   analysis that `--verify all` checks page by page with KVM_TRANSLATE;
//! - `resident`: every frame of RAM written first (all of guest RAM
//!   resident in the VMM), then a process whose tables list 2^20 pages,
//!   each in a 2 MiB block of its own past the end of RAM.
#![no_std]
#![no_main]

use abi::msg::{self, Header};
use kernel::arch::cpu::{outb, outl, read_cr3};
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

fn flood() -> ! {
    let mut n = 0u64;
    loop {
        kprintln!("[amplify] flood line {n}: the reader is not reading");
        n += 1;
    }
}

/// The ports `noise` writes: none is a device's.
const NOISE: core::ops::Range<u16> = 0x1000..0x2000;

/// A table whose every entry points back at the table itself: as PML4,
/// PDPT, PD and PT it maps 2^35 pages onto one frame.
fn aliased(alias: Pa) {
    for i in 0..512 {
        // SAFETY: alias is our frame; integer stores (it is about to be a table).
        unsafe { core::ptr::write_volatile(p2v::<u64>(alias).add(i), alias.get() | 7) };
    }
}

/// Root entry 1 of the live page table (user half, unused by the kernel)
/// becomes the aliased table; then process after process on that CR3
/// exits, so the VMM analyses the live tables again and again.
fn translate(page: Pa, alias: Pa) -> ! {
    aliased(alias);
    let cr3 = read_cr3() & !0xfff;
    let root = p2v::<u64>(Pa(cr3));
    // SAFETY: the root table is live and mapped in the kernel's window;
    // entry 1 maps user addresses the kernel never touches.
    unsafe {
        if core::ptr::read_volatile(root.add(1)) != 0 {
            kprintln!("[amplify] root entry 1 is in use");
            shutdown::halt(abi::status::PANIC)
        }
        core::ptr::write_volatile(root.add(1), alias.get() | 7);
    }
    let mut p = msg::Proc {
        hdr: Header::new(msg::KIND_PROC),
        cr3,
        ..Default::default()
    };
    p.name[..9].copy_from_slice(b"translate");
    for pid in 1.. {
        p.pid = pid;
        p.event = msg::PROC_CREATED;
        p.exit_kind = msg::EXIT_NONE;
        raw(page, p);
        p.event = msg::PROC_EXITING;
        p.exit_kind = msg::EXIT_NORMAL;
        raw(page, p);
    }
    flood()
}

#[unsafe(no_mangle)]
pub fn kmain(m: &Machine) -> ! {
    if m.cmdline() == "flood" {
        flood()
    }
    if m.cmdline() == "noise" {
        for port in NOISE {
            outb(port, 0);
        }
        flood()
    }
    if m.cmdline() == "resident" {
        resident()
    }
    let (Some(page), Some(alias)) = (frame::alloc(), frame::alloc()) else {
        kprintln!("[amplify] out of memory");
        shutdown::halt(abi::status::PANIC)
    };
    if m.cmdline() == "translate" {
        translate(page, alias)
    }
    kprintln!("[amplify] \x1b]0;pwned\x07\x1b[6n\x1b[2J\rtitle and terminal queries");
    aliased(alias);
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
