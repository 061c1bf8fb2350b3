//! The Linux system-call surface as a static program sees it: unknown
//! numbers answer -ENOSYS and the process goes on; brk asks and moves;
//! anonymous mmap is demand paged, MAP_FIXED replaces, munmap frees;
//! mprotect really protects (copy_out to a read-only page is EFAULT);
//! a file mmap of fd -1 is -EBADF; arch_prctl sets and reads the FS base;
//! uname says Linux/x86_64. Exit 1 on the first surprise.
#![no_std]
#![no_main]

use abi::syscall::*;
use ulib::{println, syscall};

ulib::entry!(main);

fn syscall6(nr: u64, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> i64 {
    let r: u64;
    // SAFETY: the Linux syscall convention; rcx and r11 are clobbered.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") nr => r, in("rdi") a, in("rsi") b,
            in("rdx") c, in("r10") d, in("r8") e, in("r9") f,
            out("rcx") _, out("r11") _, options(nostack));
    }
    r as i64
}

fn mmap(addr: u64, len: u64, prot: u64, flags: u64) -> i64 {
    syscall6(SYS_MMAP, addr, len, prot, flags, u64::MAX, 0)
}

macro_rules! expect {
    ($what:expr, $got:expr, $want:expr) => {{
        let (g, w) = ($got, $want);
        if g != w {
            println!("linuxabi: {}: got {:?}, want {:?}", $what, g, w);
            return 1;
        }
    }};
}

fn main(_arg: u64) -> i64 {
    // 425 is Linux's io_uring_setup, which this kernel does not serve:
    // the verdict line and the report name it.
    for nr in [500u64, 999, 500, 1003, 425] {
        expect!("unknown syscall", syscall(nr, 0, 0, 0), ENOSYS);
    }
    if brk() != 0 || anonymous_mmap() != 0 {
        return 1;
    }

    let mut fs = 0u64;
    expect!(
        "arch_prctl set",
        syscall(SYS_ARCH_PRCTL, 0x1002, 0x1234_5000, 0),
        0
    );
    expect!(
        "arch_prctl get",
        syscall(SYS_ARCH_PRCTL, 0x1003, &raw mut fs as u64, 0),
        0
    );
    expect!("fs base", fs, 0x1234_5000);
    expect!("arch_prctl set", syscall(SYS_ARCH_PRCTL, 0x1002, 0, 0), 0);

    let mut u = [0u8; 6 * 65];
    expect!("uname", syscall(SYS_UNAME, u.as_mut_ptr() as u64, 0, 0), 0);
    expect!("sysname", &u[..6], &b"Linux\0"[..]);
    expect!("machine", &u[4 * 65..4 * 65 + 7], &b"x86_64\0"[..]);
    let mut r = [0u8; 32];
    expect!(
        "getrandom",
        syscall(SYS_GETRANDOM, r.as_mut_ptr() as u64, 32, 0),
        32
    );
    expect!(
        "read stdin",
        syscall(SYS_READ, 0, r.as_mut_ptr() as u64, 32),
        0
    );
    println!(
        "linuxabi: unknown syscalls got ENOSYS; brk, mmap, mprotect, munmap, arch_prctl, uname, getrandom behave"
    );
    0
}

/// brk: 0 asks, a move returns the new break, an impossible one the old.
/// 0, or 1 on the first surprise.
fn brk() -> i64 {
    let b0 = syscall(SYS_BRK, 0, 0, 0) as u64;
    expect!(
        "brk grow",
        syscall(SYS_BRK, b0 + 0x3000, 0, 0) as u64,
        b0 + 0x3000
    );
    expect!(
        "brk too low",
        syscall(SYS_BRK, 0x1000, 0, 0) as u64,
        b0 + 0x3000
    );
    // SAFETY: inside the heap just grown.
    unsafe { ((b0 + 0x2000) as *mut u64).write_volatile(7) };
    expect!("brk shrink", syscall(SYS_BRK, b0, 0, 0) as u64, b0);
    0
}

/// Anonymous mmap is demand paged, MAP_FIXED replaces, mprotect really
/// protects (the kernel's own writes included), munmap frees; a file mmap
/// of fd -1 is EBADF. 0, or 1 on the first surprise.
fn anonymous_mmap() -> i64 {
    let rw = PROT_READ | PROT_WRITE;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS;
    let m = mmap(0, 0x4000, rw, anon);
    if m <= 0 {
        println!("linuxabi: mmap failed: {m}");
        return 1;
    }
    let m = m as u64;
    // SAFETY: four fresh pages we mapped read-write.
    unsafe {
        (m as *mut u64).write_volatile(1);
        ((m + 0x3ff8) as *mut u64).write_volatile(2);
    }
    // Not anonymous, and fd -1 names no open file (as on Linux).
    expect!(
        "file mmap of fd -1",
        mmap(0, 0x1000, rw, MAP_PRIVATE),
        EBADF
    );
    expect!(
        "fixed mmap",
        mmap(m + 0x1000, 0x1000, rw, anon | MAP_FIXED),
        (m + 0x1000) as i64
    );
    expect!(
        "mprotect",
        syscall(SYS_MPROTECT, m + 0x2000, 0x1000, PROT_READ),
        0
    );
    // The kernel may not write a read-only page for us either.
    let ts = m + 0x2000;
    expect!(
        "clock into r/o page",
        syscall(SYS_CLOCK_GETTIME, 1, ts, 0),
        EFAULT
    );
    expect!(
        "mprotect back",
        syscall(SYS_MPROTECT, m + 0x2000, 0x1000, rw),
        0
    );
    expect!("clock_gettime", syscall(SYS_CLOCK_GETTIME, 1, ts, 0), 0);
    expect!("munmap", syscall(SYS_MUNMAP, m, 0x4000, 0), 0);
    expect!("write from unmapped", syscall(SYS_WRITE, 1, m, 8), EFAULT);
    0
}
