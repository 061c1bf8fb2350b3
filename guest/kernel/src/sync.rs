//! Kernel globals that are more than a word (words are atomics). Kernel
//! code runs on one CPU at a time (the big kernel lock, smp.rs, is held
//! from every entry until the return to user mode), and the kernel never
//! takes an interrupt while it runs (IF is clear in supervisor mode on
//! x86; PVM's VIF `if` byte stays 0), so a global is only ever touched by
//! one flow of control at a time; `get` is still `unsafe`, because two live
//! `&mut` to one cell would be undefined behaviour.
//!
//! What protects each cell (as xv6's proc.h says it per field): every
//! `KCell` is protected by the big kernel lock, and each is reached only
//! through one private accessor in its own module, which takes it for one
//! operation and calls nothing that takes it again meanwhile (the
//! accessor's SAFETY comment says how). The cells, by module:
//!
//! | cell | module | accessor | note |
//! |---|---|---|---|
//! | `TABLE` | proc/mod.rs | `table`, `current` | `cur[c]`, `gathering[c]` written only by CPU c |
//! | `SHOTS` | proc/cpus.rs | `shots_of`, `take_shots` | |
//! | `ENDED` | proc/ended.rs | `record`, `send` | |
//! | `SCRATCH` | proc/execve.rs | one execve | |
//! | `FRAMES` | mm/frame.rs | `frames` | |
//! | `COUNTS` | mm/refcount.rs | `counts` | |
//! | `KERNEL` | mm/kspace.rs | `kernel` | written once at boot, before other CPUs run |
//! | `FILES` | file/mod.rs | `files` | |
//! | `INSTANCES` | file/epoll.rs | `instances` | |
//! | `COUNTERS` | file/eventfd.rs | `counters` | |
//! | `PIPES` | pipe.rs | `pipes` | |
//! | `NODES` | fs/node.rs | `table` | |
//! | `OUTBOX` | vmmdev/outbox.rs | `outbox` | |
//! | `PAGE` | vmmdev.rs | `send` | one message at a time |
//! | `BATCH`, `ASKED` | smp.rs | the shootdown functions | `BATCH[c]` written only by CPU c |
//!
//! State a CPU reads without the lock (the lock word itself, the per-CPU
//! running records, `SCHED_GEN`, the IPI flags) is atomic, not a `KCell`.

use core::cell::UnsafeCell;

pub struct KCell<T>(UnsafeCell<T>);

// SAFETY: one CPU in the kernel at a time (the big kernel lock), no
// preemption inside the kernel (see the module doc).
unsafe impl<T> Sync for KCell<T> {}

impl<T> KCell<T> {
    pub const fn new(v: T) -> Self {
        Self(UnsafeCell::new(v))
    }

    /// The value.
    ///
    /// # Safety
    /// No other reference obtained from this cell may be used while the
    /// result is alive. Kernel code runs on one CPU at a time (the big
    /// kernel lock) and is never re-entered
    /// (no interrupts in supervisor mode), so each module keeps this by
    /// taking its cell once per operation and not calling back into itself
    /// while it holds it.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self) -> &mut T {
        // SAFETY: exclusivity is the caller's promise (see above).
        unsafe { &mut *self.0.get() }
    }
}
