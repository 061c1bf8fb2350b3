//! The node table: one fixed-size entry per file, directory or symlink
//! (an inode), numbered from 1 (ROOT); 0 names nothing. A node lives while
//! a directory entry names it (nlink), an open file is on it (opens) or,
//! for a directory, a process has it as its working directory; then its
//! frames go back and its slot is free again.

use core::sync::atomic::{AtomicU64, Ordering};

use super::data::{self, Data};
use crate::sync::KCell;

/// Nodes in the whole file system (the busybox tree with its applet
/// links is a few hundred).
pub const NNODE: usize = 4096;

/// What a node is (0 marks a free slot).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Free,
    File,
    Dir,
    Symlink,
    /// /dev/null: reads end of file, takes every write.
    Null,
    /// /dev/zero: reads zeros, takes every write.
    Zero,
}

impl Kind {
    /// The S_IFMT bits of st_mode.
    pub fn ifmt(self) -> u32 {
        match self {
            Kind::File => 0o100_000,
            Kind::Dir => 0o040_000,
            Kind::Symlink => 0o120_000,
            Kind::Null | Kind::Zero => 0o020_000,
            Kind::Free => 0,
        }
    }

    /// getdents's d_type.
    pub fn dtype(self) -> u8 {
        match self {
            Kind::File => 8,
            Kind::Dir => 4,
            Kind::Symlink => 10,
            Kind::Null | Kind::Zero => 2,
            Kind::Free => 0,
        }
    }
}

#[derive(Clone, Copy)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits (0o7777).
    pub mode: u16,
    /// Directory entries naming it (a directory: 2 + its subdirectories).
    pub nlink: u32,
    /// Open files on it (the system-wide table's entries, not descriptors).
    pub opens: u32,
    /// Bytes: a file's length, a symlink target's length, a directory's
    /// entry slots times dir::REC.
    pub size: u64,
    pub data: Data,
    /// A directory's parent (the root's is itself).
    pub parent: u32,
    /// A directory's live entries.
    pub entries: u32,
    /// Last change of contents, and of the node itself (ns since the epoch).
    pub mtime: u64,
    pub ctime: u64,
}

impl Node {
    const FREE: Node = Node {
        kind: Kind::Free,
        mode: 0,
        nlink: 0,
        opens: 0,
        size: 0,
        data: Data { root: 0, depth: 0 },
        parent: 0,
        entries: 0,
        mtime: 0,
        ctime: 0,
    };
}

/// The in-memory file tree's nodes. Protected by the big kernel lock;
/// taken for one step at a time by `table()` (below).
static NODES: KCell<[Node; NNODE]> = KCell::new([Node::FREE; NNODE]);

/// Nodes in use now (for the report at the end).
static USED: AtomicU64 = AtomicU64::new(0);

/// The table. Every function of the file system takes it through `get`
/// for one step and never holds a result across a call that takes it
/// again (data.rs never takes it).
fn table() -> &'static mut [Node; NNODE] {
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), never re-entered; the discipline above keeps two
    // results from being in use at once.
    unsafe { NODES.get() }
}

/// Node `ino`, if it is a number of the table (free or not).
pub fn get(ino: u32) -> Option<&'static mut Node> {
    if ino == 0 {
        return None;
    }
    table().get_mut(ino as usize)
}

/// Node `ino` if it is in use.
pub fn live(ino: u32) -> Option<&'static mut Node> {
    get(ino).filter(|n| n.kind != Kind::Free)
}

/// The kind of node `ino` (Free for a bad number).
pub fn kind(ino: u32) -> Kind {
    live(ino).map_or(Kind::Free, |n| n.kind)
}

/// A wall-clock time for the nodes' times.
pub fn now() -> u64 {
    crate::syscall::time::realtime_ns()
}

/// A fresh node of `kind` with `mode`, one link: its number, or None when
/// the table is full even after reclaiming removed directories nobody
/// uses any more.
pub fn alloc(kind: Kind, mode: u16, parent: u32) -> Option<u32> {
    let i = match free_slot() {
        Some(i) => i,
        None => {
            reclaim_dead_dirs();
            free_slot()?
        }
    };
    let t = now();
    table()[i] = Node {
        kind,
        mode: mode & 0o7777,
        nlink: if kind == Kind::Dir { 2 } else { 1 },
        parent,
        mtime: t,
        ctime: t,
        ..Node::FREE
    };
    USED.fetch_add(1, Ordering::Relaxed);
    Some(i as u32)
}

fn free_slot() -> Option<usize> {
    table()
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, n)| n.kind == Kind::Free)
        .map(|(i, _)| i)
}

/// Give node `ino` back, its frames with it.
pub fn free(ino: u32) {
    if let Some(n) = live(ino) {
        data::free_all(&mut n.data);
        *n = Node::FREE;
        USED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Free `ino` if nothing keeps it any more: no link, no open file, and
/// (a directory) no process working in it.
pub fn maybe_free(ino: u32) {
    let Some(n) = live(ino) else { return };
    if n.nlink > 0 || n.opens > 0 {
        return;
    }
    if n.kind == Kind::Dir && crate::proc::cwd_in_use(ino) {
        return;
    }
    free(ino);
}

/// Free every removed directory no one uses (their slots linger while a
/// process works in them).
fn reclaim_dead_dirs() {
    for ino in 1..NNODE as u32 {
        if kind(ino) == Kind::Dir {
            maybe_free(ino);
        }
    }
}

/// Nodes in use.
pub fn used() -> u64 {
    USED.load(Ordering::Relaxed)
}

/// Free every node (the run is over: the tree is discarded).
pub fn free_everything() {
    for ino in 1..NNODE as u32 {
        free(ino);
    }
}
