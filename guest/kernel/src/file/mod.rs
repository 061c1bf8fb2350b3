//! Open files, as Unix has them: a descriptor (a small number in one
//! process's table, `fdtable.rs`) names an open file (an entry of the
//! system-wide table here), which holds what it is open on (`Object`), how
//! (its open flags) and where (the offset). fork and dup copy descriptors,
//! so several descriptors, in one process or many, may name one open file
//! and share its offset; the open file goes away with its last descriptor.

pub mod epoll;
pub mod eventfd;
pub mod fdtable;
pub mod stream;

use crate::sync::KCell;

/// Open files in the whole system.
pub const NFILE: usize = 256;

/// What an open file reads and writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Object {
    /// microvmm's stdin (through the VMM); only the first `--run`
    /// program's fd 0 and what it passes on.
    Stdin,
    /// Reads end of file at once: fd 0 of everyone else.
    Empty,
    /// Program output to the VMM's stdout (1) or stderr (2).
    Console(u8),
    /// One end of pipe number `id` (`crate::pipe`).
    Pipe { id: u16, write: bool },
    /// A node of the RAM file system (`crate::fs`).
    Node(u32),
    /// An epoll instance (`epoll.rs`).
    Epoll(u16),
    /// An eventfd counter (`eventfd.rs`).
    EventFd(u16),
}

/// The access mode bits of open flags, and the flags an open file keeps.
pub const O_ACCMODE: u32 = 3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
/// Flags F_SETFL may change (Linux: O_APPEND, O_NONBLOCK and a few we lack).
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK;

#[derive(Clone, Copy)]
pub struct OpenFile {
    /// Descriptors naming it, in every process; 0: the slot is free.
    pub refs: u32,
    pub obj: Object,
    /// O_ACCMODE, O_APPEND, O_NONBLOCK (and what else open kept).
    pub flags: u32,
    /// Where the next read or write starts (files only).
    pub off: u64,
}

impl OpenFile {
    const FREE: OpenFile = OpenFile {
        refs: 0,
        obj: Object::Empty,
        flags: 0,
        off: 0,
    };

    pub fn readable(&self) -> bool {
        self.flags & O_ACCMODE != O_WRONLY
    }

    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

/// An index into the open-file table, as a descriptor holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileId(u16);

/// The open-file table. Protected by the big kernel lock; taken once per
/// operation by `files()` (`close_object` runs after the entry is updated).
static FILES: KCell<[OpenFile; NFILE]> = KCell::new([OpenFile::FREE; NFILE]);

fn files() -> &'static mut [OpenFile; NFILE] {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), never re-entered; every function here takes the
    // table once and calls nothing that takes it again while it holds it
    // (`close_object` is called after the entry is updated).
    unsafe { FILES.get() }
}

/// Open `obj` with `flags`: one reference, for the descriptor about to be
/// installed. None when the system's table is full (ENFILE).
pub fn open(obj: Object, flags: u32) -> Option<FileId> {
    let t = files();
    let i = t.iter().position(|f| f.refs == 0)?;
    t[i] = OpenFile {
        refs: 1,
        obj,
        flags,
        off: 0,
    };
    // NFILE fits in u16.
    Some(FileId(i as u16))
}

/// A copy of the open file (its object, flags and offset now).
pub fn get(id: FileId) -> OpenFile {
    files()[usize::from(id.0)]
}

/// Set the offset (after a read or write that moved it, or lseek).
pub fn set_offset(id: FileId, off: u64) {
    files()[usize::from(id.0)].off = off;
}

/// Change the flags F_SETFL may change.
pub fn set_flags(id: FileId, flags: u32) {
    let f = &mut files()[usize::from(id.0)];
    f.flags = (f.flags & !SETFL_MASK) | (flags & SETFL_MASK);
}

/// Another descriptor names it (dup, fork).
pub fn hold(id: FileId) {
    let f = &mut files()[usize::from(id.0)];
    f.refs = f.refs.saturating_add(1);
}

/// A descriptor naming it was closed; the last one closes the object.
pub fn release(id: FileId) {
    let f = &mut files()[usize::from(id.0)];
    if f.refs == 0 {
        return;
    }
    f.refs -= 1;
    if f.refs == 0 {
        let obj = f.obj;
        epoll::forget(id);
        close_object(obj);
    }
}

/// What an open file is ready for now, as poll(2) asks: (readable,
/// writable, hung up). microvmm's stdin and an empty stream are always
/// readable, the console always takes writes, a file is always ready, a
/// pipe and an eventfd are as their buffer and counter say, and an epoll
/// instance is readable while one of its entries is ready. `deep` false
/// (inside an epoll instance's own scan): an epoll instance counts as
/// not ready, so no scan nests in another.
pub fn readiness(of: &OpenFile, deep: bool) -> (bool, bool, bool) {
    match of.obj {
        Object::Stdin | Object::Empty => (true, false, false),
        Object::Console(_) => (false, true, false),
        Object::Node(_) => (true, true, false),
        Object::Pipe { id, write } => crate::pipe::ready(id, write),
        Object::EventFd(id) => {
            let (r, w) = eventfd::ready(id);
            (r, w, false)
        }
        Object::Epoll(id) if deep => (epoll::any_ready(id, watched_events), false, false),
        Object::Epoll(_) => (false, false, false),
    }
}

/// The epoll events open file `id` has now among `asked`, and its change
/// count (`change_seq`).
pub fn watched_events(id: FileId, asked: u32) -> (u32, u64) {
    let of = get(id);
    let events = epoll::events_of(readiness(&of, false), of.readable(), of.writable(), asked);
    (events, change_seq(&of))
}

/// A count that moves whenever what the open file is open on changes in a
/// way a poller may care about (bytes moved, an end closed, a counter
/// read or written); constant for what is always ready.
pub fn change_seq(of: &OpenFile) -> u64 {
    match of.obj {
        Object::Pipe { id, .. } => crate::pipe::change_seq(id),
        Object::EventFd(id) => eventfd::change_seq(id),
        _ => 0,
    }
}

/// How many open files are in use (for the end-of-run check that every
/// one was closed).
pub fn in_use() -> usize {
    files().iter().filter(|f| f.refs > 0).count()
}

/// The last open file on `obj` went away.
fn close_object(obj: Object) {
    match obj {
        Object::Pipe { id, write } => crate::pipe::close_end(id, write),
        Object::Node(ino) => crate::fs::closed(ino),
        Object::Epoll(id) => epoll::close(id),
        Object::EventFd(id) => eventfd::close(id),
        Object::Stdin | Object::Empty | Object::Console(_) => {}
    }
}
