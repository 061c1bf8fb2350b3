//! The RAM file system: the guest's root tree (a copy of `--files DIR`
//! taken at boot, or the `--run` programs), read-write, gone at exit.
//!
//! Scaffolding: the interface the descriptor layer and exec use; the tree
//! itself is being written (issue 18). Until then the root is empty.

use abi::syscall::{EBADF, ENOENT};

use crate::mm::uvm::AddrSpace;

/// The root directory's node number.
pub const ROOT: u32 = 1;

/// The node `path` names, relative to directory `cwd` when it does not
/// start with '/'; `follow`: follow a symlink in the last component.
pub fn lookup(_cwd: u32, _path: &[u8], _follow: bool) -> Result<u32, i64> {
    Err(ENOENT)
}

/// Bytes in regular file `ino`.
pub fn size(_ino: u32) -> u64 {
    0
}

/// Copy bytes of regular file `ino` from `off` into a kernel buffer: how
/// many (0 at or past the end).
pub fn read_at(_ino: u32, _off: u64, _dst: &mut [u8]) -> usize {
    0
}

/// read(2) on an open file of node `ino` at offset `off`: bytes copied to
/// user `va` (the caller moves the offset), or -errno.
pub fn read(_ino: u32, _off: u64, _a: &mut AddrSpace, _va: u64, _len: u64) -> i64 {
    EBADF
}

/// write(2) on node `ino` at `off` (at its end when `append`): (bytes or
/// -errno, the offset after the write).
pub fn write(
    _ino: u32,
    off: u64,
    _append: bool,
    _a: &mut AddrSpace,
    _va: u64,
    _len: u64,
) -> (i64, u64) {
    (EBADF, off)
}

/// struct stat of node `ino`, as u64 words (x86-64, 144 bytes).
pub fn stat(_ino: u32) -> [u64; 18] {
    [0; 18]
}

/// The last open file on node `ino` was closed (an unlinked file's data
/// may go now).
pub fn closed(_ino: u32) {}
