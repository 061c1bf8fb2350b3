//! System calls: number in rax, arguments in rdi, rsi, rdx, result in rax.
//! Every user pointer is checked against the caller's regions and copied
//! through its page table (copy_in/copy_out), never dereferenced directly.

use abi::msg::{WHEREIS_NO_VMM, WHEREIS_NOT_MAPPED, WHEREIS_REFUSED, Whereis, WhereisAnswer};
use abi::syscall::*;

use crate::entry::TrapFrame;
use crate::mm::pte;
use crate::mm::uvm::AddrSpace;
use crate::proc::{self, Exit};
use crate::{console, vmmdev};

/// Called by `syscall_entry`. Returns 0 to go back to the caller with
/// `sysretq`, 1 when `f` now holds another process's frame.
#[unsafe(no_mangle)]
extern "C" fn syscall_dispatch(f: &mut TrapFrame) -> u64 {
    let nr = f.rax;
    // SAFETY: a syscall from the running process; only the pid is read.
    let pid = unsafe { proc::current() }.pid;
    let r = match nr {
        SYS_WRITE => sys_write(f.rdi, f.rsi, f.rdx),
        SYS_GETPID => pid as i64,
        SYS_SBRK => sys_sbrk(f.rdi as i64),
        SYS_WHEREIS => sys_whereis(f.rdi, f.rsi),
        SYS_STATS => sys_stats(f.rdi),
        SYS_PATTERN => sys_pattern(f.rdi, f.rsi),
        SYS_YIELD => {
            // 1 if another process ran (the saved frame resumes with it).
            f.rax = 1;
            if proc::yield_from(f) {
                return 1;
            }
            f.rax = 0;
            return 0;
        }
        SYS_EXIT => {
            proc::exit_current(f, Exit::Status(f.rdi as i64));
            return 1;
        }
        _ => ENOSYS,
    };
    f.rax = r as u64;
    proc::maybe_yield(f) as u64
}

/// Write user bytes to the console, each line tagged with the writer.
fn sys_write(fd: u64, buf: u64, len: u64) -> i64 {
    if fd != 1 && fd != 2 {
        return EINVAL;
    }
    // SAFETY: a syscall from the running process; p is not used across a
    // call back into proc.
    let p = unsafe { proc::current() };
    let (pid, name, at_start) = (p.pid, p.name, &mut p.at_line_start);
    let name = core::str::from_utf8(abi::msg::until_nul(&name)).unwrap_or("?");
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    if len > 1 << 20 || !a.check(buf, len) {
        return EFAULT;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        if !a.copy_in(&mut chunk[..n], buf + done) {
            return if done == 0 { EFAULT } else { done as i64 };
        }
        for &c in &chunk[..n] {
            if *at_start {
                crate::kprint!("[{pid} {name}] ");
            }
            console::write_bytes(&[c]);
            *at_start = c == b'\n';
        }
        done += n as u64;
    }
    console::flush();
    len as i64
}

fn sys_sbrk(delta: i64) -> i64 {
    // SAFETY: as in the other handlers: used here, then dropped.
    match unsafe { proc::current() }
        .aspace
        .as_mut()
        .and_then(|a| a.sbrk(delta))
    {
        Some(old) => old as i64,
        None => ENOMEM,
    }
}

/// Ask the VMM where `gva` lives; copy its answer to `out`.
fn sys_whereis(gva: u64, out: u64) -> i64 {
    // SAFETY: a syscall from the running process; p is not used across a
    // call back into proc.
    let p = unsafe { proc::current() };
    let pid = p.pid;
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    let size = core::mem::size_of::<WhereisAnswer>() as u64;
    if !a.check(out, size) {
        return EFAULT;
    }
    let mut ans = WhereisAnswer {
        gva,
        ..Default::default()
    };
    if a.region_of(gva).is_none() {
        ans.status = WHEREIS_REFUSED;
    } else {
        let mut m = Whereis {
            pid,
            cr3: a.root,
            gva,
            ..Default::default()
        };
        match vmmdev::send(&mut m) {
            Some(_) => ans = m.answer,
            None => {
                // No VMM to ask: the kernel can still say the GPA itself.
                match pte::lookup(a.root, gva) {
                    Some(e) => {
                        ans.status = WHEREIS_NO_VMM;
                        ans.gpa = (e & pte::ADDR) | (gva & 0xfff);
                        ans.guest_page_size = 4096;
                    }
                    None => ans.status = WHEREIS_NOT_MAPPED,
                }
            }
        }
    }
    put(a, out, &ans)
}

/// Copy an abi struct out to user `va`: 0, or EFAULT if the process may not
/// write there. Only for the abi's repr(C) structs of integers with explicit
/// padding fields (WhereisAnswer, Stats): every byte is initialised.
fn put<T: Copy>(a: &mut AddrSpace, va: u64, v: &T) -> i64 {
    // SAFETY: v is a live T of size_of::<T>() initialised bytes (see above).
    let bytes = unsafe {
        core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>())
    };
    if a.copy_out(va, bytes) { 0 } else { EFAULT }
}

fn sys_stats(out: u64) -> i64 {
    // SAFETY: a syscall from the running process; p is not used across a
    // call back into proc.
    let p = unsafe { proc::current() };
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    let s = Stats {
        heap_faults: a.heap_faults,
        stack_faults: a.stack_faults,
        pages_resident: a.resident,
        tsc_khz: crate::tsc_khz(),
    };
    put(a, out, &s)
}

/// Store `value` at user `gva` and remember both for the exit report, so the
/// VMM can read the value back through the GPA and HVA it computes.
fn sys_pattern(gva: u64, value: u64) -> i64 {
    // SAFETY: a syscall from the running process; p is not used across a
    // call back into proc.
    let p = unsafe { proc::current() };
    let Some(a) = p.aspace.as_mut() else {
        return EFAULT;
    };
    if !gva.is_multiple_of(8) || !a.copy_out(gva, &value.to_le_bytes()) {
        return EFAULT;
    }
    p.pattern_gva = gva;
    p.pattern = value;
    0
}
