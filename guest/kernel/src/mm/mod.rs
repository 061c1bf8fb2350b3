//! Memory management: physical frames, page tables, the kernel's own table
//! and per-process address spaces.
//!
//! One way down: addrspace.rs (a process's address space, every operation
//! on it) calls the helpers, which never see the whole space: fault.rs,
//! mmap.rs, carve.rs, cow.rs, filemap.rs, huge.rs, region.rs and
//! userpages.rs; under them all pte.rs, frame.rs (with refcount.rs) and
//! kspace.rs.

pub mod addrspace;
pub mod carve;
pub mod cow;
pub mod fault;
pub mod filemap;
pub mod frame;
pub mod huge;
pub mod kspace;
pub mod mmap;
pub mod pte;
pub mod refcount;
pub mod region;
pub mod usercopy;
pub mod userpages;
