//! Kernel globals that are more than a word (words are atomics). Kernel
//! code runs on one CPU at a time (the big kernel lock, smp.rs, is held
//! from every entry until the return to user mode), and the kernel never
//! takes an interrupt while it runs (IF is clear in supervisor mode on
//! x86; PVM's VIF `if` byte stays 0), so a global is only ever touched by
//! one flow of control at a time; `get` is still `unsafe`, because two live
//! `&mut` to one cell would be undefined behaviour.

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
