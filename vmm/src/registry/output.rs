//! What a process writes: kept for the report within OUTPUT_MAX for it and
//! OUTPUT_BUDGET for the run (interleaved and by stream, each copy
//! charged), and each `0x` number it completes walked at once, while the
//! page it names is still there (the answers at exit are in printed.rs).

use super::{OUTPUT_MAX, Registry};
use crate::devices::event::Stream;
use crate::inspect::{HostView, LiveHost};
use crate::observations::Seen;
use crate::paging;

impl Registry<'_> {
    /// Keep what process `pid` wrote, within OUTPUT_MAX for it and
    /// OUTPUT_BUDGET for the run.
    pub fn output(&mut self, pid: u32, stream: Stream, bytes: &[u8]) {
        let Some(rec) = self
            .procs
            .range_mut((pid, 0)..=(pid, u32::MAX))
            .next_back()
            .map(|(_, r)| r)
        else {
            return;
        };
        rec.first_output.get_or_insert_with(std::time::Instant::now);
        // Kept twice, interleaved and by stream: each copy is charged.
        for buf in [
            &mut rec.output,
            match stream {
                Stream::Stdout => &mut rec.stdout,
                Stream::Stderr => &mut rec.stderr,
            },
        ] {
            let room = OUTPUT_MAX.saturating_sub(buf.len()).min(self.output_budget);
            let n = bytes.len().min(room);
            buf.extend_from_slice(&bytes[..n]);
            self.output_budget -= n;
            rec.output_truncated |= n < bytes.len();
        }
        if rec.exited.is_some() {
            return;
        }
        // Each number this write completes, walked now: its page may be
        // gone by exit. The process is writing, so its tables are live in
        // guest memory (its CR3 need not be loaded: a software walk).
        let host = LiveHost::new(self.ram, self.pagemap);
        for gva in rec.scanner.scan(&rec.output, false) {
            let seen = self
                .mode
                .and_then(|m| paging::walk(self.ram.mem(), rec.created.cr3.raw(), m, gva).ok())
                .map(|t| {
                    let h = host.locate(t.gpa);
                    Seen {
                        gpa: t.gpa,
                        hva: h.hva,
                        hpa: h.hpa(),
                    }
                });
            rec.when_printed.push((gva, seen));
        }
    }
}
