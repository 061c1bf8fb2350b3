//! The microvmm guest kernel: boots on PVM (native mode) or plain x86-64,
//! gives each user process its own address space, and tells the VMM about
//! every one of them.
#![no_std]

pub mod arch;
pub mod boot;
pub mod bootinfo;
pub mod console;
pub mod entry;
pub mod exec;
pub mod file;
pub mod fpu;
pub mod fs;
pub mod idle;
pub mod memlayout;
pub mod mm;
pub mod modules;
pub mod pipe;
pub mod proc;
pub mod programs;
pub mod random;
pub mod rt;
pub mod running;
pub mod shutdown;
pub mod smp;
pub mod startup;
pub mod sync;
pub mod syscall;
pub mod timer;
pub mod trace;
pub mod trap;
pub mod vmmdev;

pub use bootinfo::Machine;
