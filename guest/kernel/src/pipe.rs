//! Pipes: a 64 KiB ring buffer between a write end and a read end, each an
//! open file that fork and dup may share. A read of an empty pipe waits
//! for a writer, or returns 0 (end of file) once every write end is
//! closed; a write to a full pipe waits for a reader, and one to a pipe
//! with no read end left fails with EPIPE (and the caller gets SIGPIPE).
//! The buffer is 16 frames from the frame allocator, returned when both
//! ends are closed.

use abi::syscall::{EAGAIN, EFAULT, ENFILE, ENOMEM, EPIPE};

use crate::memlayout::{PAGE, Pa, p2v};
use crate::mm::frame;
use crate::mm::uvm::AddrSpace;
use crate::sync::KCell;
use crate::syscall::fd::Xfer;

/// Pipes in the whole system.
pub const NPIPE: usize = 64;
/// Bytes a pipe holds (Linux's default, 16 pages).
pub const CAPACITY: u64 = 64 << 10;
const FRAMES: usize = (CAPACITY / PAGE) as usize;
/// Linux's PIPE_BUF: writes up to this size are atomic.
const PIPE_BUF: u64 = 4096;

#[derive(Clone, Copy)]
struct Pipe {
    used: bool,
    frames: [Pa; FRAMES],
    /// Bytes read and written since creation (the ring's positions).
    head: u64,
    tail: u64,
    readers: bool,
    writers: bool,
}

impl Pipe {
    const FREE: Pipe = Pipe {
        used: false,
        frames: [Pa(0); FRAMES],
        head: 0,
        tail: 0,
        readers: false,
        writers: false,
    };

    fn len(&self) -> u64 {
        self.tail - self.head
    }

    /// The kernel bytes of the ring at stream position `pos`, up to the
    /// end of its frame.
    fn chunk(&self, pos: u64, max: u64) -> (Pa, usize) {
        let at = pos % CAPACITY;
        let frame = self.frames[(at / PAGE) as usize];
        let off = at % PAGE;
        (frame.add(off), (PAGE - off).min(max) as usize)
    }
}

/// The pipe buffers. Protected by the big kernel lock; taken once per
/// operation by `pipes()`.
static PIPES: KCell<[Pipe; NPIPE]> = KCell::new([Pipe::FREE; NPIPE]);

fn pipes() -> &'static mut [Pipe; NPIPE] {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), never re-entered; each function takes the table
    // once and calls nothing here again while it holds it.
    unsafe { PIPES.get() }
}

/// The wait channel of pipe `id` (see `proc::block`).
pub fn chan(id: u16) -> u64 {
    (2 << 32) | u64::from(id)
}

/// Pipe `id` changed: wake who waits on it, and every poller.
fn notify(id: u16) {
    crate::proc::wakeup(chan(id));
    crate::proc::wakeup(crate::syscall::POLL_CHAN);
}

/// A new pipe with both ends open: its id, or ENFILE / ENOMEM.
pub fn create() -> Result<u16, i64> {
    let t = pipes();
    let i = t.iter().position(|p| !p.used).ok_or(ENFILE)?;
    let mut frames = [Pa(0); FRAMES];
    for k in 0..FRAMES {
        match frame::alloc() {
            Some(pa) => frames[k] = pa,
            None => {
                for pa in &frames[..k] {
                    frame::free(*pa);
                }
                return Err(ENOMEM);
            }
        }
    }
    t[i] = Pipe {
        used: true,
        frames,
        head: 0,
        tail: 0,
        readers: true,
        writers: true,
    };
    // NPIPE fits in u16.
    Ok(i as u16)
}

fn get(id: u16) -> Option<&'static mut Pipe> {
    pipes().get_mut(usize::from(id)).filter(|p| p.used)
}

/// The last open file on one end went away: wake the other side, and free
/// the pipe when both ends are gone.
pub fn close_end(id: u16, write: bool) {
    let Some(p) = get(id) else { return };
    if write {
        p.writers = false;
    } else {
        p.readers = false;
    }
    if !p.readers && !p.writers {
        for pa in p.frames {
            frame::free(pa);
        }
        *p = Pipe::FREE;
    }
    notify(id);
}

/// read(2) of the read end into user `va`.
pub fn read(id: u16, a: &mut AddrSpace, va: u64, len: u64, nonblock: bool) -> Xfer {
    let Some(p) = get(id) else {
        return Xfer::Done(0);
    };
    if len == 0 {
        return Xfer::Done(0);
    }
    if p.len() == 0 {
        return if !p.writers {
            Xfer::Done(0)
        } else if nonblock {
            Xfer::Done(EAGAIN)
        } else {
            Xfer::Block(chan(id))
        };
    }
    let want = len.min(p.len());
    if !a.check(va, want) {
        return Xfer::Done(EFAULT);
    }
    let mut done = 0;
    while done < want {
        let (src, n) = p.chunk(p.head, want - done);
        // SAFETY: src..src+n lies in one of the pipe's own frames.
        let bytes = unsafe { core::slice::from_raw_parts(p2v::<u8>(src), n) };
        if !a.copy_out(va + done, bytes) {
            break;
        }
        p.head += n as u64;
        done += n as u64;
    }
    notify(id);
    Xfer::Done(if done == 0 { EFAULT } else { done as i64 })
}

/// write(2) to the write end from user `va`. Up to PIPE_BUF bytes go in
/// whole or wait; more may go in part (a short write; libc loops).
pub fn write(id: u16, a: &mut AddrSpace, va: u64, len: u64, nonblock: bool) -> Xfer {
    let Some(p) = get(id) else {
        return Xfer::Done(EPIPE);
    };
    if !p.readers {
        return Xfer::Done(EPIPE);
    }
    if len == 0 {
        return Xfer::Done(0);
    }
    let room = CAPACITY - p.len();
    if room == 0 || (len <= PIPE_BUF && room < len) {
        return if nonblock {
            Xfer::Done(EAGAIN)
        } else {
            Xfer::Block(chan(id))
        };
    }
    let want = len.min(room);
    if !a.check(va, want) {
        return Xfer::Done(EFAULT);
    }
    let mut done = 0;
    while done < want {
        let (dst, n) = p.chunk(p.tail, want - done);
        // SAFETY: dst..dst+n lies in one of the pipe's own frames.
        let bytes = unsafe { core::slice::from_raw_parts_mut(p2v::<u8>(dst), n) };
        if !a.copy_in(bytes, va + done) {
            break;
        }
        p.tail += n as u64;
        done += n as u64;
    }
    notify(id);
    Xfer::Done(if done == 0 { EFAULT } else { done as i64 })
}

/// poll(2) readiness of one end: (readable, writable, hung up). As on
/// Linux, the write end with room is writable even once the read end is
/// gone (a write then fails with EPIPE); the hang-up says so. The read
/// end is readable only with bytes in the pipe: once the writers are gone
/// poll and epoll say POLLHUP alone, as Linux's pipe_poll (select counts
/// a hang-up as readable itself).
pub fn ready(id: u16, write: bool) -> (bool, bool, bool) {
    let Some(p) = get(id) else {
        return (false, false, true);
    };
    if write {
        (false, p.len() < CAPACITY, !p.readers)
    } else {
        (p.len() > 0, false, !p.writers)
    }
}

/// A count that moves with every byte read or written and with each end's
/// close (see `file::change_seq`).
pub fn change_seq(id: u16) -> u64 {
    get(id).map_or(u64::MAX, |p| {
        p.head
            .wrapping_add(p.tail)
            .wrapping_add(u64::from(!p.readers) << 62)
            .wrapping_add(u64::from(!p.writers) << 63)
    })
}

/// Pipes in use (for the end-of-run check).
pub fn in_use() -> usize {
    pipes().iter().filter(|p| p.used).count()
}
