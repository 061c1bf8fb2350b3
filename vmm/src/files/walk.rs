//! Walking `--files DIR` on the host: every entry looked at with `lstat`
//! (symlinks are entries, never followed), each directory's names sorted
//! by their bytes, depth first — the order abi::tree requires. Nothing is
//! read but directories and symlink targets: each regular file is opened
//! once to prove it readable and closed, and its size counts against the
//! bound before that. `image::place` reads the files later, straight into
//! guest RAM.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use abi::tree::{self, HEADER_LEN, Kind, MAX_ENTRIES, MODE_MASK, PATH_MAX};

use super::error::{FilesError, shown};
use crate::loader::file::{self, FileError, kind_of};

/// One entry of the tree, as the walk found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Where it is on the host.
    pub host: PathBuf,
    /// Its path in the guest, relative to the root (abi::tree's rules).
    pub path: Vec<u8>,
    /// Directory, file or symlink.
    pub kind: Kind,
    /// Its permission bits (`MODE_MASK`).
    pub mode: u16,
    /// A file's size, a symlink target's length, 0 for a directory.
    pub size: u64,
    /// A symlink's target (empty for the others).
    pub target: Vec<u8>,
    /// The file's device and inode when walked: the file read later must
    /// be the same one.
    pub id: (u64, u64),
}

/// The whole tree, walked and within its bounds.
#[derive(Debug)]
pub struct Walked {
    /// DIR as given.
    pub dir: PathBuf,
    /// The root directory's permission bits.
    pub root_mode: u16,
    /// Every entry, in image order.
    pub nodes: Vec<Node>,
    /// Bytes of the image (abi::tree's `total`).
    pub len: u64,
}

/// Walk `dir` for a guest of `ram_size` bytes: refuse anything but
/// regular files, directories and symlinks, unreadable entries, names
/// beyond abi::tree's limits, more than MAX_ENTRIES entries, or an image
/// over `abi::tree::max_image(ram_size)` — each naming the path, found
/// before any file is read.
pub fn walk(dir: &Path, ram_size: u64) -> Result<Walked, FilesError> {
    let file_err = |error| FilesError::File {
        path: shown(dir),
        error,
    };
    // DIR itself may be a symlink to a directory: the user named it.
    let meta = fs::metadata(dir).map_err(|e| file_err(FileError::Open(e)))?;
    if !meta.is_dir() {
        return Err(FilesError::NotDir {
            path: shown(dir),
            kind: if meta.is_file() {
                "a regular file"
            } else {
                kind_of(meta.file_type())
            },
        });
    }
    let mut w = Walker {
        nodes: Vec::new(),
        listed: 0,
        len: HEADER_LEN as u64,
        bound: tree::max_image(ram_size),
        ram_size,
    };
    w.visit(dir, &[])?;
    Ok(Walked {
        dir: dir.to_path_buf(),
        root_mode: (meta.mode() & u32::from(MODE_MASK)) as u16,
        nodes: w.nodes,
        len: w.len,
    })
}

struct Walker {
    nodes: Vec<Node>,
    /// Names listed so far, visited or still waiting in an outer
    /// directory's list: each becomes a node, so at most MAX_ENTRIES are
    /// held, however deep and wide the tree.
    listed: usize,
    /// The image's bytes so far.
    len: u64,
    bound: u64,
    ram_size: u64,
}

impl Walker {
    /// Add the entries of the host directory `host` (guest path `rel`,
    /// empty at the root) and, depth first, of its subdirectories.
    fn visit(&mut self, host: &Path, rel: &[u8]) -> Result<(), FilesError> {
        let names = self.names(host)?;
        for name in names {
            let host = host.join(&name);
            let name = name.as_bytes();
            let named = |why| FilesError::Name {
                path: shown(&host),
                why,
            };
            tree::check_name(name).map_err(named)?;
            let mut path = Vec::with_capacity(rel.len() + 1 + name.len());
            if !rel.is_empty() {
                path.extend_from_slice(rel);
                path.push(b'/');
            }
            path.extend_from_slice(name);
            if path.len() > PATH_MAX {
                return Err(FilesError::PathTooLong {
                    path: shown(&host),
                    len: path.len(),
                });
            }
            if self.nodes.len() >= MAX_ENTRIES as usize {
                return Err(FilesError::TooMany { path: shown(&host) });
            }
            let node = self.look(&host, path)?;
            let is_dir = node.kind == Kind::Dir;
            let (host, path) = (node.host.clone(), node.path.clone());
            self.nodes.push(node);
            if is_dir {
                self.visit(&host, &path)?;
            }
        }
        Ok(())
    }

    /// The names in directory `host`, sorted by their bytes. Past the
    /// room the tree has left (MAX_ENTRIES less every name listed so far)
    /// the walk is refused while the directory is read, so a huge one
    /// costs no more than the limit.
    fn names(&mut self, host: &Path) -> Result<Vec<OsString>, FilesError> {
        let err = |error| FilesError::File {
            path: shown(host),
            error: FileError::Open(error),
        };
        let room = (MAX_ENTRIES as usize).saturating_sub(self.listed);
        let mut names = Vec::new();
        for entry in fs::read_dir(host).map_err(err)? {
            let entry = entry.map_err(err)?;
            if names.len() == room {
                return Err(FilesError::TooMany {
                    path: shown(&host.join(entry.file_name())),
                });
            }
            names.push(entry.file_name());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        self.listed += names.len();
        Ok(names)
    }

    /// Look at one entry (without following it), count it against the
    /// bound, and for a file prove it can be opened.
    fn look(&mut self, host: &Path, path: Vec<u8>) -> Result<Node, FilesError> {
        let file_err = |error| FilesError::File {
            path: shown(host),
            error,
        };
        let meta = fs::symlink_metadata(host).map_err(|e| file_err(FileError::Open(e)))?;
        let t = meta.file_type();
        let (kind, size, target) = if t.is_dir() {
            (Kind::Dir, 0, Vec::new())
        } else if t.is_file() {
            (Kind::File, meta.len(), Vec::new())
        } else if t.is_symlink() {
            let target = fs::read_link(host)
                .map_err(|e| file_err(FileError::Read(e)))?
                .into_os_string()
                .into_vec();
            tree::check_target(&target).map_err(|why| FilesError::Name {
                path: shown(host),
                why,
            })?;
            (Kind::Symlink, target.len() as u64, target)
        } else {
            let kind = if t.is_fifo() { "a FIFO" } else { kind_of(t) };
            return Err(FilesError::Special {
                path: shown(host),
                kind,
            });
        };
        // The bound first: a file too large to fit is refused unopened.
        let record = tree::record_len(path.len(), size).unwrap_or(u64::MAX);
        self.len = self.len.saturating_add(record);
        if self.len > self.bound {
            return Err(FilesError::TooLarge {
                path: shown(host),
                bound: self.bound,
                ram_size: self.ram_size,
            });
        }
        if kind == Kind::File {
            // Open and close: an unreadable file is refused now, before
            // KVM is opened. open_regular looks before it opens (no FIFO
            // swapped in can hang us) and refuses pseudo file systems.
            file::open_regular(host).map_err(file_err)?;
        }
        Ok(Node {
            host: host.to_path_buf(),
            path,
            kind,
            mode: (meta.mode() & u32::from(MODE_MASK)) as u16,
            size,
            target,
            id: (meta.dev(), meta.ino()),
        })
    }
}
