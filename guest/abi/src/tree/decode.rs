//! The kernel's side of the tree image: [`Tree::parse`] checks the header
//! against the buffer, and [`Tree::entries`] walks the records one at a
//! time, checking each one's lengths, path, kind and order with nothing but
//! the previous record (the kernel has no heap), and stops at the first bad
//! one.

use super::{
    ALIGN, ENTRY_HEADER_LEN, EntryHeader, HEADER_LEN, Header, Kind, MAX_ENTRIES, MODE_MASK,
    TREE_MAGIC, TREE_VERSION, TreeError, check_path, check_target, record_len,
};
use crate::Pod;

/// One record of a checked image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// What it is.
    pub kind: Kind,
    /// Its permission bits (`MODE_MASK`).
    pub mode: u16,
    /// Its path relative to the root (checked by [`check_path`]).
    pub path: &'a [u8],
    /// A file's bytes, a symlink's target, or empty for a directory.
    pub data: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The path's last component.
    pub fn name(&self) -> &'a [u8] {
        split_last(self.path).1
    }

    /// The parent directory's path (empty: the root).
    pub fn parent(&self) -> &'a [u8] {
        split_last(self.path).0
    }
}

/// (parent, name) of a path; the parent is empty at the root.
fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// A tree image whose header was checked.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    /// The header as read.
    pub header: Header,
    /// The image: exactly `header.total` bytes.
    image: &'a [u8],
}

impl<'a> Tree<'a> {
    /// Check the header of the image at the start of `buf`; bytes past
    /// its `total` are not part of it.
    pub fn parse(buf: &'a [u8]) -> Result<Tree<'a>, TreeError> {
        let header = Header::from_bytes(buf).ok_or(TreeError::Short)?;
        if header.magic != TREE_MAGIC {
            return Err(TreeError::BadMagic);
        }
        if header.version != TREE_VERSION {
            return Err(TreeError::BadVersion);
        }
        if header.count > MAX_ENTRIES {
            return Err(TreeError::TooManyEntries);
        }
        if header.root_mode & !MODE_MASK != 0 {
            return Err(TreeError::BadMode);
        }
        if header._pad != [0; 3] {
            return Err(TreeError::Padding);
        }
        let total = usize::try_from(header.total).map_err(|_| TreeError::Short)?;
        if total < HEADER_LEN || !total.is_multiple_of(ALIGN) {
            return Err(TreeError::BadTotal);
        }
        let image = buf.get(..total).ok_or(TreeError::Short)?;
        Ok(Tree { header, image })
    }

    /// The records, in order: each a checked [`Entry`] or the first error,
    /// after which the iterator ends.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            image: self.image,
            at: HEADER_LEN,
            left: self.header.count,
            prev: None,
            done: false,
        }
    }

    /// The root directory's mode.
    pub fn root_mode(&self) -> u16 {
        self.header.root_mode
    }
}

/// The records of a [`Tree`], checked one by one.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    image: &'a [u8],
    /// Offset of the next record.
    at: usize,
    /// Records still to read.
    left: u32,
    /// The previous record's path and kind (for the order rules).
    prev: Option<(&'a [u8], Kind)>,
    /// An error was yielded, or the end was checked.
    done: bool,
}

impl<'a> Entries<'a> {
    /// Read and check the record at `self.at`; on success, move past it.
    fn next_entry(&mut self) -> Result<Entry<'a>, TreeError> {
        let rest = self.image.get(self.at..).ok_or(TreeError::Truncated)?;
        let h = EntryHeader::from_bytes(rest).ok_or(TreeError::Truncated)?;
        let kind = Kind::from_u8(h.kind).ok_or(TreeError::BadKind)?;
        if h._pad != 0 || h._pad2 != 0 {
            return Err(TreeError::Padding);
        }
        if h.mode & !MODE_MASK != 0 {
            return Err(TreeError::BadMode);
        }
        let path_len = usize::from(h.path_len);
        let data_len = usize::try_from(h.data_len).map_err(|_| TreeError::Truncated)?;
        let len = record_len(path_len, h.data_len).ok_or(TreeError::Truncated)?;
        let len = usize::try_from(len).map_err(|_| TreeError::Truncated)?;
        let rec = rest.get(..len).ok_or(TreeError::Truncated)?;
        // record_len proved 16 + path_len + data_len <= len == rec.len().
        let path = rec
            .get(ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + path_len)
            .ok_or(TreeError::Truncated)?;
        let data_at = ENTRY_HEADER_LEN + path_len;
        let data = rec
            .get(data_at..data_at + data_len)
            .ok_or(TreeError::Truncated)?;
        if rec[data_at + data_len..].iter().any(|&b| b != 0) {
            return Err(TreeError::Padding);
        }
        check_path(path)?;
        match kind {
            Kind::Dir if !data.is_empty() => return Err(TreeError::DirData),
            Kind::Symlink => check_target(data)?,
            _ => {}
        }
        self.check_place(path)?;
        self.at += len;
        self.prev = Some((path, kind));
        Ok(Entry {
            kind,
            mode: h.mode,
            path,
            data,
        })
    }

    /// The order rules: `path`'s parent is the root, the previous record
    /// (a directory) or an ancestor of it, and its name sorts after the
    /// sibling the previous record lies under.
    fn check_place(&self, path: &[u8]) -> Result<(), TreeError> {
        let (parent, name) = split_last(path);
        let Some((prev, prev_kind)) = self.prev else {
            return if parent.is_empty() {
                Ok(())
            } else {
                Err(TreeError::NoParent)
            };
        };
        // Where, in the previous path, the sibling's name starts.
        let sibling_at = if parent.is_empty() {
            0
        } else if prev == parent {
            // The first child of the directory just listed.
            return if prev_kind == Kind::Dir {
                Ok(())
            } else {
                Err(TreeError::ParentNotDir)
            };
        } else if prev.len() > parent.len()
            && prev.starts_with(parent)
            && prev[parent.len()] == b'/'
        {
            parent.len() + 1
        } else {
            return Err(TreeError::NoParent);
        };
        let tail = &prev[sibling_at..];
        let sibling = tail.split(|&b| b == b'/').next().unwrap_or(tail);
        if name > sibling {
            Ok(())
        } else {
            Err(TreeError::Order)
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, TreeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.left == 0 {
            self.done = true;
            return (self.at != self.image.len()).then_some(Err(TreeError::Trailing));
        }
        self.left -= 1;
        let r = self.next_entry();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}
