//! Changes to the name space: making files, directories and symlinks,
//! linking, unlinking, removing directories and renaming, with Linux's
//! errors. Each takes the directory and name path.rs found (`parent`).

use abi::syscall::{
    EBUSY, EEXIST, EINVAL, EISDIR, EMLINK, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, EPERM,
};

use super::dir;
use super::node::{self, Kind};
use super::{ROOT, data};

/// Most links to one node.
const LINK_MAX: u32 = 65_000;

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// A directory entries may be added to: a live directory not removed.
fn open_dir(dir: u32) -> Result<(), i64> {
    match node::live(dir) {
        Some(n) if n.kind == Kind::Dir && n.nlink > 0 => Ok(()),
        Some(n) if n.kind == Kind::Dir => Err(ENOENT),
        _ => Err(ENOTDIR),
    }
}

/// Make a node of `kind` named `name` in `dir` (which must not have it):
/// its number. A symlink gets `target` as its bytes.
pub fn create(dir: u32, name: &[u8], kind: Kind, mode: u16, target: &[u8]) -> Result<u32, i64> {
    if is_dot(name) || dir::find(dir, name).is_some() {
        return Err(EEXIST);
    }
    open_dir(dir)?;
    if kind == Kind::Dir && node::live(dir).is_some_and(|d| d.nlink >= LINK_MAX) {
        return Err(EMLINK);
    }
    let ino = node::alloc(kind, mode, dir).ok_or(ENOSPC)?;
    if !target.is_empty() {
        let n = node::live(ino).ok_or(ENOSPC)?;
        match data::write_at(&mut n.data, 0, target) {
            Ok(w) if w == target.len() => n.size = w as u64,
            _ => {
                node::free(ino);
                return Err(ENOSPC);
            }
        }
    }
    if let Err(e) = dir::add(dir, name, ino, kind) {
        node::free(ino);
        return Err(e);
    }
    if kind == Kind::Dir
        && let Some(d) = node::live(dir)
    {
        d.nlink += 1;
    }
    Ok(ino)
}

/// A new link `name` in `dir` to the non-directory `ino`.
pub fn link(ino: u32, dir: u32, name: &[u8]) -> Result<(), i64> {
    let k = node::kind(ino);
    if k == Kind::Dir {
        return Err(EPERM);
    }
    if is_dot(name) || dir::find(dir, name).is_some() {
        return Err(EEXIST);
    }
    open_dir(dir)?;
    let n = node::live(ino).ok_or(ENOENT)?;
    if n.nlink == 0 {
        return Err(ENOENT);
    }
    if n.nlink >= LINK_MAX {
        return Err(EMLINK);
    }
    dir::add(dir, name, ino, k)?;
    if let Some(n) = node::live(ino) {
        n.nlink += 1;
        n.ctime = node::now();
    }
    Ok(())
}

/// Drop one link of `ino` (its entry is gone): it goes when nothing else
/// keeps it.
fn unlinked(ino: u32) {
    if let Some(n) = node::live(ino) {
        if n.kind == Kind::Dir {
            n.nlink = 0;
            data::free_all(&mut n.data);
            n.size = 0;
            n.entries = 0;
        } else {
            n.nlink = n.nlink.saturating_sub(1);
        }
        n.ctime = node::now();
    }
    node::maybe_free(ino);
}

/// unlink(2) of `name` in `dir` (`slash`: a slash followed it).
pub fn unlink(dir: u32, name: &[u8], slash: bool) -> Result<(), i64> {
    if is_dot(name) {
        return Err(if name == b"." { EISDIR } else { ENOTEMPTY });
    }
    let (slot, ino) = dir::find(dir, name).ok_or(ENOENT)?;
    let k = node::kind(ino);
    if k == Kind::Dir {
        return Err(EISDIR);
    }
    if slash {
        return Err(ENOTDIR);
    }
    dir::remove(dir, slot);
    unlinked(ino);
    Ok(())
}

/// rmdir(2) of `name` in `dir`.
pub fn rmdir(dir: u32, name: &[u8]) -> Result<(), i64> {
    match name {
        b"." => return Err(EINVAL),
        b".." => return Err(ENOTEMPTY),
        _ => {}
    }
    let (slot, ino) = dir::find(dir, name).ok_or(ENOENT)?;
    let n = node::live(ino).ok_or(ENOENT)?;
    if n.kind != Kind::Dir {
        return Err(ENOTDIR);
    }
    if ino == ROOT {
        return Err(EBUSY);
    }
    if n.entries > 0 {
        return Err(ENOTEMPTY);
    }
    dir::remove(dir, slot);
    if let Some(d) = node::live(dir) {
        d.nlink = d.nlink.saturating_sub(1);
    }
    unlinked(ino);
    Ok(())
}

/// Whether directory `anc` is `ino` or above it.
fn is_ancestor(anc: u32, mut ino: u32) -> bool {
    for _ in 0..node::NNODE {
        if ino == anc {
            return true;
        }
        if ino == ROOT {
            return false;
        }
        match node::live(ino) {
            Some(n) => ino = n.parent,
            None => return false,
        }
    }
    true
}

/// What rename may do when the new name exists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    Yes,
    /// RENAME_NOREPLACE: EEXIST instead.
    No,
}

/// rename(2): `oname` in `odir` becomes `nname` in `ndir`, replacing what
/// that named (an empty directory by a directory, a non-directory by a
/// non-directory). `slash`: a slash followed one of the names.
pub fn rename(
    odir: u32,
    oname: &[u8],
    ndir: u32,
    nname: &[u8],
    slash: bool,
    replace: Replace,
) -> Result<(), i64> {
    if is_dot(oname) || is_dot(nname) {
        return Err(EBUSY);
    }
    let (oslot, ino) = dir::find(odir, oname).ok_or(ENOENT)?;
    let k = node::kind(ino);
    if slash && k != Kind::Dir {
        return Err(ENOTDIR);
    }
    open_dir(ndir)?;
    if k == Kind::Dir && is_ancestor(ino, ndir) {
        return Err(EINVAL);
    }
    match dir::find(ndir, nname) {
        Some((_, old)) if old == ino => Ok(()),
        Some(_) if replace == Replace::No => Err(EEXIST),
        Some((nslot, old)) => {
            let ok = node::live(old).ok_or(ENOENT)?;
            match (k == Kind::Dir, ok.kind == Kind::Dir) {
                (true, false) => return Err(ENOTDIR),
                (false, true) => return Err(EISDIR),
                (true, true) if ok.entries > 0 => return Err(ENOTEMPTY),
                _ => {}
            }
            dir::replace(ndir, nslot, ino, k);
            dir::remove(odir, oslot);
            if k == Kind::Dir {
                // The replaced directory's ".." link goes from ndir.
                if let Some(d) = node::live(ndir) {
                    d.nlink = d.nlink.saturating_sub(1);
                }
            }
            unlinked(old);
            moved(ino, k, odir, ndir);
            Ok(())
        }
        None => {
            dir::add(ndir, nname, ino, k)?;
            dir::remove(odir, oslot);
            moved(ino, k, odir, ndir);
            Ok(())
        }
    }
}

/// A renamed directory's ".." now names `ndir`.
fn moved(ino: u32, k: Kind, odir: u32, ndir: u32) {
    if let Some(n) = node::live(ino) {
        n.ctime = node::now();
    }
    if k != Kind::Dir || odir == ndir {
        return;
    }
    if let Some(n) = node::live(ino) {
        n.parent = ndir;
    }
    if let Some(d) = node::live(odir) {
        d.nlink = d.nlink.saturating_sub(1);
    }
    if let Some(d) = node::live(ndir) {
        d.nlink += 1;
    }
}
