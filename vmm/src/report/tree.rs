//! The process tree: each pid under its parent, with the images it ran in
//! order. Built from `processes[]` alone (ppid and image), so the text
//! report and tests agree on it; the HTML page draws the same from the
//! same keys. The guest is hostile: a ppid naming no recorded pid makes a
//! root, and a loop of ppids is broken where it is found.

use std::collections::{BTreeMap, BTreeSet};

use super::model::ProcessReport;

/// One pid in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// How many ancestors it has in the tree (0 for a root).
    pub depth: usize,
    /// Its pid.
    pub pid: u32,
    /// Its images, as indices into `processes[]`, in the order it ran them.
    pub images: Vec<usize>,
}

/// The pids of `ps` depth-first, each after its parent, siblings in pid
/// order: a pid's parent is its first image's ppid.
pub fn tree(ps: &[ProcessReport]) -> Vec<Node> {
    let mut images: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, p) in ps.iter().enumerate() {
        images.entry(p.pid).or_default().push(i);
    }
    let parent = |pid: u32| -> Option<u32> {
        let first = *images.get(&pid)?.first()?;
        let ppid = ps.get(first)?.ppid;
        (ppid != pid && images.contains_key(&ppid)).then_some(ppid)
    };
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &pid in images.keys() {
        if let Some(pp) = parent(pid) {
            children.entry(pp).or_default().push(pid);
        }
    }
    let mut out = Vec::with_capacity(images.len());
    let mut done: BTreeSet<u32> = BTreeSet::new();
    // Roots first; then whatever a loop of ppids kept from every root.
    let roots: Vec<u32> = images
        .keys()
        .copied()
        .filter(|&p| parent(p).is_none())
        .collect();
    let rest: Vec<u32> = images.keys().copied().collect();
    for start in roots.into_iter().chain(rest) {
        if done.contains(&start) {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        while let Some((pid, depth)) = stack.pop() {
            if !done.insert(pid) {
                continue;
            }
            out.push(Node {
                depth,
                pid,
                images: images.get(&pid).cloned().unwrap_or_default(),
            });
            if let Some(kids) = children.get(&pid) {
                // Reversed onto the stack so siblings come out in pid order.
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
    }
    out
}

/// A pid's images' names in order, "sh → wc".
pub fn names(ps: &[ProcessReport], images: &[usize]) -> String {
    images
        .iter()
        .filter_map(|&i| ps.get(i))
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Whether the tree says more than the list: some process has a parent
/// or ran more than one image.
pub fn worth_drawing(ps: &[ProcessReport]) -> bool {
    ps.iter().any(|p| p.ppid != 0 || p.image != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, image: u32, name: &str) -> ProcessReport {
        ProcessReport {
            pid,
            ppid,
            image,
            name: name.into(),
            ..Default::default()
        }
    }

    fn lines(ps: &[ProcessReport]) -> Vec<String> {
        tree(ps)
            .iter()
            .map(|n| format!("{}{} {}", "  ".repeat(n.depth), n.pid, names(ps, &n.images)))
            .collect()
    }

    /// Children under their parent in pid order, a pid's images on one
    /// line, an unknown parent a root.
    #[test]
    fn children_sit_under_their_parent() {
        let ps = [
            p(1, 0, 0, "init"),
            p(2, 1, 0, "sh"),
            p(2, 1, 1, "wc"),
            p(3, 2, 0, "seq"),
            p(4, 1, 0, "cat"),
            p(5, 0, 0, "other"),
            p(6, 99, 0, "orphan"),
        ];
        assert_eq!(
            lines(&ps),
            [
                "1 init",
                "  2 sh → wc",
                "    3 seq",
                "  4 cat",
                "5 other",
                "6 orphan"
            ]
        );
        assert!(worth_drawing(&ps));
        assert!(!worth_drawing(&[p(1, 0, 0, "a"), p(2, 0, 0, "b")]));
    }

    /// A hostile loop of ppids still lists every pid once.
    #[test]
    fn a_loop_of_parents_ends() {
        let ps = [
            p(1, 3, 0, "a"),
            p(2, 1, 0, "b"),
            p(3, 2, 0, "c"),
            p(4, 4, 0, "self"),
        ];
        let t = tree(&ps);
        let mut pids: Vec<u32> = t.iter().map(|n| n.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, [1, 2, 3, 4]);
        assert_eq!(lines(&ps), ["4 self", "1 a", "  2 b", "    3 c"]);
    }
}
