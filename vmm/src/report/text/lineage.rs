//! What fork and exec add to the text report: the process tree, each
//! process's parent and images, and the pages it shared with the processes
//! live at its exit (with its copy-on-write faults).

use std::fmt::Write;

use super::opt;
use crate::report::model::*;
use crate::report::tree;
use crate::terminal::escape_text;

/// The process tree, when there is one to draw (a process with a parent,
/// or one that ran several images): each pid under its parent, its images'
/// names in order, and how its last one ended.
pub(super) fn process_tree(s: &mut String, ps: &[ProcessReport]) {
    if !tree::worth_drawing(ps) {
        return;
    }
    let _ = writeln!(s, "\nprocess tree:");
    for n in tree::tree(ps) {
        let end = n
            .images
            .last()
            .and_then(|&i| ps.get(i))
            .map_or("?".into(), |p| p.exit.summary());
        let _ = writeln!(
            s,
            "  {}pid {} {}: {end}",
            "  ".repeat(n.depth),
            n.pid,
            escape_text(&tree::names(ps, &n.images))
        );
    }
}

/// " (parent 2, image 1 of sh → wc)": the process's parent and which of
/// its pid's images it is; empty for a lone process started by the kernel.
pub(super) fn lineage(p: &ProcessReport, ps: &[ProcessReport]) -> String {
    let mut parts = Vec::new();
    if p.ppid != 0 {
        parts.push(format!("parent {}", p.ppid));
    }
    let images: Vec<usize> = (0..ps.len())
        .filter(|&i| ps.get(i).is_some_and(|q| q.pid == p.pid))
        .collect();
    if images.len() > 1 {
        parts.push(format!(
            "image {} of {}",
            p.image,
            escape_text(&tree::names(ps, &images))
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// ", 3 copy-on-write faults, 12 pages shared": said when there are any
/// (or when the shared pages could not be counted).
pub(super) fn sharing_of(rg: &RegionReport, unknown: bool) -> String {
    let mut s = String::new();
    if rg.cow_faults > 0 {
        let _ = write!(s, ", {} copy-on-write faults", rg.cow_faults);
    }
    match rg.shared_pages {
        Some(n) if n > 0 => {
            let _ = write!(s, ", {n} pages shared");
        }
        None if unknown => s.push_str(", pages shared unknown"),
        _ => {}
    }
    s
}

/// "  shared with processes live at its exit: 12 of 40 pages (pid 2 sh
/// 12)": said when it shared any (each process it shared with named), or
/// when they could not be counted.
pub(super) fn shared_line(s: &mut String, p: &ProcessReport) {
    let Some(sh) = &p.sharing else {
        return;
    };
    if sh.complete && p.shared_pages.unwrap_or(0) == 0 {
        return;
    }
    let with: Vec<String> = sh
        .with
        .iter()
        .filter(|w| w.pages > 0)
        .map(|w| format!("pid {} {} {}", w.pid, escape_text(&w.name), w.pages))
        .collect();
    let _ = match (p.shared_pages, &sh.why) {
        (Some(n), _) => writeln!(
            s,
            "  shared with processes live at its exit: {n} of {} pages ({})",
            p.pages_total,
            with.join(", ")
        ),
        (None, why) => writeln!(
            s,
            "  shared with processes live at its exit: not counted ({}){}",
            opt(why, "?"),
            if with.is_empty() {
                String::new()
            } else {
                format!("; counted before that: {}", with.join(", "))
            }
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Gva;
    use crate::report::text::render;

    fn p(pid: u32, ppid: u32, image: u32, name: &str, exit: ExitKind) -> ProcessReport {
        ProcessReport {
            pid,
            ppid,
            image,
            name: name.into(),
            exit: ExitReport {
                kind: exit,
                status: (exit == ExitKind::Exit).then_some(0),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn heap(cow: u32, shared: Option<u64>) -> RegionReport {
        RegionReport {
            kind: crate::devices::event::RegionKind::Heap,
            start: Gva(0x40_2000),
            end: Gva(0x40_6000),
            prot: "rw-".parse().expect("rwx"),
            pages_mapped: 4,
            faults: 4,
            cow_faults: cow,
            file: None,
            shared_pages: shared,
        }
    }

    /// The lines an integration test can look for: the tree, a header
    /// with parent and images, a region with its copy-on-write faults and
    /// shared pages, and the sharing line.
    #[test]
    fn fork_and_exec_read_as_a_tree_with_shared_pages() {
        let mut child = p(3, 2, 0, "fork", ExitKind::Exit);
        child.regions = vec![heap(2, Some(2))];
        child.pages_total = 4;
        child.shared_pages = Some(2);
        child.sharing = Some(SharingReport {
            with: vec![
                PeerShare {
                    pid: 2,
                    name: "sh".into(),
                    pages: 2,
                },
                // Live, but shared nothing: not named.
                PeerShare {
                    pid: 5,
                    name: "other".into(),
                    pages: 0,
                },
            ],
            complete: true,
            ..Default::default()
        });
        let r = Report {
            processes: vec![
                p(1, 0, 0, "init", ExitKind::Exit),
                p(2, 1, 0, "sh", ExitKind::Exec),
                p(2, 1, 1, "wc", ExitKind::Exit),
                child,
            ],
            ..Default::default()
        };
        let text = render(&r);
        for want in [
            "\nprocess tree:\n  pid 1 init: exit 0\n    pid 2 sh → wc: exit 0\n      pid 3 fork: exit 0\n",
            "\npid 2 sh (parent 1, image 0 of sh → wc): exec: replaced by a new image; CR3 ",
            "\npid 2 wc (parent 1, image 1 of sh → wc): exit 0; CR3 ",
            "\npid 3 fork (parent 2): exit 0; CR3 ",
            "\n  heap     0x402000..0x406000 rw-      4 pages mapped, 4 faults, 2 copy-on-write faults, 2 pages shared\n",
            "\n  shared with processes live at its exit: 2 of 4 pages (pid 2 sh 2)\n",
            "\n   2  sh           exec ",
        ] {
            assert!(text.contains(want), "no {want:?} in\n{text}");
        }
    }

    /// A lone process reads as before: no tree, no parent, no sharing.
    #[test]
    fn a_lone_process_reads_as_before() {
        let mut lone = p(1, 0, 0, "hello", ExitKind::Exit);
        lone.regions = vec![heap(0, Some(0))];
        lone.sharing = Some(SharingReport {
            complete: true,
            ..Default::default()
        });
        let text = render(&Report {
            processes: vec![lone],
            ..Default::default()
        });
        assert!(!text.contains("process tree"), "{text}");
        assert!(text.contains("\npid 1 hello: exit 0; CR3 "), "{text}");
        assert!(
            text.contains(" rw-      4 pages mapped, 4 faults\n"),
            "{text}"
        );
        assert!(!text.contains("shared"), "{text}");
    }

    /// A file mapping's line ends with its file's path, escaped (the
    /// guest chose the bytes); other regions' lines are as before.
    #[test]
    fn a_file_region_names_its_file() {
        let mut q = p(1, 0, 0, "mapper", ExitKind::Exit);
        q.regions = vec![
            RegionReport {
                kind: crate::devices::event::RegionKind::File,
                start: Gva(0x7fff_0000_0000),
                end: Gva(0x7fff_0000_3000),
                prot: "r--".parse().expect("rwx"),
                pages_mapped: 3,
                faults: 0,
                file: Some("/data/words.txt\x1b[2J\n".into()),
                ..heap(0, Some(0))
            },
            heap(0, Some(0)),
        ];
        let text = render(&Report {
            processes: vec![q],
            ..Default::default()
        });
        assert!(
            text.contains(
                "\n  file     0x7fff00000000..0x7fff00003000 r--      3 pages mapped, 0 faults  /data/words.txt\\x1b[2J\\x0a\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  heap     0x402000..0x406000 rw-      4 pages mapped, 4 faults\n"),
            "{text}"
        );
    }

    /// Counts a bound stopped are said to be unknown.
    #[test]
    fn unknown_counts_say_why() {
        let mut q = p(4, 1, 0, "big", ExitKind::Exit);
        q.regions = vec![heap(0, None)];
        q.sharing = Some(SharingReport {
            complete: false,
            why: Some("--timeout".into()),
            ..Default::default()
        });
        let mut s = String::new();
        shared_line(&mut s, &q);
        assert_eq!(
            s,
            "  shared with processes live at its exit: not counted (--timeout)\n"
        );
        assert_eq!(sharing_of(&q.regions[0], true), ", pages shared unknown");
    }
}
