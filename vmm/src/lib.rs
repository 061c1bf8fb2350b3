//! microvmm: a small KVM micro-VMM that boots its own guest kernel and shows
//! where every page of every guest process lives: guest-virtual ->
//! guest-physical -> host-virtual -> host-physical, level by level.
//!
//! `run(config)` is the whole program; `main.rs` is only the command line.

pub mod addr;
pub mod devices;
pub mod error;
pub mod host;
pub mod hostmem;
pub mod loader;
pub mod memory;
pub mod paging;
pub mod report;
pub mod size;
pub mod vcpu;

pub use error::Error;
