//! The calls that change or read the names in the tree: mkdir, unlink
//! and rmdir, link, rename (with RENAME_NOREPLACE), symlink and readlink.

use abi::syscall::{EFAULT, EINVAL, ENOENT};

use super::super::{current, with_aspace};
use super::{
    AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, RENAME_NOREPLACE, parent, resolve, ret,
    user_path,
};
use crate::fs::names::{self, Replace};
use crate::fs::node::Kind;
use crate::fs::path::PATH_MAX;
use crate::fs::{self, node};

/// mkdirat(2).
pub fn mkdirat(dirfd: u64, va: u64, mode: u64) -> i64 {
    let (dir, name, _) = match parent(dirfd, va) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mode = (mode as u32 & !current().umask & 0o7777) as u16;
    ret(names::create(dir, name.get(), Kind::Dir, mode, &[]).map(|_| ()))
}

/// unlinkat(2) (unlink: no flags; rmdir: AT_REMOVEDIR).
pub fn unlinkat(dirfd: u64, va: u64, flags: u64) -> i64 {
    if flags & !AT_REMOVEDIR != 0 {
        return EINVAL;
    }
    let (dir, name, slash) = match parent(dirfd, va) {
        Ok(p) => p,
        Err(e) => return e,
    };
    ret(if flags & AT_REMOVEDIR != 0 {
        names::rmdir(dir, name.get())
    } else {
        names::unlink(dir, name.get(), slash)
    })
}

/// linkat(2) (link: no flags).
pub fn linkat(olddirfd: u64, oldva: u64, newdirfd: u64, newva: u64, flags: u64) -> i64 {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return EINVAL;
    }
    let ino = match resolve(olddirfd, oldva, flags & AT_SYMLINK_FOLLOW != 0) {
        Ok(ino) => ino,
        Err(e) => return e,
    };
    let (dir, name, slash) = match parent(newdirfd, newva) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if slash {
        return ENOENT;
    }
    ret(names::link(ino, dir, name.get()))
}

/// renameat2(2) (rename, renameat: flags 0). RENAME_NOREPLACE is kept;
/// RENAME_EXCHANGE and RENAME_WHITEOUT are EINVAL.
pub fn renameat2(odirfd: u64, ova: u64, ndirfd: u64, nva: u64, flags: u64) -> i64 {
    if flags & !RENAME_NOREPLACE != 0 {
        return EINVAL;
    }
    let (odir, oname, oslash) = match parent(odirfd, ova) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (ndir, nname, nslash) = match parent(ndirfd, nva) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let replace = if flags & RENAME_NOREPLACE != 0 {
        Replace::No
    } else {
        Replace::Yes
    };
    ret(names::rename(
        odir,
        oname.get(),
        ndir,
        nname.get(),
        oslash || nslash,
        replace,
    ))
}

/// symlinkat(2) (symlink: AT_FDCWD).
pub fn symlinkat(target_va: u64, dirfd: u64, va: u64) -> i64 {
    let target = match user_path(target_va) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if target.get().is_empty() {
        return ENOENT;
    }
    let (dir, name, slash) = match parent(dirfd, va) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if slash {
        return ENOENT;
    }
    ret(names::create(dir, name.get(), Kind::Symlink, 0o777, target.get()).map(|_| ()))
}

/// readlinkat(2) (readlink: AT_FDCWD): the target's bytes, cut to `size`,
/// no NUL.
pub fn readlinkat(dirfd: u64, va: u64, buf: u64, size: u64) -> i64 {
    if size as i32 <= 0 {
        return EINVAL;
    }
    let ino = match resolve(dirfd, va, false) {
        Ok(ino) => ino,
        Err(e) => return e,
    };
    let Some(n) = node::live(ino).filter(|n| n.kind == Kind::Symlink) else {
        return EINVAL;
    };
    let mut t = [0u8; PATH_MAX];
    let len = (n.size as usize).min(PATH_MAX).min(size as usize);
    fs::data::read_at(&n.data, 0, &mut t[..len]);
    with_aspace(|a| {
        if a.copy_out(buf, &t[..len]) {
            len as i64
        } else {
            EFAULT
        }
    })
}
