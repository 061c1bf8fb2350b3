//! Directories as a process sees them: reading one's entries (getdents64
//! and the older getdents), and the working directory (chdir, fchdir,
//! getcwd). An open directory's offset counts entries: 0 is ".", 1 is
//! "..", 2 + n is slot n of `fs::dir`, so removing entries while reading
//! (`rm -r`) neither skips nor repeats the ones left.

use abi::syscall::{EFAULT, EINVAL, ENOTDIR, ERANGE};

use super::path::user_path;
use super::{current, with_aspace};
use crate::file::{self, Object};
use crate::fs::dir::{self, NAME_MAX};
use crate::fs::node::{self, Kind};
use crate::fs::path::PATH_MAX;
use crate::fs::{self, ROOT};
use crate::proc;

/// The directory node an open descriptor is on.
fn dir_of(fdn: u64) -> Result<(file::FileId, u64, u32), i64> {
    let (id, of) = current().fds.file(fdn)?;
    match of.obj {
        Object::Node(ino) if fs::is_dir(ino) => Ok((id, of.off, ino)),
        _ => Err(ENOTDIR),
    }
}

/// getdents64(2) (`wide`) and getdents(2): as many whole records as fit
/// in `count` bytes; EINVAL if not even the first does.
pub fn getdents(fdn: u64, buf: u64, count: u64, wide: bool) -> i64 {
    let (id, mut pos, ino) = match dir_of(fdn) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let slots = dir::slots(ino);
    let mut done = 0u64;
    let mut rec = [0u8; 24 + NAME_MAX + 8];
    while pos < slots + 2 {
        let (child, kind, name) = match pos {
            0 => (ino, Kind::Dir, dir::Name::from(b".")),
            1 => (
                node::live(ino).map_or(ROOT, |n| n.parent),
                Kind::Dir,
                dir::Name::from(b".."),
            ),
            p => match dir::entry(ino, p - 2) {
                Some(e) => (e.ino, e.kind, e.name),
                None => {
                    pos += 1;
                    continue;
                }
            },
        };
        let name = name.get();
        let next = pos + 1;
        // linux_dirent64: ino, off, reclen: u16, type: u8, name, NUL.
        // linux_dirent: ino, off, reclen: u16, name, NUL, pad, type.
        let fixed = if wide { 19 } else { 18 };
        let extra = if wide { 1 } else { 2 };
        let len = (fixed + name.len() + extra).next_multiple_of(8);
        if done + len as u64 > count {
            break;
        }
        rec[..len].fill(0);
        rec[0..8].copy_from_slice(&u64::from(child).to_le_bytes());
        rec[8..16].copy_from_slice(&next.to_le_bytes());
        rec[16..18].copy_from_slice(&(len as u16).to_le_bytes());
        if wide {
            rec[18] = kind.dtype();
        } else {
            rec[len - 1] = kind.dtype();
        }
        rec[fixed..fixed + name.len()].copy_from_slice(name);
        if with_aspace(|a| {
            if a.copy_out(buf + done, &rec[..len]) {
                0
            } else {
                EFAULT
            }
        }) != 0
        {
            return if done > 0 { done as i64 } else { EFAULT };
        }
        done += len as u64;
        pos = next;
        file::set_offset(id, pos);
    }
    if done == 0 && pos < slots + 2 {
        return EINVAL;
    }
    done as i64
}

/// Make `ino` the caller's working directory.
fn set_cwd(ino: u32) -> i64 {
    if !fs::is_dir(ino) {
        return ENOTDIR;
    }
    let old = current().cwd;
    // CLONE_FS: the threads of a process share it.
    proc::set_group(|p| p.cwd = ino);
    if old != ino {
        fs::left(old);
    }
    0
}

/// chdir(2).
pub fn chdir(va: u64) -> i64 {
    let p = match user_path(va) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match fs::lookup(current().cwd, p.get(), true) {
        Ok(ino) => set_cwd(ino),
        Err(e) => e,
    }
}

/// fchdir(2).
pub fn fchdir(fdn: u64) -> i64 {
    match dir_of(fdn) {
        Ok((_, _, ino)) => set_cwd(ino),
        Err(e) => e,
    }
}

/// getcwd(2): the working directory's path (`fs::path::path_of`). The
/// raw call returns the bytes written, the NUL included. A removed
/// directory has no path: ENOENT.
pub fn getcwd(buf: u64, size: u64) -> i64 {
    let mut path = [0u8; PATH_MAX];
    // path[start..] is the answer, NUL last.
    let start = match fs::path::path_of(current().cwd, &mut path[..PATH_MAX - 1]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let out = &path[start..];
    if size < out.len() as u64 {
        return ERANGE;
    }
    if size == 0 {
        return EINVAL;
    }
    with_aspace(|a| {
        if a.copy_out(buf, out) {
            out.len() as i64
        } else {
            EFAULT
        }
    })
}
