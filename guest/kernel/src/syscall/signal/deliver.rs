//! Delivery: pending signals taken on the way back to user code (`deliver`),
//! a fault turned into its signal (`fault`), the handler run on Linux's
//! rt_sigframe (`run_handler`, `frame`; the layout is drawn in
//! `signal.rs`), and rt_sigreturn back to the interrupted code.

use abi::syscall::EFAULT;

use super::super::{Ret, current, with_aspace};
use super::{
    Action, ENTRY_CLEAR, FRAME, NSIG, RED_ZONE, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTORER,
    SI_OFF, SIG_DFL, SIGSEGV, SS_AUTODISARM, SS_ONSTACK, UC_OFF, UNBLOCKABLE, USER_END, USER_FLAGS,
    action, bit,
};
use crate::entry::{TrapFrame, USER_CS, USER_SS};
use crate::proc::{self, Exit, SS_DISABLE, SigInfo};

/// A handler left without rt_sigreturn (siglongjmp out of it, as C
/// programs and test harnesses do) is over once the stack pointer `rsp`
/// is off the stack it ran on: signals are delivered again from then on.
/// Its saved FPU state is dropped, as Linux drops its frame.
pub fn settle(rsp: u64) {
    let p = current();
    let (lo, hi) = p.handler_stack;
    if p.in_handler && !(lo <= rsp && rsp < hi) {
        p.in_handler = false;
        p.sig_deadline = 0;
    }
}

/// Deliver the current process's first deliverable pending signal, as it
/// is about to return to user code with `f`: end it (default action), or
/// set `f` up to run the handler. True if `f` changed (it must then be
/// restored whole, not by sysret), false if nothing was delivered.
pub fn deliver(f: &mut TrapFrame) -> bool {
    settle(f.rsp);
    let p = current();
    // rt_sigsuspend's temporary mask lasts until this delivery.
    let restore = p.suspend_mask.take();
    let old = restore.unwrap_or(p.sigmask);
    let ready = p.pending & !p.sigmask;
    for sig in 1..=NSIG {
        if ready & bit(sig) == 0 {
            continue;
        }
        match action(p, sig) {
            Action::Ignore => p.pending &= !bit(sig),
            Action::Terminate => {
                p.pending &= !bit(sig);
                p.sigmask = old;
                proc::exit_current(f, Exit::Signal(sig as u32));
                return true;
            }
            Action::Catch if p.in_handler => {}
            Action::Catch => {
                p.pending &= !bit(sig);
                p.sigmask = old;
                run_handler(f, sig);
                return true;
            }
        }
    }
    current().sigmask = old;
    false
}

/// A fault in user code that raises `sig` (si_code `code`, si_addr
/// `addr`), as Linux's force_sig_fault: run the process's handler at
/// once, with `f` as the interrupted context. False when the signal is
/// not caught, is blocked, or a handler runs already: the caller ends the
/// process (Linux, too, takes a blocked or ignored fault signal's default
/// action, and this kernel runs one handler at a time).
pub fn fault(f: &mut TrapFrame, sig: u64, code: i32, addr: u64) -> bool {
    settle(f.rsp);
    let p = current();
    if action(p, sig) != Action::Catch || p.sigmask & bit(sig) != 0 || p.in_handler {
        return false;
    }
    p.siginfo[(sig - 1) as usize] = SigInfo {
        code,
        pid: 0,
        status: 0,
        addr: Some(addr),
    };
    run_handler(f, sig);
    true
}

/// Build `sig`'s frame on the current process's stack and point `f` at
/// its handler. The mask in the frame is the one in force now.
fn run_handler(f: &mut TrapFrame, sig: u64) {
    let p = current();
    let i = (sig - 1) as usize;
    let [handler, flags, restorer, mask] = p.sigactions[i];
    // A handler outside the user half would make the return to user mode
    // itself fault (iretq to a non-canonical rip faults in the kernel).
    if flags & SA_RESTORER == 0 || restorer == 0 || handler >= USER_END {
        // Linux on x86-64 cannot return from such a handler either.
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return;
    }
    let alt = p.altstack;
    let alt_on = alt.flags & SS_DISABLE == 0 && alt.size != 0;
    let on_alt = alt_on && f.rsp.wrapping_sub(alt.sp) < alt.size;
    let mut sp = f.rsp.wrapping_sub(RED_ZONE);
    let to_alt = flags & SA_ONSTACK != 0 && alt_on && !on_alt;
    if to_alt {
        sp = alt.sp.wrapping_add(alt.size);
    }
    // (rsp + 8) % 16 == 0 at entry, as after a call.
    let sp = (sp.wrapping_sub(FRAME as u64) & !15).wrapping_sub(8);
    let handler_stack = if to_alt || on_alt {
        (alt.sp, alt.sp.wrapping_add(alt.size))
    } else {
        (0, sp.wrapping_add(FRAME as u64))
    };
    let ss_flags = if !alt_on {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        0
    } | alt.flags & SS_AUTODISARM;
    let b = frame(f, p, sig, restorer, ss_flags);
    if with_aspace(|a| if a.copy_out(sp, &b) { 0 } else { EFAULT }) != 0 {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return;
    }
    let p = current();
    p.sigfpu.0.copy_from_slice(&p.fpu.0);
    p.in_handler = true;
    p.handler_stack = handler_stack;
    // A timed wait the handler interrupted keeps its deadline for when it
    // runs again; the handler's own calls start without one.
    p.sig_deadline = p.call_deadline;
    p.call_deadline = 0;
    if flags & SA_NODEFER == 0 {
        p.sigmask |= bit(sig);
    }
    p.sigmask = (p.sigmask | mask) & !UNBLOCKABLE;
    if flags & SA_RESETHAND != 0 {
        p.sigactions[i] = [SIG_DFL, 0, 0, 0];
    }
    f.rip = handler;
    f.rdi = sig;
    f.rsi = sp + SI_OFF;
    f.rdx = sp + UC_OFF;
    f.rax = 0;
    f.rsp = sp;
    f.rflags &= !ENTRY_CLEAR;
    f.cs = USER_CS;
    f.ss = USER_SS;
}

/// `sig`'s frame, Linux's rt_sigframe (drawn at the top of this file), as
/// bytes: `restorer` to return through, the alternate stack with its
/// `ss_flags`, the interrupted registers of `f`, the mask in force, and
/// the siginfo the signal was posted with.
fn frame(f: &TrapFrame, p: &proc::Proc, sig: u64, restorer: u64, ss_flags: u64) -> [u8; FRAME] {
    let info = p.siginfo[(sig - 1) as usize];
    let alt = p.altstack;
    let mut w = [0u64; FRAME / 8];
    w[0] = restorer;
    w[3] = alt.sp;
    w[4] = ss_flags;
    w[5] = alt.size;
    let sc = [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx,
        f.rax, f.rcx, f.rsp, f.rip, f.rflags,
    ];
    w[6..6 + sc.len()].copy_from_slice(&sc);
    w[24] = (f.cs & 0xffff) | (f.ss & 0xffff) << 48;
    w[25] = f.err;
    w[26] = f.vec;
    w[27] = p.sigmask;
    // w[29], fpstate: 0, the FPU state stays in the kernel.
    w[38] = p.sigmask;
    let si = 39;
    w[si] = sig;
    w[si + 1] = info.code as u32 as u64;
    if let Some(addr) = info.addr {
        // A fault: si_addr, and sigcontext's cr2 as Linux fills it.
        w[si + 2] = addr;
        w[28] = addr;
    } else {
        w[si + 2] = u64::from(info.pid);
        w[si + 3] = info.status as u32 as u64;
    }
    let mut b = [0u8; FRAME];
    for (k, v) in w.iter().enumerate() {
        b[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// rt_sigreturn(2): back from a handler to the code it interrupted, from
/// the frame `run_handler` built (its restorer's `ret` popped pretcode,
/// so it starts at rsp - 8): registers, rflags' user bits, mask, FPU.
pub fn sigreturn(f: &mut TrapFrame) -> Ret {
    let at = f.rsp.wrapping_sub(8);
    let mut b = [0u8; SI_OFF as usize];
    if with_aspace(|a| if a.copy_in(&mut b, at) { 0 } else { EFAULT }) != 0 {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return Ret::Switched(true);
    }
    let w = |k: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[k * 8..k * 8 + 8]);
        u64::from_le_bytes(x)
    };
    // The same for a rip the handler left outside the user half.
    if w(22) >= USER_END {
        proc::exit_current(f, Exit::Signal(SIGSEGV as u32));
        return Ret::Switched(true);
    }
    f.r8 = w(6);
    f.r9 = w(7);
    f.r10 = w(8);
    f.r11 = w(9);
    f.r12 = w(10);
    f.r13 = w(11);
    f.r14 = w(12);
    f.r15 = w(13);
    f.rdi = w(14);
    f.rsi = w(15);
    f.rbp = w(16);
    f.rbx = w(17);
    f.rdx = w(18);
    f.rax = w(19);
    f.rcx = w(20);
    f.rsp = w(21);
    f.rip = w(22);
    f.rflags = (f.rflags & !USER_FLAGS) | (w(23) & USER_FLAGS) | 0x202;
    f.cs = USER_CS;
    f.ss = USER_SS;
    let p = current();
    p.sigmask = w(38) & !UNBLOCKABLE;
    if p.in_handler {
        p.fpu.0.copy_from_slice(&p.sigfpu.0);
        p.in_handler = false;
        p.call_deadline = p.sig_deadline;
    }
    deliver(f);
    Ret::Switched(true)
}
