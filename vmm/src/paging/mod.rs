//! x86-64 page tables as data: decoding entries, walking, enumerating. Pure:
//! no KVM, only a reader of guest-physical memory.
//!
//! `walk` translates one address the way the MMU does; `mapped_pages` lists
//! every page an address space maps; `two_d_refs` counts what the same
//! translation costs the hardware under EPT/NPT.

mod bits;
mod builder;
mod entry;
mod fault;
mod level;
mod mode;
mod pages;
mod physmem;
#[cfg(test)]
mod proptests;
mod ranges;
mod tables;
mod twod;
mod walk;

pub use builder::{BuildError, TableBuilder};
pub use entry::PteFlags;
pub use fault::WalkFault;
pub use level::{LevelName, PageSize};
pub use mode::{Cr3, ModeError, PagingMode};
pub use pages::{MappedPages, Page, mapped_pages};
pub use physmem::{FlatMem, PhysMem};
pub use ranges::{MappedRange, MappedRanges, coalesce, coalesce_at_most, mapped_ranges};
pub use tables::table_pages;
pub use twod::{nested_depth, nested_walk_refs, two_d_refs};
pub use walk::{Level, Translation, walk};
