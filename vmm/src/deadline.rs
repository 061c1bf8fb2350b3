//! The run's one deadline. Everything is timed from the moment microvmm
//! starts: the guest (with the analyses its messages ask for) may run until
//! `start + --timeout`; output — the guest's console, the reports,
//! microvmm's own lines on stderr — may wait for a terminal, pipe or FIFO
//! until `start + --timeout + GRACE` and no longer (sink.rs). So a run
//! whose reader stalls or goes away ends within `--timeout + GRACE` (plus
//! what the host takes to tear the VM down), and a guest that times out
//! still leaves GRACE for its report. Report files are written whole,
//! before the terminal output.

use std::time::{Duration, Instant};

/// What output gets after the guest's time is up: a report that is read
/// goes out well within it (the amplify guest's 31.5 MB `--pages --json`,
/// built and written to a FIFO that `cat` read, took 0.23 s here); a
/// reader that stalls is given up at its end.
pub const GRACE: Duration = Duration::from_secs(1);

/// When the guest must stop and when output stops waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    guest: Instant,
    output: Instant,
}

impl Deadline {
    /// A run that started at `start` and may keep its guest `timeout` long.
    pub fn new(start: Instant, timeout: Duration) -> Deadline {
        let guest = start.checked_add(timeout).unwrap_or(start);
        Deadline {
            guest,
            output: guest.checked_add(GRACE).unwrap_or(guest),
        }
    }

    /// When the guest is stopped (`--timeout`); console output during the
    /// run is given up then too.
    pub fn guest(&self) -> Instant {
        self.guest
    }

    /// When writes stop waiting for a reader.
    pub fn output(&self) -> Instant {
        self.output
    }

    /// The guest's time is up.
    pub fn guest_passed(&self) -> bool {
        Instant::now() >= self.guest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_gets_the_grace_after_the_guest() {
        let t0 = Instant::now();
        let d = Deadline::new(t0, Duration::from_secs(3));
        assert_eq!(d.guest(), t0 + Duration::from_secs(3));
        assert_eq!(d.output(), t0 + Duration::from_secs(3) + GRACE);
        assert!(!d.guest_passed());
        assert!(Deadline::new(t0, Duration::ZERO).guest_passed());
    }
}
