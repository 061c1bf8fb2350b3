//! Packing a walked tree into guest RAM as an abi::tree image: the header,
//! then each record (its header, path, data, zero padding), written
//! straight into guest memory. Files are streamed from the host in
//! `CHUNK`s, and each must still be the file the walk saw (same device,
//! inode and size), so the VMM holds no copy of the tree.

use std::os::unix::fs::MetadataExt;

use abi::Pod;
use abi::tree::{self, ENTRY_HEADER_LEN, EntryHeader, HEADER_LEN, Kind};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::error::{FilesError, shown};
use super::walk::{Node, Walked};
use crate::addr::Gpa;
use crate::loader::file::{self, FileError};

/// Bytes read from a file and written to guest RAM at a time.
const CHUNK: usize = 1 << 20;

/// Write the image of `w` at `gpa`; its `w.len` bytes must fit there (the
/// caller laid it out). An error names the file that could not be read
/// again or changed since the walk.
pub fn place(mem: &GuestMemoryMmap, w: &Walked, gpa: Gpa) -> Result<(), FilesError> {
    // At most MAX_ENTRIES nodes: the count fits.
    let count = u32::try_from(w.nodes.len()).unwrap_or(u32::MAX);
    let head = tree::header(count, w.len, w.root_mode);
    mem.write_slice(head.as_bytes(), GuestAddress(gpa.raw()))?;
    let mut at = gpa.raw() + HEADER_LEN as u64;
    for node in &w.nodes {
        at = record(mem, node, at)?;
    }
    debug_assert_eq!(at - gpa.raw(), w.len, "the walk counted what was written");
    Ok(())
}

/// Write one record at `at`; the GPA just past it.
fn record(mem: &GuestMemoryMmap, node: &Node, at: u64) -> Result<u64, FilesError> {
    let bad_name = |why| FilesError::Name {
        path: shown(&node.host),
        why,
    };
    let head = EntryHeader::new(node.kind, node.mode, node.path.len(), node.size)
        .ok_or(bad_name(tree::TreeError::PathLength))?;
    let len = tree::record_len(node.path.len(), node.size)
        .ok_or(bad_name(tree::TreeError::PathLength))?;
    mem.write_slice(head.as_bytes(), GuestAddress(at))?;
    let path_at = at + ENTRY_HEADER_LEN as u64;
    mem.write_slice(&node.path, GuestAddress(path_at))?;
    let data_at = path_at + node.path.len() as u64;
    match node.kind {
        Kind::Dir => {}
        Kind::Symlink => mem.write_slice(&node.target, GuestAddress(data_at))?,
        Kind::File => stream(mem, node, data_at)?,
    }
    let end = at + len;
    let pad = end - (data_at + node.size);
    mem.write_slice(
        &[0u8; tree::ALIGN][..pad as usize],
        GuestAddress(data_at + node.size),
    )?;
    Ok(end)
}

/// Copy the file of `node` to `gpa`, `CHUNK` by `CHUNK`: exactly the
/// `node.size` bytes of the same file the walk looked at.
fn stream(mem: &GuestMemoryMmap, node: &Node, gpa: u64) -> Result<(), FilesError> {
    let err = |error| FilesError::File {
        path: shown(&node.host),
        error,
    };
    let changed = || err(FileError::Changed { was: node.size });
    let (mut f, size) = file::open_regular(&node.host).map_err(err)?;
    let meta = f.metadata().map_err(|e| err(FileError::Read(e)))?;
    if size != node.size || (meta.dev(), meta.ino()) != node.id {
        return Err(changed());
    }
    let mut done = 0u64;
    while done < size {
        let want = usize::try_from(size - done).map_or(CHUNK, |n| n.min(CHUNK));
        let chunk = file::read_head(&mut f, size - done, want).map_err(err)?;
        if chunk.is_empty() {
            return Err(changed());
        }
        mem.write_slice(&chunk, GuestAddress(gpa + done))?;
        done += chunk.len() as u64;
    }
    file::expect_end(&mut f, size).map_err(err)
}
