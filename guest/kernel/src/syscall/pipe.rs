//! pipe(2) and pipe2(2): a new pipe (`crate::pipe`) and two descriptors,
//! the read end first.

use abi::syscall::{EFAULT, EINVAL};

use super::fd::O_CLOEXEC;
use super::{current, put, with_aspace};
use crate::file::{O_NONBLOCK, O_RDONLY, O_WRONLY, Object};
use crate::pipe;

pub fn pipe2(fds_va: u64, flags: u64) -> i64 {
    if flags & !(O_CLOEXEC | u64::from(O_NONBLOCK)) != 0 {
        return EINVAL;
    }
    // Check the user array first: nothing to undo if it is bad.
    let mut probe = [0u8; 8];
    if with_aspace(|a| {
        if a.copy_in(&mut probe, fds_va) {
            0
        } else {
            EFAULT
        }
    }) != 0
    {
        return EFAULT;
    }
    let id = match pipe::create() {
        Ok(id) => id,
        Err(e) => return e,
    };
    let cloexec = flags & O_CLOEXEC != 0;
    let nb = flags as u32 & O_NONBLOCK;
    let fds = &mut current().fds;
    let r = match fds.open(Object::Pipe { id, write: false }, O_RDONLY | nb, cloexec) {
        Ok(r) => r,
        Err(e) => {
            pipe::close_end(id, false);
            pipe::close_end(id, true);
            return e;
        }
    };
    let w = match fds.open(Object::Pipe { id, write: true }, O_WRONLY | nb, cloexec) {
        Ok(w) => w,
        Err(e) => {
            let _ = fds.close(r);
            pipe::close_end(id, true);
            return e;
        }
    };
    let pair = [r as i32, w as i32];
    match with_aspace(|a| put(a, fds_va, &pair)) {
        0 => 0,
        e => {
            let fds = &mut current().fds;
            let _ = fds.close(r);
            let _ = fds.close(w);
            e
        }
    }
}
