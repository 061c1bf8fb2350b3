//! Port I/O devices the guest talks to: the serial console (COM1 data
//! register) and microvmm's hypercall port, whose messages (abi::msg) are
//! decoded here with every field checked.

pub mod console;
pub mod event;
pub mod hypercall;
pub mod stdin;
pub mod threads;
