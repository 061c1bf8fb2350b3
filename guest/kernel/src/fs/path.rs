//! Path lookup: from the root ('/' first) or a starting directory, one
//! component at a time; "." stays, ".." goes to the parent (the root's is
//! the root); a symlink met on the way is replaced by its target (from the
//! root if the target is absolute, else from the link's directory), at
//! most MAX_FOLLOW times in one lookup (ELOOP beyond). A component that
//! is not a directory but has more after it: ENOTDIR; so is a trailing
//! slash after a file.
//!
//! No heap: the path being walked lives in one PATH_MAX buffer, and a
//! symlink's target is spliced in front of what is left of it.

use abi::syscall::{ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR};

use super::dir::{self, NAME_MAX, Name};
use super::node::{self, Kind};
use super::{ROOT, data};

/// Longest path, its NUL included (Linux's PATH_MAX).
pub const PATH_MAX: usize = 4096;
/// Most symlinks one lookup follows (Linux's MAXSYMLINKS).
pub const MAX_FOLLOW: u32 = 40;

/// What a walk ends on (a value on the stack: no heap to box the name in).
#[allow(clippy::large_enum_variant)]
pub enum Found {
    /// The node the whole path names.
    Node(u32),
    /// The directory the last component is in, that component (which
    /// may be "." or ".."; "." for a path that is only slashes), and
    /// whether a slash followed it.
    Parent { dir: u32, name: Name, slash: bool },
}

/// Walk `path` from `cwd`. `follow`: follow a symlink in the last
/// component (one followed by a slash is always followed); `parent`:
/// stop before the last component.
pub fn walk(cwd: u32, path: &[u8], follow: bool, parent: bool) -> Result<Found, i64> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    let mut buf = [0u8; PATH_MAX];
    let mut len = path.len();
    buf[..len].copy_from_slice(path);
    let mut i = 0;
    let mut dir = if buf[0] == b'/' { ROOT } else { cwd };
    let mut follows = 0;
    loop {
        while i < len && buf[i] == b'/' {
            i += 1;
        }
        if node::kind(dir) != Kind::Dir {
            return Err(ENOTDIR);
        }
        if i == len {
            // Only slashes (or nothing) after the last directory.
            return Ok(if parent {
                Found::Parent {
                    dir,
                    name: Name::from(b"."),
                    slash: true,
                }
            } else {
                Found::Node(dir)
            });
        }
        let start = i;
        while i < len && buf[i] != b'/' {
            i += 1;
        }
        let comp_end = i;
        let mut j = i;
        while j < len && buf[j] == b'/' {
            j += 1;
        }
        let last = j == len;
        let slash = comp_end < len;
        let comp = &buf[start..comp_end];
        if comp.len() > NAME_MAX {
            return Err(ENAMETOOLONG);
        }
        if last && parent {
            return Ok(Found::Parent {
                dir,
                name: Name::from(comp),
                slash,
            });
        }
        let child = match comp {
            b"." => dir,
            b".." => node::live(dir).map_or(ROOT, |n| n.parent),
            name => dir::find(dir, name).ok_or(ENOENT)?.1,
        };
        let k = node::kind(child);
        if k == Kind::Symlink && (!last || follow || slash) {
            follows += 1;
            if follows > MAX_FOLLOW {
                return Err(ELOOP);
            }
            len = splice(&mut buf, len, child, comp_end)?;
            i = 0;
            if buf[0] == b'/' {
                dir = ROOT;
            }
            continue;
        }
        if last {
            if slash && k != Kind::Dir {
                return Err(ENOTDIR);
            }
            return Ok(Found::Node(child));
        }
        dir = child;
        i = comp_end;
    }
}

/// Replace buf[..rest] (the part walked, up to and including the
/// symlink's component) with the target of `link`: the new length.
fn splice(buf: &mut [u8; PATH_MAX], len: usize, link: u32, rest: usize) -> Result<usize, i64> {
    let n = node::live(link).ok_or(ENOENT)?;
    let tlen = n.size as usize;
    if tlen == 0 {
        return Err(ENOENT);
    }
    let tail = len - rest;
    if tlen + tail >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    buf.copy_within(rest..len, tlen);
    data::read_at(&n.data, 0, &mut buf[..tlen]);
    Ok(tlen + tail)
}

/// The node `path` names.
pub fn lookup(cwd: u32, path: &[u8], follow: bool) -> Result<u32, i64> {
    match walk(cwd, path, follow, false)? {
        Found::Node(ino) => Ok(ino),
        Found::Parent { .. } => Err(ENOENT),
    }
}

/// The directory `path`'s last component is in, that component, and
/// whether a slash followed it.
pub fn parent(cwd: u32, path: &[u8]) -> Result<(u32, Name, bool), i64> {
    match walk(cwd, path, false, true)? {
        Found::Parent { dir, name, slash } => Ok((dir, name, slash)),
        Found::Node(_) => Err(ENOENT),
    }
}

/// The absolute path of node `ino`, the reverse of `lookup`, written at
/// the end of `buf`: where it starts (`buf[start..]` is the path). A
/// directory's comes from walking up through the parents and asking each
/// for its child's name; a file's or symlink's from the first directory,
/// in node order, with an entry for it: one of its names when hard links
/// give it several. ENOENT when it has none (removed), ENAMETOOLONG when
/// the path does not fit in `buf`.
pub fn path_of(ino: u32, buf: &mut [u8]) -> Result<usize, i64> {
    let mut start = buf.len();
    let n = node::live(ino).ok_or(ENOENT)?;
    if n.nlink == 0 {
        return Err(ENOENT);
    }
    let mut dir = if n.kind == Kind::Dir {
        ino
    } else {
        let d = containing(ino).ok_or(ENOENT)?;
        prepend(buf, &mut start, dir::name_of(d, ino).ok_or(ENOENT)?.get())?;
        d
    };
    // Each step goes up one level, and no path is deeper than the table
    // has nodes: a parent loop (which names.rs never makes) ends here.
    let mut steps = 0;
    while dir != ROOT {
        steps += 1;
        let parent = node::live(dir).map(|n| n.parent).ok_or(ENOENT)?;
        let name = dir::name_of(parent, dir).ok_or(ENOENT)?;
        if steps > node::NNODE {
            return Err(ENAMETOOLONG);
        }
        prepend(buf, &mut start, name.get())?;
        dir = parent;
    }
    if start == buf.len() {
        // The root itself.
        prepend(buf, &mut start, b"")?;
    }
    Ok(start)
}

/// Put "/" and `name` in front of `buf[*start..]`.
fn prepend(buf: &mut [u8], start: &mut usize, name: &[u8]) -> Result<(), i64> {
    if *start < name.len() + 1 {
        return Err(ENAMETOOLONG);
    }
    *start -= name.len();
    buf[*start..*start + name.len()].copy_from_slice(name);
    *start -= 1;
    buf[*start] = b'/';
    Ok(())
}

/// The first live directory, in node order, with an entry for `ino`.
fn containing(ino: u32) -> Option<u32> {
    (ROOT..node::NNODE as u32).find(|&d| {
        node::live(d).is_some_and(|n| n.kind == Kind::Dir && n.nlink > 0)
            && dir::name_of(d, ino).is_some()
    })
}
