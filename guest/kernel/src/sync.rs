//! Kernel globals. One CPU, and the kernel never takes an interrupt while it
//! runs (IF is clear in supervisor mode on x86; PVM's VIF `if` byte stays 0),
//! so a global is only ever touched by one flow of control at a time.

use core::cell::UnsafeCell;

pub struct KCell<T>(UnsafeCell<T>);

// SAFETY: single CPU, no preemption inside the kernel (see the module doc).
unsafe impl<T> Sync for KCell<T> {}

impl<T> KCell<T> {
    pub const fn new(v: T) -> Self {
        Self(UnsafeCell::new(v))
    }

    /// The value. Callers must not hold two results of `get` on the same
    /// cell at once; the kernel's call structure keeps each borrow short.
    #[allow(clippy::mut_from_ref)]
    pub fn get(&self) -> &mut T {
        // SAFETY: see the module doc; borrows do not overlap by construction.
        unsafe { &mut *self.0.get() }
    }
}
