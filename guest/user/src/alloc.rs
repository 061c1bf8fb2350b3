//! malloc/free over sbrk: a first-fit free list of blocks with a 16-byte
//! header, coalescing with the next free block on free. Small on purpose.

use core::ptr::null_mut;

use crate::sys::sbrk;

#[repr(C)]
struct Block {
    size: usize, // payload bytes
    free: bool,
    next: *mut Block,
}

const HDR: usize = core::mem::size_of::<Block>();
static mut HEAD: *mut Block = null_mut();

fn align16(n: usize) -> usize {
    (n + 15) & !15
}

/// A block of at least `n` bytes, or null when the heap cannot grow.
pub fn malloc(n: usize) -> *mut u8 {
    let n = align16(n.max(16));
    // SAFETY: one thread per process; blocks are only reached through HEAD.
    unsafe {
        let mut b = HEAD;
        let mut last = null_mut::<Block>();
        while !b.is_null() {
            if (*b).free && (*b).size >= n {
                if (*b).size >= n + HDR + 64 {
                    // Split off the tail as a new free block.
                    let rest = (b as *mut u8).add(HDR + n) as *mut Block;
                    rest.write(Block {
                        size: (*b).size - n - HDR,
                        free: true,
                        next: (*b).next,
                    });
                    (*b).size = n;
                    (*b).next = rest;
                }
                (*b).free = false;
                return (b as *mut u8).add(HDR);
            }
            last = b;
            b = (*b).next;
        }
        let Some(p) = sbrk((HDR + n) as i64) else {
            return null_mut();
        };
        let b = p as *mut Block;
        b.write(Block {
            size: n,
            free: false,
            next: null_mut(),
        });
        if last.is_null() {
            HEAD = b;
        } else {
            (*last).next = b;
        }
        (b as *mut u8).add(HDR)
    }
}

/// Give back a block from `malloc` (null is ignored).
///
/// # Safety
/// `p` is null or came from `malloc` and was not freed since.
pub unsafe fn free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    // SAFETY: the caller guarantees p came from malloc: a header precedes it.
    unsafe {
        let b = p.sub(HDR) as *mut Block;
        (*b).free = true;
        let n = (*b).next;
        if !n.is_null() && (*n).free && (b as *mut u8).add(HDR + (*b).size) == n as *mut u8 {
            (*b).size += HDR + (*n).size;
            (*b).next = (*n).next;
        }
    }
}
