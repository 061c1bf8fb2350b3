//! System calls that name files by path: open and creat, the stat family,
//! access, mkdir, rmdir, unlink, link, rename, symlink, readlink,
//! truncate, chmod; and those that change a file through a descriptor
//! (ftruncate, fchmod, fsync) or the caller's umask. Paths are copied in
//! (at most PATH_MAX bytes, NUL included: ENAMETOOLONG beyond) and looked
//! up in the RAM file system (`crate::fs`) from the root, the working
//! directory (AT_FDCWD) or a directory open at `dirfd`. The stat family
//! is in `path/stat.rs`, the calls that change names in `path/entries.rs`.

use abi::syscall::{
    EBADF, EFAULT, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EOPNOTSUPP,
};

use super::current;
use super::fd::O_CLOEXEC;
use crate::file::{O_ACCMODE, O_APPEND, O_NONBLOCK, O_RDONLY, O_WRONLY, Object};
use crate::fs::names::{self};
use crate::fs::node::Kind;
use crate::fs::path::PATH_MAX;
use crate::fs::{self, ROOT, node};
use crate::memlayout::PAGE;

mod entries;
mod stat;

pub use entries::{linkat, mkdirat, readlinkat, renameat2, symlinkat, unlinkat};
pub use stat::{faccessat, newfstatat, stat, statx};

/// dirfd meaning the working directory.
const AT_FDCWD: i32 = -100;

const AT_SYMLINK_NOFOLLOW: u64 = 0x100;

const AT_REMOVEDIR: u64 = 0x200;

const AT_SYMLINK_FOLLOW: u64 = 0x400;

const AT_NO_AUTOMOUNT: u64 = 0x800;

const AT_EMPTY_PATH: u64 = 0x1000;

const AT_EACCESS: u64 = 0x200;

/// statx's sync flags (AT_STATX_*): nothing to sync here.
const AT_STATX_SYNC: u64 = 0x6000;

const O_CREAT: u64 = 0o100;

const O_EXCL: u64 = 0o200;

const O_TRUNC: u64 = 0o1000;

const O_DIRECTORY: u64 = 0o200_000;

const O_NOFOLLOW: u64 = 0o400_000;

const O_PATH: u64 = 0o10_000_000;

/// O_TMPFILE (with O_DIRECTORY's bit).
const O_TMPFILE: u64 = 0o20_000_000;

const RENAME_NOREPLACE: u64 = 1;

/// A path copied in from user space.
pub struct UserPath {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl UserPath {
    pub fn get(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Copy in the NUL-terminated path at user `va`, a page at a time (a path
/// may end just before an unmapped page): EFAULT, ENAMETOOLONG without a
/// NUL in PATH_MAX bytes. Empty paths are the caller's to refuse.
pub fn user_path(va: u64) -> Result<UserPath, i64> {
    let mut p = UserPath {
        buf: [0; PATH_MAX],
        len: 0,
    };
    let a = current().aspace.as_mut().ok_or(EFAULT)?;
    let mut at = 0usize;
    while at < PATH_MAX {
        let addr = va.checked_add(at as u64).ok_or(EFAULT)?;
        let n = ((PAGE - addr % PAGE) as usize).min(PATH_MAX - at);
        if !a.copy_in(&mut p.buf[at..at + n], addr) {
            return Err(EFAULT);
        }
        if let Some(z) = p.buf[at..at + n].iter().position(|&c| c == 0) {
            p.len = at + z;
            return Ok(p);
        }
        at += n;
    }
    Err(ENAMETOOLONG)
}

/// The node of directory descriptor `dirfd` (or the working directory)
/// that a relative `path` starts from.
fn base(dirfd: u64, path: &[u8]) -> Result<u32, i64> {
    if path.first() == Some(&b'/') {
        return Ok(ROOT);
    }
    let p = current();
    if dirfd as i32 == AT_FDCWD {
        return Ok(p.cwd);
    }
    match p.fds.file(dirfd)?.1.obj {
        Object::Node(ino) if fs::is_dir(ino) => Ok(ino),
        _ => Err(ENOTDIR),
    }
}

/// The node `dirfd` + the path at `va` name (ENOENT for an empty path).
fn resolve(dirfd: u64, va: u64, follow: bool) -> Result<u32, i64> {
    let p = user_path(va)?;
    let b = base(dirfd, p.get())?;
    fs::lookup(b, p.get(), follow)
}

/// The directory the last component of `dirfd` + `va` is in, and it.
fn parent(dirfd: u64, va: u64) -> Result<(u32, fs::dir::Name, bool), i64> {
    let p = user_path(va)?;
    let b = base(dirfd, p.get())?;
    fs::path::parent(b, p.get())
}

fn ret(r: Result<(), i64>) -> i64 {
    r.map_or_else(|e| e, |()| 0)
}

/// openat(2) (open and creat are openat from AT_FDCWD).
pub fn openat(dirfd: u64, va: u64, flags: u64, mode: u64) -> i64 {
    match open(dirfd, va, flags, mode) {
        Ok(fd) => fd as i64,
        Err(e) => e,
    }
}

fn open(dirfd: u64, va: u64, flags: u64, mode: u64) -> Result<u64, i64> {
    if flags & O_TMPFILE == O_TMPFILE {
        return Err(EOPNOTSUPP);
    }
    let acc = flags as u32 & O_ACCMODE;
    if acc == O_ACCMODE {
        return Err(EINVAL);
    }
    let p = user_path(va)?;
    let start = base(dirfd, p.get())?;
    let follow = flags & O_NOFOLLOW == 0;
    let ino = if flags & O_CREAT != 0 {
        let (dir, name, slash) = fs::path::parent(start, p.get())?;
        match fs::dir::find(dir, name.get()) {
            Some(_) if flags & O_EXCL != 0 => return Err(abi::syscall::EEXIST),
            Some((_, ino)) if node::kind(ino) == Kind::Symlink => {
                if !follow {
                    return Err(ELOOP);
                }
                match fs::lookup(start, p.get(), true) {
                    Err(ENOENT) => create_at_target(dir, ino, mode)?,
                    r => r?,
                }
            }
            Some((_, ino)) => ino,
            None if name.get() == b"." || name.get() == b".." => fs::lookup(start, p.get(), true)?,
            None if slash => return Err(EISDIR),
            None => {
                let mode = (mode as u32 & !current().umask & 0o7777) as u16;
                names::create(dir, name.get(), Kind::File, mode, &[])?
            }
        }
    } else {
        fs::lookup(start, p.get(), follow)?
    };
    match node::kind(ino) {
        Kind::Dir if flags & O_CREAT != 0 || acc != O_RDONLY => return Err(EISDIR),
        Kind::Symlink if flags & O_PATH == 0 => return Err(ELOOP),
        Kind::File | Kind::Symlink if flags & O_DIRECTORY != 0 => return Err(ENOTDIR),
        _ => {}
    }
    if flags & O_TRUNC != 0 && acc != O_RDONLY && fs::is_file(ino) {
        fs::truncate(ino, 0)?;
    }
    let kept = acc | (flags as u32 & (O_APPEND | O_NONBLOCK));
    fs::opened(ino);
    let r = current()
        .fds
        .open(Object::Node(ino), kept, flags & O_CLOEXEC != 0);
    if r.is_err() {
        // No open file was made: take the count back.
        fs::closed(ino);
    }
    r
}

/// O_CREAT through a symlink whose target does not exist: make the
/// target (one level: a target that is itself a dangling symlink stays
/// ENOENT).
fn create_at_target(dir: u32, link: u32, mode: u64) -> Result<u32, i64> {
    let n = node::live(link).ok_or(ENOENT)?;
    let mut t = [0u8; PATH_MAX];
    let len = (n.size as usize).min(PATH_MAX - 1);
    fs::data::read_at(&n.data, 0, &mut t[..len]);
    let (tdir, name, slash) = fs::path::parent(dir, &t[..len])?;
    if slash || fs::dir::find(tdir, name.get()).is_some() {
        return Err(ENOENT);
    }
    let mode = (mode as u32 & !current().umask & 0o7777) as u16;
    names::create(tdir, name.get(), Kind::File, mode, &[])
}

/// creat(2).
pub fn creat(va: u64, mode: u64) -> i64 {
    openat(
        AT_FDCWD as u64,
        va,
        O_CREAT | u64::from(O_WRONLY) | O_TRUNC,
        mode,
    )
}

/// truncate(2).
pub fn truncate(va: u64, len: u64) -> i64 {
    if (len as i64) < 0 {
        return EINVAL;
    }
    match resolve(AT_FDCWD as u64, va, true) {
        Ok(ino) => ret(fs::truncate(ino, len)),
        Err(e) => e,
    }
}

/// ftruncate(2): a file open for writing.
pub fn ftruncate(fdn: u64, len: u64) -> i64 {
    if (len as i64) < 0 {
        return EINVAL;
    }
    let of = match current().fds.file(fdn) {
        Ok((_, of)) => of,
        Err(e) => return e,
    };
    match of.obj {
        Object::Node(ino) if of.writable() => ret(fs::truncate(ino, len)),
        Object::Node(_) => EINVAL,
        _ => EINVAL,
    }
}

/// fsync(2) and fdatasync(2): nothing is ever written back, so nothing to
/// wait for; a bad descriptor is still EBADF.
pub fn fsync(fdn: u64) -> i64 {
    match current().fds.get(fdn) {
        Ok(_) => 0,
        Err(_) => EBADF,
    }
}

/// fchmodat(2) (chmod: AT_FDCWD).
pub fn fchmodat(dirfd: u64, va: u64, mode: u64, flags: u64) -> i64 {
    if flags & !AT_SYMLINK_NOFOLLOW != 0 {
        return EINVAL;
    }
    match resolve(dirfd, va, flags & AT_SYMLINK_NOFOLLOW == 0) {
        Ok(ino) if node::kind(ino) == Kind::Symlink => EOPNOTSUPP,
        Ok(ino) => ret(fs::chmod(ino, mode)),
        Err(e) => e,
    }
}

/// fchmod(2): a file open in the file system (a pipe or stream: EINVAL,
/// as nothing there keeps a mode).
pub fn fchmod(fdn: u64, mode: u64) -> i64 {
    match current().fds.file(fdn) {
        Ok((_, of)) => match of.obj {
            Object::Node(ino) => ret(fs::chmod(ino, mode)),
            _ => EINVAL,
        },
        Err(e) => e,
    }
}

/// umask(2): set the mask, return the old one.
pub fn umask(mask: u64) -> i64 {
    let old = current().umask;
    crate::proc::set_group(|p| p.umask = (mask & 0o777) as u32);
    i64::from(old)
}
