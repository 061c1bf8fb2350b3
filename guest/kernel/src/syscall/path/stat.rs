//! The stat family by path (stat, lstat, newfstatat, statx) and access:
//! a node's metadata in Linux's layouts, looked up as `path.rs` does.

use abi::syscall::{EACCES, EFAULT, EINVAL, ENOENT};

use super::super::fd;
use super::super::{current, put, with_aspace};
use super::{
    AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC, AT_SYMLINK_NOFOLLOW, base,
    resolve, user_path,
};
use crate::fs;

/// stat(2) and lstat(2).
pub fn stat(va: u64, buf: u64, follow: bool) -> i64 {
    newfstatat(
        AT_FDCWD as u64,
        va,
        buf,
        if follow { 0 } else { AT_SYMLINK_NOFOLLOW },
    )
}

/// The struct stat `dirfd` + path name (with AT_EMPTY_PATH and "", the
/// descriptor's own, or the working directory's with AT_FDCWD).
fn stat_at(dirfd: u64, va: u64, flags: u64) -> Result<[u64; 18], i64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC) != 0 {
        return Err(EINVAL);
    }
    let p = user_path(va)?;
    if p.get().is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        if dirfd as i32 == AT_FDCWD {
            return Ok(fs::stat(current().cwd));
        }
        return fd::stat_of(dirfd);
    }
    let b = base(dirfd, p.get())?;
    let ino = fs::lookup(b, p.get(), flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(fs::stat(ino))
}

/// newfstatat(2).
pub fn newfstatat(dirfd: u64, va: u64, buf: u64, flags: u64) -> i64 {
    match stat_at(dirfd, va, flags) {
        Ok(st) => with_aspace(|a| put(a, buf, &st)),
        Err(e) => e,
    }
}

/// statx(2): the basic fields, from the same facts as stat.
pub fn statx(dirfd: u64, va: u64, flags: u64, _mask: u64, buf: u64) -> i64 {
    let st = match stat_at(dirfd, va, flags) {
        Ok(st) => st,
        Err(e) => return e,
    };
    const STATX_BASIC_STATS: u32 = 0x7ff;
    let mut x = [0u8; 256];
    let mut w = |off: usize, b: &[u8]| x[off..off + b.len()].copy_from_slice(b);
    w(0, &STATX_BASIC_STATS.to_le_bytes());
    w(4, &(st[7] as u32).to_le_bytes()); // blksize
    w(16, &(st[2] as u32).to_le_bytes()); // nlink
    w(20, &((st[3] >> 32) as u32).to_le_bytes()); // uid
    w(24, &(st[4] as u32).to_le_bytes()); // gid
    w(28, &(st[3] as u16).to_le_bytes()); // mode
    w(32, &st[1].to_le_bytes()); // ino
    w(40, &st[6].to_le_bytes()); // size
    w(48, &st[8].to_le_bytes()); // blocks
    // atime, btime (none: zero), ctime, mtime: (sec: i64, nsec: u32).
    for (off, i) in [(64, 9), (96, 13), (112, 11)] {
        w(off, &st[i].to_le_bytes());
        w(off + 8, &(st[i + 1] as u32).to_le_bytes());
    }
    w(128, &((st[5] >> 8) as u32 & 0xfff).to_le_bytes()); // rdev major
    w(132, &(st[5] as u32 & 0xff).to_le_bytes()); // rdev minor
    w(136, &((st[0] >> 8) as u32 & 0xfff).to_le_bytes()); // dev major
    w(140, &(st[0] as u32 & 0xff).to_le_bytes()); // dev minor
    with_aspace(|a| if a.copy_out(buf, &x) { 0 } else { EFAULT })
}

/// faccessat2(2) (access and faccessat too): the caller is root, so
/// reading and writing are allowed; executing needs an x bit (or a
/// directory).
pub fn faccessat(dirfd: u64, va: u64, mode: u64, flags: u64) -> i64 {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return EINVAL;
    }
    let ino = match resolve(dirfd, va, flags & AT_SYMLINK_NOFOLLOW == 0) {
        Ok(ino) => ino,
        Err(e) => return e,
    };
    let st = fs::stat(ino);
    let exec_ok = fs::is_dir(ino) || st[3] & 0o111 != 0;
    if mode & 1 != 0 && !exec_ok {
        return EACCES;
    }
    0
}
