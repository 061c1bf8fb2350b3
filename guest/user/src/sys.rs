//! System call wrappers (numbers and structs from `abi::syscall`).

use core::arch::asm;
use core::fmt::{self, Write};

use abi::msg::WhereisAnswer;
use abi::syscall::*;

/// A system call with up to three arguments (Linux x86-64 convention).
pub fn syscall(nr: u64, a: u64, b: u64, c: u64) -> i64 {
    let r: u64;
    // SAFETY: the kernel's syscall ABI: rax nr, rdi/rsi/rdx args; rcx and
    // r11 are clobbered by the instruction itself.
    unsafe {
        asm!("syscall", inlateout("rax") nr => r, in("rdi") a, in("rsi") b, in("rdx") c,
             out("rcx") _, out("r11") _, options(nostack));
    }
    r as i64
}

pub fn write(fd: u64, buf: &[u8]) -> i64 {
    syscall(SYS_WRITE, fd, buf.as_ptr() as u64, buf.len() as u64)
}

/// `write` with a raw pointer, for programs that test the kernel's checks.
pub fn write_raw(fd: u64, ptr: u64, len: u64) -> i64 {
    syscall(SYS_WRITE, fd, ptr, len)
}

pub fn exit(status: i64) -> ! {
    syscall(SYS_EXIT_GROUP, status as u64, 0, 0);
    loop {
        core::hint::spin_loop();
    }
}

pub fn getpid() -> i64 {
    syscall(SYS_GETPID, 0, 0, 0)
}

/// Move the heap's end by `delta` (over Linux brk, which answers with the
/// break it settled on); the old end, or None.
pub fn sbrk(delta: i64) -> Option<u64> {
    let old = syscall(SYS_BRK, 0, 0, 0) as u64;
    if delta == 0 {
        return Some(old);
    }
    let new = old.checked_add_signed(delta)?;
    (syscall(SYS_BRK, new, 0, 0) as u64 == new).then_some(old)
}

/// Let another runnable process run (sched_yield).
pub fn yield_now() {
    syscall(SYS_SCHED_YIELD, 0, 0, 0);
}

/// Ask the VMM (through the kernel) where `addr` lives.
pub fn whereis(addr: u64) -> Result<WhereisAnswer, i64> {
    let mut a = WhereisAnswer::default();
    let r = syscall(SYS_WHEREIS, addr, &mut a as *mut _ as u64, 0);
    if r == 0 { Ok(a) } else { Err(r) }
}

pub fn stats() -> Stats {
    let mut s = Stats::default();
    syscall(SYS_STATS, &mut s as *mut _ as u64, 0, 0);
    s
}

/// Write `value` at `addr` through the kernel, which reports both to the VMM.
pub fn pattern(addr: u64, value: u64) -> i64 {
    syscall(SYS_PATTERN, addr, value, 0)
}

/// Where `mark` leaves its pattern: a word of the program's data segment.
static mut MARK: u64 = 0;

/// Leave "mvmm" + pid in this program's data, so the VMM can check, when the
/// process ends, that the GPA and HVA it computes hold what the process wrote.
pub fn mark() {
    pattern(
        &raw mut MARK as u64,
        0x6d76_6d6d_0000_0000 | getpid() as u64,
    );
}

/// TSC ticks per millisecond; without a frequency from the VMM (e.g.
/// under QEMU) assume 1 GHz.
pub fn tsc_khz() -> u64 {
    match stats().tsc_khz {
        0 => 1_000_000,
        k => k,
    }
}

/// `n` exits from the kernel to the VMM's null port; the TSC cycles they
/// took, or None when the kernel refused.
pub fn exitloop(n: u64) -> Option<u64> {
    u64::try_from(syscall(SYS_EXITLOOP, n, 0, 0)).ok()
}

pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects and is allowed in user mode here.
    unsafe { core::arch::x86_64::_rdtsc() }
}

struct Line {
    buf: [u8; 512],
    n: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &c in s.as_bytes() {
            if self.n == self.buf.len() {
                write(1, &self.buf[..self.n]);
                self.n = 0;
            }
            self.buf[self.n] = c;
            self.n += 1;
        }
        Ok(())
    }
}

/// Format into a stack buffer and write it in one system call.
pub fn print_fmt(args: fmt::Arguments) {
    let mut l = Line {
        buf: [0; 512],
        n: 0,
    };
    let _ = l.write_fmt(args);
    if l.n > 0 {
        write(1, &l.buf[..l.n]);
    }
}
