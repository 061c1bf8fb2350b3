//! Memory management: physical frames, page tables, the kernel's own table
//! and per-process address spaces.

pub mod addrspace;
pub mod cow;
pub mod filemap;
pub mod frame;
pub mod huge;
pub mod kspace;
pub mod mmap;
pub mod pte;
pub mod refcount;
pub mod region;
