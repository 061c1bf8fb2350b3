//! Decoding abi::msg::Threads, the guest's list of how a process's
//! threads ended: the count, each `how`, each status and each stack
//! region are checked (the guest is hostile); a bad list is refused whole.

use abi::msg::{self, MAX_THREADS};

use super::ProtocolError;
use crate::addr::Gva;
use crate::devices::threads::{ThreadEnd, ThreadExit, ThreadsEvent};

/// The highest user address a stack region may end at (47-bit space).
const USER_END: u64 = 1 << 47;

/// A checked `ThreadsEvent` from the message `m`.
pub fn threads(m: &msg::Threads) -> Result<ThreadsEvent, ProtocolError> {
    let kind = msg::KIND_THREADS;
    let bad = super::out_of_range(kind);
    let listed = m.threads.get(..m.nthreads as usize).ok_or(bad(
        "nthreads",
        m.nthreads.into(),
        MAX_THREADS as u64,
    ))?;
    let threads = listed
        .iter()
        .map(|t| {
            let how = match t.how {
                msg::THREAD_EXIT => ThreadExit::Exit(
                    u8::try_from(t.status).map_err(|_| bad("status", t.status.into(), 255))?,
                ),
                msg::THREAD_WITH_GROUP => ThreadExit::WithGroup,
                h => return Err(bad("how", h.into(), msg::THREAD_WITH_GROUP.into())),
            };
            let stack = match (t.stack_start, t.stack_end) {
                (0, 0) => None,
                (s, e) if s < e && e <= USER_END => Some(Gva(s)..Gva(e)),
                (_, e) => return Err(bad("stack_end", e, USER_END)),
            };
            Ok(ThreadEnd {
                tid: t.tid,
                how,
                vcpus: t.vcpus,
                stack,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ThreadsEvent {
        pid: m.pid,
        threads,
        dropped: m.dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::msg::Header;

    fn one(how: u32, status: u32) -> msg::Threads {
        let mut m = msg::Threads {
            hdr: Header::new(msg::KIND_THREADS),
            pid: 7,
            nthreads: 1,
            ..Default::default()
        };
        m.threads[0] = msg::ThreadEnd {
            tid: 8,
            how,
            status,
            vcpus: 0b11,
            stack_start: 0x7f00_0000,
            stack_end: 0x7f10_0000,
        };
        m
    }

    #[test]
    fn a_good_list_decodes() {
        let t = threads(&one(msg::THREAD_EXIT, 3)).expect("valid");
        assert_eq!(t.pid, 7);
        assert_eq!(t.threads.len(), 1);
        assert_eq!(t.threads[0].how, ThreadExit::Exit(3));
        assert_eq!(t.threads[0].stack, Some(Gva(0x7f00_0000)..Gva(0x7f10_0000)));
    }

    #[test]
    fn hostile_lists_are_refused() {
        let mut m = one(msg::THREAD_EXIT, 0);
        m.nthreads = MAX_THREADS as u32 + 1;
        assert!(matches!(
            threads(&m),
            Err(ProtocolError::OutOfRange {
                field: "nthreads",
                ..
            })
        ));
        m.nthreads = u32::MAX;
        assert!(threads(&m).is_err());
        assert!(threads(&one(msg::THREAD_EXIT, 256)).is_err());
        assert!(threads(&one(0, 0)).is_err());
        assert!(threads(&one(99, 0)).is_err());
        let mut m = one(msg::THREAD_WITH_GROUP, 0);
        (m.threads[0].stack_start, m.threads[0].stack_end) = (0x9000, 0x1000);
        assert!(threads(&m).is_err());
        (m.threads[0].stack_start, m.threads[0].stack_end) = (0x1000, u64::MAX);
        assert!(threads(&m).is_err());
        (m.threads[0].stack_start, m.threads[0].stack_end) = (0, 0);
        assert_eq!(threads(&m).expect("no stack").threads[0].stack, None);
    }

    #[test]
    fn the_full_list_and_the_dropped_count_pass() {
        let mut m = one(msg::THREAD_WITH_GROUP, 0);
        m.threads = [m.threads[0]; MAX_THREADS];
        m.nthreads = MAX_THREADS as u32;
        m.dropped = u32::MAX;
        let t = threads(&m).expect("valid");
        assert_eq!(t.threads.len(), MAX_THREADS);
        assert_eq!(t.dropped, u32::MAX);
    }
}
