//! Memory system calls: the break and anonymous mappings (mm/mmap.rs has
//! the semantics).

use super::with_aspace;

/// brk(2): the new break, or the old one when it cannot move (brk(0)
/// asks). Never an error code: that is how Linux does it.
pub fn brk(addr: u64) -> i64 {
    with_aspace(|a| a.set_brk(addr) as i64)
}

pub fn mmap(addr: u64, len: u64, prot: u64, flags: u64) -> i64 {
    with_aspace(|a| match a.mmap(addr, len, prot, flags) {
        Ok(at) => at as i64,
        Err(e) => e,
    })
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
