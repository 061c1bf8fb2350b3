//! The tree at boot: the root directory, then either a copy of the tree
//! image the VMM packed from `--files DIR` (abi::tree), or, without one,
//! a file /NAME for each `--run` program; /bin and /tmp in both cases if
//! absent. Runs before the frames holding the modules and the image go
//! to the allocator; then it gives the image's frames back (the contract
//! of `Machine::tree`).

use abi::tree::{Kind as TreeKind, Tree};

use super::node::{self, Kind};
use super::{ROOT, data, dir, names, path};
use crate::bootinfo::Machine;
use crate::memlayout::{PAGE, Pa};
use crate::mm::frame;
use crate::{kprintln, modules, proc};

/// Build the file system. Sets its budget: half of the frames free now.
pub fn build(m: &Machine) {
    data::set_budget(frame::free_count() / 2);
    let Some(root) = node::alloc(Kind::Dir, 0o755, ROOT) else {
        return;
    };
    debug_assert_eq!(root, ROOT);
    match m.tree() {
        Some(image) => {
            from_image(image);
            give_back(m);
        }
        None if m.tree_len != 0 => {
            kprintln!("[kernel] --files: refused: the tree image lies outside the area it may use");
            proc::refused();
        }
        None => from_modules(m),
    }
    for (name, mode) in [(&b"bin"[..], 0o755), (b"tmp", 0o1777), (b"dev", 0o755)] {
        if dir::find(ROOT, name).is_none()
            && let Err(e) = names::create(ROOT, name, Kind::Dir, mode, &[])
        {
            kprintln!(
                "[kernel] file system: cannot make /{}: errno {}",
                name.escape_ascii(),
                -e
            );
        }
    }
    devices();
}

/// /dev/null and /dev/zero, which shells and scripts take for granted (a
/// background job's stdin, `> /dev/null`); a tree that has /dev/null
/// already (as a file, say) keeps its own.
fn devices() {
    let Some((_, dev)) = dir::find(ROOT, b"dev") else {
        return;
    };
    if node::kind(dev) != Kind::Dir {
        return;
    }
    for (name, kind) in [(&b"null"[..], Kind::Null), (b"zero", Kind::Zero)] {
        if dir::find(dev, name).is_none()
            && let Err(e) = names::create(dev, name, kind, 0o666, &[])
        {
            kprintln!(
                "[kernel] file system: cannot make /dev/{}: errno {}",
                name.escape_ascii(),
                -e
            );
        }
    }
}

/// Copy every record of the image; a bad record or a full file system
/// stops the copy (and fails the run), naming the path.
fn from_image(image: &[u8]) {
    let tree = match Tree::parse(image) {
        Ok(t) => t,
        Err(e) => {
            kprintln!("[kernel] --files: refused: {e}");
            proc::refused();
            return;
        }
    };
    if let Some(r) = node::live(ROOT) {
        r.mode = tree.root_mode();
    }
    for rec in tree.entries() {
        let e = match rec {
            Ok(e) => e,
            Err(why) => {
                kprintln!("[kernel] --files: the tree image is damaged: {why}");
                proc::refused();
                return;
            }
        };
        let parent = if e.parent().is_empty() {
            Ok(ROOT)
        } else {
            path::lookup(ROOT, e.parent(), false)
        };
        let kind = match e.kind {
            TreeKind::Dir => Kind::Dir,
            TreeKind::File => Kind::File,
            TreeKind::Symlink => Kind::Symlink,
        };
        let made = parent.and_then(|p| names::create(p, e.name(), kind, e.mode, e.data));
        if let Err(errno) = made {
            kprintln!(
                "[kernel] --files: cannot copy /{}: errno {} (the file system holds at most {} MiB)",
                e.path.escape_ascii(),
                -errno,
                (data::budget() * PAGE) >> 20
            );
            proc::refused();
            return;
        }
    }
}

/// The `--run` programs as /NAME (the first of a name wins).
fn from_modules(m: &Machine) {
    modules::each(m, |name, bytes| {
        if name.is_empty() || name.len() > dir::NAME_MAX || dir::find(ROOT, name).is_some() {
            return;
        }
        if let Err(e) = names::create(ROOT, name, Kind::File, 0o755, bytes) {
            kprintln!(
                "[kernel] file system: cannot copy /{}: errno {}",
                name.escape_ascii(),
                -e
            );
        }
    });
}

/// Hand the image's pages to the frame allocator (once, after the copy).
fn give_back(m: &Machine) {
    let Some((start, end)) = m.tree_range() else {
        return;
    };
    let mut n = 0;
    let mut pa = start;
    while pa < end {
        frame::give(Pa(pa));
        n += 1;
        pa += PAGE;
    }
    proc::frames_returned(n);
}
