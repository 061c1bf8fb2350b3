//! Directory entries: a directory's bytes (data.rs) are an array of
//! fixed-size records, one slot each:
//!
//! ```text
//! 0  ino: u32 (0: a free slot)   4  name length: u16   6  kind: u8, pad
//! 8  name: NAME_MAX bytes
//! ```
//!
//! A removed entry leaves a free slot that the next entry takes, so the
//! slots of the entries that stay do not move: getdents can number its
//! position by slot, and `rm -r` may remove what it has read while it
//! reads on. "." and ".." are not stored (the node knows its parent).

use abi::syscall::{ENOSPC, ENOTDIR};

use super::data;
use super::node::{self, Kind};

/// Longest name (Linux's NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Bytes of a record.
pub const REC: u64 = 8 + NAME_MAX as u64 + 1;
/// Most slots of one directory (more than the node table can fill: hard
/// links aside).
pub const MAX_SLOTS: u64 = 2 * node::NNODE as u64;

/// A name as a record holds it.
#[derive(Clone, Copy)]
pub struct Name {
    pub bytes: [u8; NAME_MAX],
    pub len: usize,
}

impl Name {
    pub const EMPTY: Name = Name {
        bytes: [0; NAME_MAX],
        len: 0,
    };

    /// `s` as a name (the caller has checked its length).
    pub fn from(s: &[u8]) -> Name {
        let mut n = Name::EMPTY;
        let len = s.len().min(NAME_MAX);
        n.bytes[..len].copy_from_slice(&s[..len]);
        n.len = len;
        n
    }

    pub fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One entry as read from a slot.
pub struct Entry {
    pub ino: u32,
    pub kind: Kind,
    pub name: Name,
}

/// Slots of directory `dir`.
pub fn slots(dir: u32) -> u64 {
    node::live(dir).map_or(0, |n| n.size / REC)
}

/// The fixed part of slot `slot`: (ino, name length, kind byte).
fn head(dir: u32, slot: u64) -> (u32, usize, u8) {
    let Some(n) = node::live(dir) else {
        return (0, 0, 0);
    };
    let mut h = [0u8; 8];
    data::read_at(&n.data, slot * REC, &mut h);
    let ino = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = usize::from(u16::from_le_bytes([h[4], h[5]])).min(NAME_MAX);
    (ino, len, h[6])
}

fn kind_of(b: u8) -> Kind {
    match b {
        4 => Kind::Dir,
        10 => Kind::Symlink,
        _ => Kind::File,
    }
}

/// The entry in slot `slot`, if one is there.
pub fn entry(dir: u32, slot: u64) -> Option<Entry> {
    let (ino, len, k) = head(dir, slot);
    if ino == 0 {
        return None;
    }
    let n = node::live(dir)?;
    let mut name = Name::EMPTY;
    data::read_at(&n.data, slot * REC + 8, &mut name.bytes[..len]);
    name.len = len;
    Some(Entry {
        ino,
        kind: kind_of(k),
        name,
    })
}

/// The slot and node of `name` in `dir`.
pub fn find(dir: u32, name: &[u8]) -> Option<(u64, u32)> {
    let n = slots(dir);
    let mut buf = [0u8; NAME_MAX];
    for slot in 0..n {
        let (ino, len, _) = head(dir, slot);
        if ino == 0 || len != name.len() {
            continue;
        }
        let d = node::live(dir)?;
        data::read_at(&d.data, slot * REC + 8, &mut buf[..len]);
        if &buf[..len] == name {
            return Some((slot, ino));
        }
    }
    None
}

/// The name `dir` has for node `ino` (getcwd's walk up).
pub fn name_of(dir: u32, ino: u32) -> Option<Name> {
    (0..slots(dir)).find_map(|s| entry(dir, s).filter(|e| e.ino == ino).map(|e| e.name))
}

/// Write one record into `slot` (ino 0 frees it).
fn put(dir: u32, slot: u64, ino: u32, kind: Kind, name: &[u8]) -> Result<(), i64> {
    let d = node::live(dir).ok_or(ENOTDIR)?;
    let mut rec = [0u8; REC as usize];
    rec[..4].copy_from_slice(&ino.to_le_bytes());
    rec[4..6].copy_from_slice(&(name.len() as u16).to_le_bytes());
    rec[6] = kind.dtype();
    rec[8..8 + name.len()].copy_from_slice(name);
    match data::write_at(&mut d.data, slot * REC, &rec) {
        Ok(n) if n == rec.len() => Ok(()),
        Ok(_) => Err(ENOSPC),
        Err(e) => Err(e),
    }
}

/// Add `name` -> `ino` to `dir` (the caller has checked it is not there
/// and that the name is 1..=NAME_MAX bytes): ENOSPC when no frame is left.
pub fn add(dir: u32, name: &[u8], ino: u32, kind: Kind) -> Result<(), i64> {
    let n = slots(dir);
    let slot = (0..n).find(|&s| head(dir, s).0 == 0).unwrap_or(n);
    if slot >= MAX_SLOTS {
        return Err(ENOSPC);
    }
    put(dir, slot, ino, kind, name)?;
    let t = node::now();
    let d = node::live(dir).ok_or(ENOTDIR)?;
    if slot == n {
        d.size = (n + 1) * REC;
    }
    d.entries += 1;
    d.mtime = t;
    d.ctime = t;
    Ok(())
}

/// Make slot `slot` of `dir` name `ino` instead (rename over an entry).
pub fn replace(dir: u32, slot: u64, ino: u32, kind: Kind) {
    if let Some(e) = entry(dir, slot) {
        let _ = put(dir, slot, ino, kind, e.name.get());
    }
}

/// Remove the entry in `slot` of `dir`; trailing free slots go.
pub fn remove(dir: u32, slot: u64) {
    if head(dir, slot).0 == 0 {
        return;
    }
    // Clearing the ino of a slot that exists writes into a frame it has.
    let _ = put(dir, slot, 0, Kind::Free, &[]);
    let mut n = slots(dir);
    while n > 0 && head(dir, n - 1).0 == 0 {
        n -= 1;
    }
    let t = node::now();
    if let Some(d) = node::live(dir) {
        d.entries = d.entries.saturating_sub(1);
        d.size = n * REC;
        data::truncate(&mut d.data, n * REC);
        d.mtime = t;
        d.ctime = t;
    }
}
