//! The microvmm hypercall device: one `out` carries the GPA of a message
//! laid out in guest memory (abi::msg), so each report costs one exit.
//! Under other VMMs (QEMU) the probe port reads all-ones and every report
//! is skipped: the kernel carries on without it.
//!
//! Console output waits in an outbox (outbox.rs) until the next exit of
//! any kind: any other message first sends what it holds.

use abi::msg::{Header, MSG_MAX};

use crate::arch::cpu;
use crate::memlayout::{Va, v2p};
use crate::sync::KCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub mod outbox;

#[repr(C, align(4096))]
struct MsgPage([u8; MSG_MAX as usize]);

/// The one message page the VMM reads. Protected by the big kernel lock:
/// filled and sent (one port exit) within one `send`, never re-entered.
static PAGE: KCell<MsgPage> = KCell::new(MsgPage([0; MSG_MAX as usize]));
static PRESENT: AtomicBool = AtomicBool::new(false);

/// Look for the device; remember the answer.
pub fn probe() -> bool {
    let p = cpu::inl(abi::PORT_HYPERCALL) == abi::HYPERCALL_MAGIC;
    PRESENT.store(p, Ordering::Relaxed);
    p
}

pub fn present() -> bool {
    PRESENT.load(Ordering::Relaxed)
}

/// A message type: a repr(C) struct that starts with a Header.
pub trait Message: Copy {
    const KIND: u32;
    fn header(&mut self) -> &mut Header;
}

macro_rules! message {
    ($t:ty, $k:expr) => {
        impl Message for $t {
            const KIND: u32 = $k;
            fn header(&mut self) -> &mut Header {
                &mut self.hdr
            }
        }
    };
}
message!(abi::msg::Boot, abi::msg::KIND_BOOT);
message!(abi::msg::Console, abi::msg::KIND_CONSOLE);
message!(abi::msg::Proc, abi::msg::KIND_PROC);
message!(abi::msg::Whereis, abi::msg::KIND_WHEREIS);
message!(abi::msg::Mark, abi::msg::KIND_MARK);
message!(abi::msg::Stdin, abi::msg::KIND_STDIN);
message!(abi::msg::DebugTrap, abi::msg::KIND_DEBUG_TRAP);
message!(abi::msg::Threads, abi::msg::KIND_THREADS);

/// Send `m` (the VMM may write an answer into it); return the VMM's result
/// code, or None when there is no device.
pub fn send<M: Message>(m: &mut M) -> Option<i32> {
    if !present() {
        return None;
    }
    outbox::flush();
    transmit(m)
}

/// The exit itself. Not inlined, so that the outbox's flush in `send`
/// and this frame (which copies the message) do not stack up.
#[inline(never)]
fn transmit<M: Message>(m: &mut M) -> Option<i32> {
    let size = core::mem::size_of::<M>();
    let h = m.header();
    h.kind = M::KIND;
    h.size = size as u32;
    h.result = abi::msg::RESULT_INVALID;
    // SAFETY: the message page is used only here, start to end.
    let page = unsafe { PAGE.get() };
    let dst = page.0.as_mut_ptr() as *mut M;
    // SAFETY: M fits in the page (all messages are < MSG_MAX, asserted in abi)
    // and the page is 4 KiB aligned, so the copy is in bounds and aligned.
    unsafe {
        core::ptr::write_volatile(dst, *m);
        cpu::outl(abi::PORT_HYPERCALL, v2p(Va(dst as u64)).get() as u32);
        *m = core::ptr::read_volatile(dst);
    }
    Some(m.header().result)
}

/// Hand the VMM the guest's exit status. The VMM ends the run on this
/// `out`, so it returns (false) only when there is no device.
pub fn send_shutdown(status: u32) -> bool {
    if !present() {
        return false;
    }
    outbox::flush();
    cpu::outl(abi::PORT_SHUTDOWN, status);
    true
}
