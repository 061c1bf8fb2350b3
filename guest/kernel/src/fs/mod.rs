//! The RAM file system: the guest's root tree (a copy of `--files DIR`
//! taken at boot, or the `--run` programs), read-write, gone at exit.
//!
//! One concept per file: node (the inode table), data (a node's bytes in
//! frames), dir (directory entries), path (lookup), names (making,
//! linking, removing and renaming entries), build (the tree at boot).
//!
//! Bounds: NNODE nodes (node.rs); a node at most data::MAX_SIZE bytes
//! (1 GiB); all frames of the file system together (data, indexes,
//! directories) at most half of the frames free when it is built (ENOSPC
//! beyond), so files can never take the memory processes need. At the
//! end of the run `discard` gives every frame back before the kernel
//! checks that every frame came home.

mod build;
pub mod data;
pub mod dir;
pub mod names;
pub mod node;
pub mod path;

use abi::syscall::{EFAULT, EFBIG, EINVAL, EISDIR, ENOSPC};

use crate::memlayout::PAGE;
use crate::mm::addrspace::AddrSpace;
pub use build::build;
use node::Kind;

/// The root directory's node number.
pub const ROOT: u32 = 1;

/// The node `path` names, relative to directory `cwd` when it does not
/// start with '/'; `follow`: follow a symlink in the last component.
pub fn lookup(cwd: u32, path: &[u8], follow: bool) -> Result<u32, i64> {
    path::lookup(cwd, path, follow)
}

/// Bytes in regular file `ino`.
pub fn size(ino: u32) -> u64 {
    node::live(ino).map_or(0, |n| n.size)
}

/// Whether `ino` is a regular file.
pub fn is_file(ino: u32) -> bool {
    node::kind(ino) == Kind::File
}

/// Whether `ino` is a directory.
pub fn is_dir(ino: u32) -> bool {
    node::kind(ino) == Kind::Dir
}

/// Copy bytes of regular file `ino` from `off` into a kernel buffer: how
/// many (0 at or past the end).
pub fn read_at(ino: u32, off: u64, dst: &mut [u8]) -> usize {
    let Some(n) = node::live(ino).filter(|n| n.kind == Kind::File) else {
        return 0;
    };
    if off >= n.size {
        return 0;
    }
    let len = (dst.len() as u64).min(n.size - off) as usize;
    data::read_at(&n.data, off, &mut dst[..len]);
    len
}

/// read(2) on an open file of node `ino` at offset `off`: bytes copied to
/// user `va` (the caller moves the offset), or -errno.
pub fn read(ino: u32, off: u64, a: &mut AddrSpace, va: u64, len: u64) -> i64 {
    let Some(n) = node::live(ino) else {
        return EINVAL;
    };
    match n.kind {
        Kind::File => {}
        Kind::Dir => return EISDIR,
        Kind::Null => return 0,
        Kind::Zero => return zeros_out(a, va, len),
        _ => return EINVAL,
    }
    if off >= n.size || len == 0 {
        return 0;
    }
    // A short read is legal; this bounds the time one call holds the CPU.
    let len = len.min(n.size - off).min(crate::file::stream::WRITE_MAX);
    if !a.check(va, len) {
        return EFAULT;
    }
    let d = n.data;
    let zeros = [0u8; PAGE as usize];
    let mut done = 0u64;
    while done < len {
        let at = off + done;
        let k = (PAGE - at % PAGE).min(len - done) as usize;
        let page_off = (at % PAGE) as usize;
        let src = data::page_bytes(&d, at / PAGE, page_off, k).unwrap_or(&zeros[..k]);
        if !a.copy_out(va + done, src) {
            return if done > 0 { done as i64 } else { EFAULT };
        }
        done += k as u64;
    }
    done as i64
}

/// read(2) of /dev/zero: `len` zero bytes (at most WRITE_MAX a call).
fn zeros_out(a: &mut AddrSpace, va: u64, len: u64) -> i64 {
    let len = len.min(crate::file::stream::WRITE_MAX);
    let zeros = [0u8; PAGE as usize];
    let mut done = 0;
    while done < len {
        let k = (len - done).min(PAGE) as usize;
        if !a.copy_out(va + done, &zeros[..k]) {
            return if done > 0 { done as i64 } else { EFAULT };
        }
        done += k as u64;
    }
    done as i64
}

/// write(2) on node `ino` at `off` (at its end when `append`): (bytes or
/// -errno, the offset after the write).
pub fn write(ino: u32, off: u64, append: bool, a: &mut AddrSpace, va: u64, len: u64) -> (i64, u64) {
    let Some(n) = node::live(ino) else {
        return (EINVAL, off);
    };
    match n.kind {
        Kind::File => {}
        Kind::Dir => return (EISDIR, off),
        // Taken and dropped, as a device does (checked like any write).
        Kind::Null | Kind::Zero => {
            let len = len.min(crate::file::stream::WRITE_MAX);
            return (if a.check(va, len) { len as i64 } else { EFAULT }, off);
        }
        _ => return (EINVAL, off),
    }
    let off = if append { n.size } else { off };
    if len == 0 {
        return (0, off);
    }
    if off >= data::MAX_SIZE {
        return (EFBIG, off);
    }
    let len = len
        .min(crate::file::stream::WRITE_MAX)
        .min(data::MAX_SIZE - off);
    if !a.check(va, len) {
        return (EFAULT, off);
    }
    // Through a bounce buffer: a fault half way through a page must not
    // leave bytes past the file's end.
    let mut chunk = [0u8; PAGE as usize];
    let mut done = 0u64;
    let mut err = 0;
    while done < len {
        let at = off + done;
        let k = (PAGE - at % PAGE).min(len - done) as usize;
        if !a.copy_in(&mut chunk[..k], va + done) {
            err = EFAULT;
            break;
        }
        let Some(n) = node::live(ino) else { break };
        match data::write_at(&mut n.data, at, &chunk[..k]) {
            Ok(w) => {
                done += w as u64;
                n.size = n.size.max(at + w as u64);
                if w < k {
                    err = ENOSPC;
                    break;
                }
            }
            Err(e) => {
                err = e;
                break;
            }
        }
    }
    if let Some(n) = node::live(ino)
        && done > 0
    {
        let t = node::now();
        n.mtime = t;
        n.ctime = t;
    }
    if done == 0 && err != 0 {
        return (err, off);
    }
    (done as i64, off + done)
}

/// Set regular file `ino`'s length: frames past it go back, new bytes
/// read as zeros.
pub fn truncate(ino: u32, len: u64) -> Result<(), i64> {
    let n = node::live(ino).ok_or(EINVAL)?;
    match n.kind {
        Kind::File => {}
        Kind::Dir => return Err(EISDIR),
        _ => return Err(EINVAL),
    }
    if len > data::MAX_SIZE {
        return Err(EFBIG);
    }
    if len < n.size {
        data::truncate(&mut n.data, len);
    }
    n.size = len;
    let t = node::now();
    n.mtime = t;
    n.ctime = t;
    Ok(())
}

/// The device number every node reports.
const DEV: u64 = 0x15;

/// struct stat of node `ino`, as u64 words (x86-64, 144 bytes).
pub fn stat(ino: u32) -> [u64; 18] {
    let mut st = [0u64; 18];
    let Some(n) = node::live(ino) else {
        return st;
    };
    st[0] = DEV;
    st[1] = u64::from(ino);
    st[2] = u64::from(n.nlink);
    st[3] = u64::from(n.kind.ifmt() | u32::from(n.mode)); // st_uid 0 above it
    // st_rdev: Linux's memory devices, major 1: null 3, zero 5.
    st[5] = match n.kind {
        Kind::Null => (1 << 8) | 3,
        Kind::Zero => (1 << 8) | 5,
        _ => 0,
    };
    st[6] = if n.kind == Kind::Dir {
        // As tmpfs: 20 bytes an entry, "." and ".." included.
        (u64::from(n.entries) + 2) * 20
    } else {
        n.size
    };
    st[7] = PAGE;
    st[8] = n.size.div_ceil(PAGE) * (PAGE / 512);
    let (m, c) = (n.mtime, n.ctime);
    const NS: u64 = 1_000_000_000;
    st[9] = m / NS;
    st[10] = m % NS;
    st[11] = m / NS;
    st[12] = m % NS;
    st[13] = c / NS;
    st[14] = c % NS;
    st
}

/// The frame holding page `page` of regular file `ino`, made if it is a
/// hole (mmap maps it; the caller takes its own reference).
pub fn map_frame(ino: u32, page: u64) -> Result<crate::memlayout::Pa, i64> {
    let n = node::live(ino)
        .filter(|n| n.kind == Kind::File)
        .ok_or(EINVAL)?;
    data::frame_for(&mut n.data, page)
}

/// Set node `ino`'s permission bits.
pub fn chmod(ino: u32, mode: u64) -> Result<(), i64> {
    let n = node::live(ino).ok_or(EINVAL)?;
    n.mode = (mode & 0o7777) as u16;
    n.ctime = node::now();
    Ok(())
}

/// An open file on node `ino` was made (open, openat).
pub fn opened(ino: u32) {
    if let Some(n) = node::live(ino) {
        n.opens = n.opens.saturating_add(1);
    }
}

/// The last open file on node `ino` was closed (an unlinked file's data
/// may go now). A removed directory's node is left for `node::alloc` to
/// reclaim: this runs while exit holds the process table, which the
/// check for working directories would take again.
pub fn closed(ino: u32) {
    let Some(n) = node::live(ino) else { return };
    n.opens = n.opens.saturating_sub(1);
    if n.kind != Kind::Dir {
        node::maybe_free(ino);
    }
}

/// A process left directory `ino` (chdir elsewhere): a removed directory
/// may go now.
pub fn left(ino: u32) {
    node::maybe_free(ino);
}

/// Frames the file system holds now.
pub fn held() -> u64 {
    data::held()
}

/// The run is over: free every node and its frames, so the end-of-run
/// check sees them back. Frames the file system's own count says it still
/// holds after that (a frame it lost track of) are returned as a number
/// for the caller to report.
pub fn discard() -> u64 {
    node::free_everything();
    data::held()
}
