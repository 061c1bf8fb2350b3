//! Memory system calls: the break, anonymous mappings and mappings of
//! files (mm/addrspace.rs has the semantics; mm/mmap.rs places mappings,
//! mm/filemap.rs maps files).

use abi::syscall::{EACCES, EBADF, EINVAL, ENODEV, ENOMEM, MAP_ANONYMOUS, MAP_SHARED, PROT_WRITE};

use super::{current, with_aspace};
use crate::file::Object;
use crate::fs;
use crate::fs::path::PATH_MAX;
use crate::memlayout::PAGE;

/// brk(2): the new break, or the old one when it cannot move (brk(0)
/// asks). Never an error code: that is how Linux does it.
pub fn brk(addr: u64) -> i64 {
    with_aspace(|a| a.set_brk(addr) as i64)
}

/// mmap(2): anonymous memory, or the file open at `fd` from `off`.
pub fn mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> i64 {
    if flags & MAP_ANONYMOUS != 0 {
        with_aspace(|a| {
            a.mmap(addr, len, prot, flags)
                .map_or_else(|e| e, |at| at as i64)
        })
    } else {
        mmap_file(addr, len, prot, flags, fd, off).map_or_else(|e| e, |at| at as i64)
    }
}

/// mmap(2) of a regular file: readable, and writable too for a shared
/// writable mapping (EACCES); a page-aligned offset (EINVAL); pipes,
/// streams and directories cannot be mapped (ENODEV).
fn mmap_file(addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> Result<u64, i64> {
    let p = current();
    let (_, of) = p.fds.file(fd).map_err(|_| EBADF)?;
    let ino = match of.obj {
        Object::Node(ino) if fs::is_file(ino) => ino,
        _ => return Err(ENODEV),
    };
    let shared = flags & 3 == MAP_SHARED || flags & 3 == 3;
    if !of.readable() || (shared && prot & PROT_WRITE != 0 && !of.writable()) {
        return Err(EACCES);
    }
    if !off.is_multiple_of(PAGE) || len == 0 || (off as i64) < 0 {
        return Err(EINVAL);
    }
    let first = off / PAGE;
    let file_pages = fs::size(ino).div_ceil(PAGE).saturating_sub(first);
    let a = p.aspace.as_mut().ok_or(ENOMEM)?;
    let at = a.mmap_file(addr, len, prot, flags, file_pages, |i| {
        fs::map_frame(ino, first + i)
    })?;
    // The report's name for it, searched for only when it would be kept.
    if let Some(r) = a.regions.of(at)
        && a.files.room(a.regions.all())
    {
        let mut path = [0u8; PATH_MAX];
        if let Ok(start) = fs::path::path_of(ino, &mut path) {
            a.files.name(r.call, &path[start..], a.regions.all());
        }
    }
    Ok(at)
}

/// msync(2): mappings are the file's own frames, so there is nothing to
/// write back; the arguments are checked as Linux does (a page-aligned
/// start, known flags, not both MS_SYNC and MS_ASYNC, a mapped range).
pub fn msync(addr: u64, len: u64, flags: u64) -> i64 {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if !addr.is_multiple_of(PAGE)
        || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
    {
        return EINVAL;
    }
    let Some(end) = len
        .checked_next_multiple_of(PAGE)
        .and_then(|l| addr.checked_add(l))
    else {
        return ENOMEM;
    };
    with_aspace(|a| if a.check(addr, end - addr) { 0 } else { ENOMEM })
}

pub fn munmap(addr: u64, len: u64) -> i64 {
    with_aspace(|a| a.munmap(addr, len))
}

pub fn mprotect(addr: u64, len: u64, prot: u64) -> i64 {
    with_aspace(|a| a.mprotect(addr, len, prot))
}

/// madvise(2): MADV_HUGEPAGE asks for 2 MiB pages (mm/huge.rs).
pub fn madvise(addr: u64, len: u64, advice: u64) -> i64 {
    with_aspace(|a| a.madvise(addr, len, advice))
}
