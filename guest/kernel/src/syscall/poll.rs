//! poll(2) on the standard streams. They never change: fd 0 is at end of
//! file, so always readable; fds 1 and 2 always take writes; no other fd is
//! open. Rust's std polls fds 0-2 with no events and timeout 0 at start-up
//! to check that they are open (and aborts if poll fails).

use abi::syscall::{EFAULT, EINVAL};

use super::{Ret, put, time, with_aspace};
use crate::arch::cpu;
use crate::entry::TrapFrame;
use crate::proc;

const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
/// Linux refuses more entries than RLIMIT_NOFILE (1024 by default).
const NFDS_MAX: u64 = 1024;
/// struct pollfd: int fd; short events; short revents.
const POLLFD: u64 = 8;

/// What fd is ready for now, given the events it asked about (POLLNVAL is
/// reported whatever was asked; a negative fd is skipped).
fn revents(fd: i32, events: u16) -> u16 {
    match fd {
        ..0 => 0,
        0 => events & (POLLIN | POLLRDNORM),
        1 | 2 => events & (POLLOUT | POLLWRNORM),
        _ => POLLNVAL,
    }
}

/// Answer every entry; the number with events, or -errno. Nothing becomes
/// ready later, so with none ready now the caller sleeps out `timeout_ms`
/// (a negative one forever, as Linux would) and gets 0.
pub fn poll(f: &mut TrapFrame, fds: u64, nfds: u64, timeout_ms: u64) -> Ret {
    if nfds > NFDS_MAX {
        return Ret::Value(EINVAL);
    }
    let mut ready = 0;
    for i in 0..nfds {
        // nfds <= 1024: no overflow in the offset, only in the address.
        let Some(at) = fds.checked_add(i * POLLFD) else {
            return Ret::Value(EFAULT);
        };
        let mut e = [0u8; POLLFD as usize];
        if with_aspace(|a| if a.copy_in(&mut e, at) { 0 } else { EFAULT }) != 0 {
            return Ret::Value(EFAULT);
        }
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let r = revents(fd, u16::from_le_bytes([e[4], e[5]]));
        let out = at + 6; // inside the 8 bytes copy_in just read
        if with_aspace(|a| put(a, out, &r)) != 0 {
            return Ret::Value(EFAULT);
        }
        ready += (r != 0) as i64;
    }
    let timeout = timeout_ms as i32;
    if ready > 0 || timeout == 0 {
        return Ret::Value(ready);
    }
    let deadline = if timeout < 0 {
        u64::MAX
    } else {
        let ns = (timeout as u64).saturating_mul(1_000_000);
        cpu::rdtsc().saturating_add(time::tsc_from_ns(ns))
    };
    f.rax = 0;
    Ret::Switched(proc::sleep(f, deadline))
}
