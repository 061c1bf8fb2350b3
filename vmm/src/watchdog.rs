//! `--timeout`: a POSIX timer aimed at the vCPU thread (SIGEV_THREAD_ID)
//! interrupts its KVM_RUN with a signal once the deadline passes (KVM_RUN
//! returns EINTR), and again every 10 ms until the run loop notices, so a
//! signal that lands just before KVM_RUN is entered cannot be lost. The run
//! loop itself decides "timed out" from the clock. No thread: a quick guest
//! pays one timer_create and one timer_delete (a thread cost more than a
//! short run, and had often not even started when the run ended).

use std::io;
use std::time::{Duration, Instant};

/// The armed `--timeout` of one run, for the thread that armed it.
pub struct Watchdog {
    deadline: Instant,
    timer: libc::timer_t,
}

extern "C" fn on_signal(_: libc::c_int) {}

/// The signal that kicks a vCPU thread out of KVM_RUN (its handler does
/// nothing): the watchdog's, and the gdb stub's for Ctrl-C.
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

/// How often the signal repeats once the deadline has passed.
const REPEAT: Duration = Duration::from_millis(10);

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

impl Watchdog {
    /// Arm a watchdog for the calling thread that fires at `deadline` (at
    /// once if it has passed).
    pub fn start(deadline: Instant) -> io::Result<Watchdog> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        // SAFETY: installs a handler that does nothing, without SA_RESTART,
        // so a blocking KVM_RUN returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(kick_signal(), &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: a zeroed sigevent is valid; the fields set below say to
        // signal this thread (gettid has no preconditions).
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = kick_signal();
        // SAFETY: gettid has no preconditions.
        sev.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: both pointers are to live locals; the kernel fills `timer`.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let dog = Watchdog { deadline, timer };
        // A zero it_value would disarm the timer: wait at least 1 ns.
        let spec = libc::itimerspec {
            it_value: timespec(timeout.max(Duration::from_nanos(1))),
            it_interval: timespec(REPEAT),
        };
        // SAFETY: `timer` was just created; `spec` is a live local.
        if unsafe { libc::timer_settime(dog.timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error()); // dropping `dog` deletes the timer
        }
        Ok(dog)
    }

    /// The deadline has passed.
    pub fn fired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SAFETY: the timer was created by `start` and is deleted only here.
        // A signal still queued for this thread runs the empty handler.
        unsafe { libc::timer_delete(self.timer) };
    }
}
