//! fork(2), vfork(2) and clone(2) without CLONE_VM (or with it only as
//! vfork uses it): a new process whose address space is a copy-on-write
//! copy of the caller's (`mm::cow`), with the same registers (but rax 0),
//! FPU state, TLS bases, descriptors (each open file one more reference),
//! working directory, signal dispositions and name. The child is reported
//! to the VMM as created, with its parent's pid.

use abi::msg::PROC_CREATED;
use abi::syscall::{EAGAIN, EINVAL, ENOMEM};

use super::report::report;
use super::{Proc, State, table};
use crate::arch::fsbase::{self, Seg};
use crate::entry::TrapFrame;

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;

/// clone's arguments (x86-64 order: flags, stack, parent_tid, child_tid,
/// tls).
pub struct Clone {
    pub flags: u64,
    pub stack: u64,
    pub ptid: u64,
    pub ctid: u64,
    pub tls: u64,
}

impl Clone {
    /// fork(2) and vfork(2): a child that sends SIGCHLD at exit.
    pub const FORK: Clone = Clone {
        flags: 17,
        stack: 0,
        ptid: 0,
        ctid: 0,
        tls: 0,
    };
}

/// Make the child; its pid, or -errno. `f` is the caller's frame.
/// CLONE_THREAD makes a thread (`thread::spawn`).
pub fn fork(f: &TrapFrame, c: &Clone) -> i64 {
    if c.flags & CLONE_THREAD != 0 {
        return super::thread::spawn(f, c);
    }
    // A process sharing memory without being a thread is not served;
    // vfork's CLONE_VM|CLONE_VFORK is served as fork: the child gets a copy.
    if (c.flags & CLONE_VM != 0 && c.flags & CLONE_VFORK == 0)
        || c.flags & (CLONE_FILES | CLONE_FS | CLONE_SIGHAND) != 0 && c.flags & CLONE_VM == 0
    {
        return EINVAL;
    }
    let t = table();
    let cur = t.cur();
    let Some(slot) = t.procs.iter().position(|p| p.state == State::Unused) else {
        return EAGAIN;
    };
    let Some(aspace) = t.procs[cur].aspace.as_mut().and_then(|a| a.fork()) else {
        return ENOMEM;
    };
    let pid = t.next_pid;
    t.next_pid += 1;
    let (parent, child) = clone_into(&mut t.procs, cur, slot, f, c);
    child.pid = pid;
    child.tgid = pid;
    // A child of any thread is a child of its process (the group).
    child.ppid = if c.flags & CLONE_PARENT != 0 {
        parent.ppid
    } else {
        parent.tgid
    };
    child.aspace = Some(aspace);
    child.fds = parent.fds.fork();
    child.altstack = parent.altstack;
    child.forked = true;
    child.sigmask = parent.sigmask;
    child.in_handler = parent.in_handler;
    child.sig_deadline = parent.sig_deadline;
    child.handler_stack = parent.handler_stack;
    if parent.in_handler {
        child.sigfpu = parent.sigfpu;
    }
    child.state = State::Runnable;
    if c.flags & CLONE_CHILD_SETTID != 0
        && let Some(a) = child.aspace.as_mut()
    {
        // The child's copy of the page: copy_out breaks the sharing.
        let _ = a.copy_out(c.ctid, &pid.to_le_bytes());
    }
    if c.flags & CLONE_PARENT_SETTID != 0
        && let Some(a) = parent.aspace.as_mut()
    {
        // A bad pointer is the caller's own loss: the child exists.
        let _ = a.copy_out(c.ptid, &pid.to_le_bytes());
    }
    report(child, PROC_CREATED, None);
    super::queue::place(t, slot);
    pid as i64
}

/// Slot `slot`, made a copy of the caller (slot `cur`) in what fork and a
/// new thread both take from it; everything else is a new process's
/// (`Proc::EMPTY`), so nothing of the slot's last owner survives. Taken:
/// the caller's registers with rax 0 (on `c.stack` when given), its FPU
/// state, its live FS base (or `c.tls` with CLONE_SETTLS) and GS base, its
/// name and program, working directory, umask and signal dispositions.
pub(super) fn clone_into<'a>(
    procs: &'a mut [Proc],
    cur: usize,
    slot: usize,
    f: &TrapFrame,
    c: &Clone,
) -> (&'a mut Proc, &'a mut Proc) {
    // The caller's live bases: user code may have run wrfsbase itself.
    let fs_base = fsbase::read();
    let gs_base = fsbase::read_base(Seg::Gs);
    procs[slot] = Proc::EMPTY;
    let (parent, child) = pair(procs, cur, slot);
    child.name = parent.name;
    child.affinity = parent.affinity;
    child.cpu = crate::smp::cpu() as u32;
    child.module = parent.module;
    child.frame = *f;
    child.frame.rax = 0;
    if c.stack != 0 {
        child.frame.rsp = c.stack;
    }
    child.fpu = parent.fpu;
    child.fs_base = if c.flags & CLONE_SETTLS != 0 {
        c.tls
    } else {
        fs_base
    };
    child.gs_base = gs_base;
    child.cwd = parent.cwd;
    child.umask = parent.umask;
    child.sigactions = parent.sigactions;
    (parent, child)
}

/// Two distinct slots of the table, mutably.
pub(super) fn pair(procs: &mut [Proc], a: usize, b: usize) -> (&mut Proc, &mut Proc) {
    if a < b {
        let (lo, hi) = procs.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = procs.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}
