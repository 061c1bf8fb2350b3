//! Copy-on-write, built in (it runs where no Linux program can: under
//! QEMU's PVH boot too). Touch PAGES heap pages, fork; the child writes
//! WRITTEN of them and asks where its first page lives before and after
//! the write; the parent waits, then checks that its own pages still hold
//! what it wrote.
#![no_std]
#![no_main]

use abi::syscall::{SYS_FORK, SYS_WAIT4};
use ulib::{println, sbrk, syscall, whereis};

ulib::entry!(main);

const PAGE: u64 = 4096;
const PAGES: u64 = 16;
const WRITTEN: u64 = 4;
/// What the parent writes in each page, and the child over some of them.
const PARENT: u64 = u64::from_le_bytes(*b"parent\0\0");
const CHILD: u64 = u64::from_le_bytes(*b"child\0\0\0");

fn gpa(va: u64) -> Option<u64> {
    whereis(va).ok().filter(|a| a.status == 0).map(|a| a.gpa)
}

fn main(_arg: u64) -> i64 {
    let Some(start) = sbrk((PAGES * PAGE) as i64) else {
        println!("fork: sbrk failed");
        return 1;
    };
    let base = start.next_multiple_of(PAGE);
    let pages = (start + PAGES * PAGE - base) / PAGE;
    for i in 0..pages {
        // SAFETY: base..base+pages*PAGE lies in the heap sbrk just grew.
        unsafe { ((base + i * PAGE) as *mut u64).write_volatile(PARENT) };
    }
    let before = gpa(base);
    let pid = syscall(SYS_FORK, 0, 0, 0);
    if pid < 0 {
        println!("fork: fork failed ({pid})");
        return 1;
    }
    if pid == 0 {
        let shared = gpa(base);
        for i in 0..WRITTEN.min(pages) {
            // SAFETY: as above, in the child's copy.
            unsafe { ((base + i * PAGE) as *mut u64).write_volatile(CHILD) };
        }
        let after = gpa(base);
        match (before, shared, after) {
            (Some(b), Some(s), Some(a)) => println!(
                "fork: child's first heap page before its write: {} frame as its parent's; after: {}",
                if s == b { "the same" } else { "NOT the same" },
                if a != b {
                    "a copy of its own"
                } else {
                    "STILL THE PARENT'S"
                }
            ),
            _ => println!("fork: no microvmm to ask where pages live"),
        }
        return 0;
    }
    let mut status = 0i32;
    let w = syscall(SYS_WAIT4, pid as u64, &mut status as *mut i32 as u64, 0);
    let intact = (0..pages).all(|i| {
        // SAFETY: the parent's own heap pages.
        unsafe { ((base + i * PAGE) as *const u64).read_volatile() == PARENT }
    });
    println!(
        "fork: child {pid} wrote {} of {pages} shared heap pages and exited {}; parent's pages intact: {}",
        WRITTEN.min(pages),
        if w == pid && status == 0 {
            "0"
        } else {
            "badly"
        },
        if intact { "yes" } else { "NO" }
    );
    i64::from(!(intact && w == pid && status == 0))
}
