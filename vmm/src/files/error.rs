//! Why `--files DIR` cannot be copied into the guest: one line each,
//! naming the host path it is about.

use std::path::Path;

use abi::tree::{MAX_ENTRIES, PATH_MAX, TreeError};

use crate::loader::file::FileError;
use crate::size::format_size;

/// Why the tree cannot be packed; `path` is the host path, escaped for
/// one line.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// DIR itself is not a directory.
    #[error("--files: {path}: not a directory (it is {kind})")]
    NotDir {
        /// DIR, escaped.
        path: String,
        /// What it is, in `ls -l` words.
        kind: &'static str,
    },
    /// An entry cannot be looked at, listed, opened or read, is on a
    /// pseudo file system, or changed while microvmm read it.
    #[error("--files: {path}: {error}")]
    File {
        /// The entry, escaped.
        path: String,
        /// What went wrong.
        error: FileError,
    },
    /// A FIFO, socket or device.
    #[error(
        "--files: {path}: {kind}; only regular files, directories and symlinks can be copied \
         into the guest"
    )]
    Special {
        /// The entry, escaped.
        path: String,
        /// What it is, in `ls -l` words ("a FIFO").
        kind: &'static str,
    },
    /// A name, path or symlink target outside the tree image's limits.
    #[error("--files: {path}: {why}")]
    Name {
        /// The entry, escaped.
        path: String,
        /// The tree format's rule it breaks (abi::tree).
        why: TreeError,
    },
    /// A path in the guest (relative to DIR) over abi::tree::PATH_MAX.
    #[error("--files: {path}: its path in the guest is {len} bytes; at most {PATH_MAX} fit")]
    PathTooLong {
        /// The entry, escaped.
        path: String,
        /// Bytes of its path relative to DIR.
        len: usize,
    },
    /// More entries than a tree image holds.
    #[error(
        "--files: {path}: more than {MAX_ENTRIES} entries; the guest's tree holds at most {MAX_ENTRIES}"
    )]
    TooMany {
        /// The first entry past the limit (or the directory holding it).
        path: String,
    },
    /// The image grows past its bound at this entry.
    #[error(
        "--files: {path}: the tree is larger than {} with this entry (its bound: a quarter \
         of --mem {}); give more --mem or fewer files", format_size(*.bound), format_size(*.ram_size)
    )]
    TooLarge {
        /// The entry at which the bound was passed.
        path: String,
        /// The bound in bytes (abi::tree::max_image).
        bound: u64,
        /// Guest RAM in bytes.
        ram_size: u64,
    },
    /// The tree fits its bound, but not beside the kernel and the `--run`
    /// programs.
    #[error(
        "--files: {path}: the tree ({}) does not fit in guest RAM with the kernel and the \
         --run programs: they need {}, --mem is {}", format_size(*.len), format_size(*.need),
        format_size(*.ram_size)
    )]
    NoRoom {
        /// DIR, escaped.
        path: String,
        /// The image's bytes.
        len: u64,
        /// Bytes needed, the tree and the programs' segments included.
        need: u64,
        /// Guest RAM in bytes.
        ram_size: u64,
    },
    /// Guest memory refused the write (a bug: the layout was checked).
    #[error("--files: cannot write the tree into guest memory: {0}")]
    Memory(#[from] vm_memory::GuestMemoryError),
}

/// `path` as one printable line: printable ASCII as is, any other byte
/// (a newline, an escape, non-ASCII) as \xNN. Not cut short: the path is
/// the point of the message, and the walk bounds its length.
pub fn shown(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}
