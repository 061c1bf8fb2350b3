//! `processes[].threads[]`: how each thread of a process ended, which
//! vCPUs it ran on and its stack region, from the guest's one threads
//! message per process; and its lines in the text report. Threads share
//! their process's address space, so its CR3.

use std::fmt::Write;

use schemars::JsonSchema;
use serde::Serialize;

use crate::addr::Gva;
use crate::devices::threads::{ThreadExit, ThreadsEvent};
use crate::paging::Cr3;

/// One thread of a process (`processes[].threads[]`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ThreadReport {
    /// Its thread id (the process's pid for the thread that started it).
    pub tid: u32,
    /// "exit": it called exit(2) (`status`); "group": its process ended
    /// while it lived (exit_group, a fatal signal or fault, or execve).
    pub exit: &'static str,
    /// exit(2)'s code; null for "group".
    pub status: Option<u8>,
    /// The vCPUs it ran on, by index.
    pub vcpus: Vec<u32>,
    /// The region holding its stack pointer as clone(2) gave it (the
    /// process's stack region for its first thread); null when unknown.
    pub stack_start: Option<Gva>,
    /// See `stack_start` (exclusive).
    pub stack_end: Option<Gva>,
    /// The page table it ran on: its process's, which every thread shares.
    pub cr3: Cr3,
}

/// The threads of a process from its message (none when it made one
/// thread), and how many ended past those listed.
pub fn build(ev: Option<&ThreadsEvent>, cr3: Cr3) -> (Vec<ThreadReport>, u32) {
    let Some(ev) = ev else {
        return (Vec::new(), 0);
    };
    let threads = ev
        .threads
        .iter()
        .map(|t| ThreadReport {
            tid: t.tid,
            exit: match t.how {
                ThreadExit::Exit(_) => "exit",
                ThreadExit::WithGroup => "group",
            },
            status: match t.how {
                ThreadExit::Exit(c) => Some(c),
                ThreadExit::WithGroup => None,
            },
            // The guest's mask: bits beyond the vCPUs there are not shown.
            vcpus: (0..crate::vcpus::MAX_CPUS)
                .filter(|c| t.vcpus & (1 << c) != 0)
                .collect(),
            stack_start: t.stack.as_ref().map(|r| r.start),
            stack_end: t.stack.as_ref().map(|r| r.end),
            cr3,
        })
        .collect();
    (threads, ev.dropped)
}

/// "  thread 3: exit 0, ran on vCPUs 0,1, stack 0x..-0x.. (same CR3 as
/// the process)", one line per thread.
pub fn text(s: &mut String, threads: &[ThreadReport], dropped: u32) {
    for t in threads {
        let how = match t.status {
            Some(c) => format!("exit {c}"),
            None => "ended with its process".to_string(),
        };
        let each: Vec<String> = t.vcpus.iter().map(u32::to_string).collect();
        let stack = match (t.stack_start, t.stack_end) {
            (Some(a), Some(b)) => format!("stack {a}-{b}"),
            _ => "stack unknown".to_string(),
        };
        let _ = writeln!(
            s,
            "  thread {}: {how}, ran on vCPUs {}, {stack} (same CR3 as the process)",
            t.tid,
            each.join(",")
        );
    }
    if dropped > 0 {
        let _ = writeln!(s, "  ... and {dropped} more threads not listed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::threads::ThreadEnd;

    #[test]
    fn a_thread_line_says_how_where_and_the_shared_cr3() {
        let ev = ThreadsEvent {
            pid: 1,
            threads: vec![ThreadEnd {
                tid: 3,
                how: ThreadExit::Exit(0),
                vcpus: 0b11 | 1 << 31,
                stack: Some(Gva(0x7f00_0000)..Gva(0x7f10_0000)),
            }],
            dropped: 2,
        };
        let (t, dropped) = build(Some(&ev), Cr3(0x1000));
        assert_eq!(t[0].vcpus, vec![0, 1]);
        let mut s = String::new();
        text(&mut s, &t, dropped);
        assert!(
            s.contains("thread 3: exit 0, ran on vCPUs 0,1, stack "),
            "{s}"
        );
        assert!(s.contains("(same CR3 as the process)"), "{s}");
        assert!(s.contains("2 more threads"), "{s}");
    }
}
