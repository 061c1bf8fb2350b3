//! `--files DIR`: a copy of a host directory becomes the guest's root file
//! tree, as an initramfs does. The VMM walks DIR before KVM is opened
//! (`walk.rs`: every refusal names its path, exit 2), lays the image out
//! after the `--run` modules, and writes it into guest RAM (`image.rs`) in
//! the abi::tree format; BootInfo's `tree_gpa`/`tree_len` tell the kernel
//! where:
//!
//! ```text
//! GPA: kernel image | modules (ELF, argv, ...) | tree image | free_start ..
//!                                               page aligned, at most a quarter of --mem
//! ```
//!
//! The bound is `abi::tree::max_image(--mem)`: a quarter of guest RAM,
//! leaving room for the kernel, the programs, the guest file system's own
//! copy and the processes. At most `abi::tree::MAX_ENTRIES` entries.

mod error;
pub mod image;
pub mod walk;

pub use error::FilesError;
pub use walk::{Node, Walked, walk};

use std::path::Path;

use serde::Serialize;

use crate::addr::{Gpa, PAGE};

/// A walked tree and where it goes in guest RAM.
#[derive(Debug)]
pub struct Staged {
    /// The tree.
    pub walked: Walked,
    /// The image's first GPA (page aligned).
    pub gpa: Gpa,
    /// The first free GPA past it (page aligned): BootInfo.free_start.
    pub free: Gpa,
}

/// Walk `dir` and lay its image out from `start` (the first free GPA past
/// the kernel and the modules), in a guest of `ram_size` bytes whose
/// programs' segments will take `segments` bytes once loaded.
pub fn stage(dir: &Path, start: Gpa, segments: u64, ram_size: u64) -> Result<Staged, FilesError> {
    let walked = walk(dir, ram_size)?;
    let gpa = start.raw().checked_next_multiple_of(PAGE);
    let end = gpa
        .and_then(|g| g.checked_add(walked.len))
        .and_then(|e| e.checked_next_multiple_of(PAGE));
    let need = end.map_or(u64::MAX, |e| e.saturating_add(segments));
    match (gpa, end) {
        (Some(gpa), Some(end)) if need <= ram_size => Ok(Staged {
            walked,
            gpa: Gpa(gpa),
            free: Gpa(end),
        }),
        _ => Err(FilesError::NoRoom {
            path: error::shown(dir),
            len: walked.len,
            need,
            ram_size,
        }),
    }
}

/// The `files` object of the JSON report: what `--files` put in the guest.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct FilesReport {
    /// DIR as given, escaped for one line.
    pub dir: String,
    /// Entries in the tree (directories, files and symlinks; the root not
    /// counted).
    pub entries: u64,
    /// Bytes of the image in guest RAM.
    pub bytes: u64,
    /// Where the image starts in guest RAM.
    pub gpa: Gpa,
}

impl Staged {
    /// What the report says of it.
    pub fn report(&self) -> FilesReport {
        FilesReport {
            dir: error::shown(&self.walked.dir),
            entries: self.walked.nodes.len() as u64,
            bytes: self.walked.len,
            gpa: self.gpa,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tree_tests;
