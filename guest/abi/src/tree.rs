//! The tree image: a copy of the host directory `--files DIR` that the VMM
//! packs into guest RAM and the guest kernel unpacks into its RAM file
//! system, like Linux's initramfs. Defined once here: the VMM encodes with
//! [`header`], [`EntryHeader::new`] and [`record_len`] (or
//! [`encode_entry`]), the kernel decodes with [`Tree::parse`] and
//! [`Tree::entries`] (`tree/decode.rs`).
//!
//! ```text
//! offset 0   Header (32 bytes): magic "MVMMTREE", version, count, total, root_mode
//!        32  record 0: EntryHeader (16 bytes) | path | data | zero padding to 8
//!            record 1 ...                       (every record starts 8-byte aligned)
//!            ...
//!     total  end of the image (the last record's padding included)
//! ```
//!
//! A record's `path` is relative to the root: components separated by one
//! `/`, no leading or trailing `/`, none empty, `.` or `..`, no NUL, at
//! most [`NAME_MAX`] bytes each and [`PATH_MAX`] in all. Its `data` is a
//! file's contents, a symlink's target (1 to [`SYMLINK_MAX`] bytes, no
//! NUL; never followed by the VMM), or nothing for a directory.
//!
//! Records come in depth-first order, each directory's children sorted by
//! their names' bytes, strictly increasing: so a directory always comes
//! before its contents, and no path appears twice. The decoder checks this
//! with nothing but the previous record (the kernel has no heap): an
//! entry's parent is the root, the previous record (a directory), or an
//! ancestor of the previous record; and its name sorts after the sibling
//! the previous record lies under.
//!
//! The image comes from outside the guest kernel: [`Tree::parse`] and the
//! iterator check every length, offset and count against the buffer with
//! checked arithmetic, never panic, and stop at the first bad record.
//!
//! The VMM bounds the image by [`max_image`] (a quarter of guest RAM) and
//! the entries by [`MAX_ENTRIES`].

use crate::Pod;

/// "MVMMTREE" in little-endian bytes.
pub const TREE_MAGIC: u64 = u64::from_le_bytes(*b"MVMMTREE");
/// Bumped whenever the layout changes.
pub const TREE_VERSION: u32 = 1;

/// `EntryHeader::kind`: a directory (no data).
pub const DIR: u8 = 1;
/// `EntryHeader::kind`: a regular file (data: its bytes).
pub const FILE: u8 = 2;
/// `EntryHeader::kind`: a symbolic link (data: its target).
pub const SYMLINK: u8 = 3;

/// Most records in one image: a busybox tree with its applet links is a
/// few hundred; the decoder and the VMM refuse more.
pub const MAX_ENTRIES: u32 = 4096;
/// Longest path of a record, in bytes, relative to the root (so the
/// guest's absolute path, with its leading `/`, is at most one more).
pub const PATH_MAX: usize = 1024;
/// Longest path component, in bytes (Linux's NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Longest symlink target, in bytes.
pub const SYMLINK_MAX: usize = 1024;
/// The mode bits an image carries: permissions, set-user-ID, set-group-ID
/// and sticky. The file type is `kind`.
pub const MODE_MASK: u16 = 0o7777;
/// Every record starts at a multiple of this, and so does `total`.
pub const ALIGN: usize = 8;

/// Largest image for a guest of `ram_size` bytes: a quarter of guest RAM,
/// leaving the rest for the kernel, the `--run` modules, the RAM file
/// system's own copy of the tree (made before the image's frames are
/// given back) and processes.
pub const fn max_image(ram_size: u64) -> u64 {
    ram_size / 4
}

/// The image's first 32 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Header {
    /// [`TREE_MAGIC`].
    pub magic: u64,
    /// [`TREE_VERSION`].
    pub version: u32,
    /// How many records follow (at most [`MAX_ENTRIES`]).
    pub count: u32,
    /// Bytes of the whole image, this header included (a multiple of
    /// [`ALIGN`]).
    pub total: u64,
    /// The root directory's mode (`MODE_MASK` bits).
    pub root_mode: u16,
    pub _pad: [u16; 3],
}
const _: () = assert!(core::mem::size_of::<Header>() == 32);

/// The fixed part of one record; `path_len` bytes of path and `data_len`
/// bytes of data follow it, then zeros up to the next multiple of
/// [`ALIGN`].
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    /// [`DIR`], [`FILE`] or [`SYMLINK`].
    pub kind: u8,
    pub _pad: u8,
    /// Permission bits (`MODE_MASK`).
    pub mode: u16,
    /// Bytes of the path (1 to [`PATH_MAX`]).
    pub path_len: u16,
    pub _pad2: u16,
    /// Bytes of data: 0 for a directory.
    pub data_len: u64,
}
const _: () = assert!(core::mem::size_of::<EntryHeader>() == 16);

/// Bytes of [`Header`].
pub const HEADER_LEN: usize = core::mem::size_of::<Header>();
/// Bytes of [`EntryHeader`].
pub const ENTRY_HEADER_LEN: usize = core::mem::size_of::<EntryHeader>();

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
}

impl Kind {
    /// The kind an `EntryHeader::kind` byte names.
    pub fn from_u8(k: u8) -> Option<Kind> {
        match k {
            DIR => Some(Kind::Dir),
            FILE => Some(Kind::File),
            SYMLINK => Some(Kind::Symlink),
            _ => None,
        }
    }

    /// Its `EntryHeader::kind` byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Kind::Dir => DIR,
            Kind::File => FILE,
            Kind::Symlink => SYMLINK,
        }
    }
}

/// Why an image (or a path for one) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// Shorter than its header, or than the header's `total`.
    Short,
    /// The magic is not "MVMMTREE".
    BadMagic,
    /// A version this side does not know.
    BadVersion,
    /// `count` is above [`MAX_ENTRIES`].
    TooManyEntries,
    /// `total` is smaller than the header or not a multiple of [`ALIGN`].
    BadTotal,
    /// A mode has bits outside [`MODE_MASK`].
    BadMode,
    /// A record's kind is none of DIR, FILE, SYMLINK.
    BadKind,
    /// A padding field or padding byte is not zero.
    Padding,
    /// A record runs past `total`.
    Truncated,
    /// A path of 0 bytes, or over [`PATH_MAX`].
    PathLength,
    /// A path with an empty component (a leading, trailing or doubled `/`).
    EmptyComponent,
    /// A path component `.` or `..`.
    DotComponent,
    /// A path component over [`NAME_MAX`] bytes.
    NameTooLong,
    /// A NUL byte in a path or a symlink target.
    Nul,
    /// A directory record with data.
    DirData,
    /// A symlink target of 0 bytes or over [`SYMLINK_MAX`].
    SymlinkLength,
    /// The record's parent is not the root, the previous record or one of
    /// its ancestors: it is not listed before the record.
    NoParent,
    /// The record's parent is listed, but is not a directory.
    ParentNotDir,
    /// The record's name does not sort after its previous sibling's (a
    /// duplicate, or the wrong order).
    Order,
    /// Bytes between the last record and `total`.
    Trailing,
}

impl TreeError {
    /// The error in words.
    pub fn why(self) -> &'static str {
        match self {
            TreeError::Short => "the image is shorter than its header says",
            TreeError::BadMagic => "no tree image here (bad magic)",
            TreeError::BadVersion => "a tree image version this kernel does not know",
            TreeError::TooManyEntries => "more entries than a tree image may hold",
            TreeError::BadTotal => "the image's total size is not a valid one",
            TreeError::BadMode => "a mode has bits other than permissions",
            TreeError::BadKind => "an entry is not a directory, file or symlink",
            TreeError::Padding => "a padding byte is not zero",
            TreeError::Truncated => "an entry runs past the end of the image",
            TreeError::PathLength => "a path is empty or longer than 1024 bytes",
            TreeError::EmptyComponent => "a path has an empty component",
            TreeError::DotComponent => "a path has a '.' or '..' component",
            TreeError::NameTooLong => "a path component is longer than 255 bytes",
            TreeError::Nul => "a path or symlink target contains a NUL byte",
            TreeError::DirData => "a directory entry carries data",
            TreeError::SymlinkLength => "a symlink target is empty or longer than 1024 bytes",
            TreeError::NoParent => "an entry comes before its parent directory",
            TreeError::ParentNotDir => "an entry's parent is not a directory",
            TreeError::Order => "entries of a directory are not in strictly increasing order",
            TreeError::Trailing => "bytes follow the last entry",
        }
    }
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.why())
    }
}

/// Check one record path by the rules above (the VMM checks each name it
/// packs with this too).
pub fn check_path(path: &[u8]) -> Result<(), TreeError> {
    if path.is_empty() || path.len() > PATH_MAX {
        return Err(TreeError::PathLength);
    }
    for c in path.split(|&b| b == b'/') {
        check_name(c)?;
    }
    Ok(())
}

/// Check one path component.
pub fn check_name(name: &[u8]) -> Result<(), TreeError> {
    match name {
        [] => Err(TreeError::EmptyComponent),
        b"." | b".." => Err(TreeError::DotComponent),
        n if n.len() > NAME_MAX => Err(TreeError::NameTooLong),
        n if n.contains(&0) => Err(TreeError::Nul),
        _ => Ok(()),
    }
}

/// A symlink target's rules: 1 to [`SYMLINK_MAX`] bytes, no NUL.
pub fn check_target(target: &[u8]) -> Result<(), TreeError> {
    if target.is_empty() || target.len() > SYMLINK_MAX {
        return Err(TreeError::SymlinkLength);
    }
    if target.contains(&0) {
        return Err(TreeError::Nul);
    }
    Ok(())
}

/// `n` rounded up to [`ALIGN`]; None on overflow.
fn align_up(n: u64) -> Option<u64> {
    n.checked_next_multiple_of(ALIGN as u64)
}

/// Bytes one record takes, its header and padding included; None when it
/// cannot be described (overflow).
pub fn record_len(path_len: usize, data_len: u64) -> Option<u64> {
    let fixed = u64::try_from(ENTRY_HEADER_LEN.checked_add(path_len)?).ok()?;
    align_up(fixed.checked_add(data_len)?)
}

/// The image header for `count` records in `total` bytes.
pub fn header(count: u32, total: u64, root_mode: u16) -> Header {
    Header {
        magic: TREE_MAGIC,
        version: TREE_VERSION,
        count,
        total,
        root_mode: root_mode & MODE_MASK,
        _pad: [0; 3],
    }
}

impl EntryHeader {
    /// The fixed part of a record; None when `path_len` does not fit its
    /// field.
    pub fn new(kind: Kind, mode: u16, path_len: usize, data_len: u64) -> Option<EntryHeader> {
        Some(EntryHeader {
            kind: kind.to_u8(),
            _pad: 0,
            mode: mode & MODE_MASK,
            path_len: u16::try_from(path_len).ok()?,
            _pad2: 0,
            data_len,
        })
    }
}

/// Write one whole record (header, path, data, zero padding) at the start
/// of `out`; the bytes written, or None when `out` is too small or a
/// length does not fit. The path's rules are the caller's ([`check_path`]).
pub fn encode_entry(
    kind: Kind,
    mode: u16,
    path: &[u8],
    data: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let data_len = u64::try_from(data.len()).ok()?;
    let head = EntryHeader::new(kind, mode, path.len(), data_len)?;
    let len = usize::try_from(record_len(path.len(), data_len)?).ok()?;
    let rec = out.get_mut(..len)?;
    let (h, rest) = rec.split_at_mut(ENTRY_HEADER_LEN);
    h.copy_from_slice(head.as_bytes());
    let (p, rest) = rest.split_at_mut(path.len());
    p.copy_from_slice(path);
    let (d, pad) = rest.split_at_mut(data.len());
    d.copy_from_slice(data);
    pad.fill(0);
    Some(len)
}

mod decode;

pub use decode::{Entries, Entry, Tree};
