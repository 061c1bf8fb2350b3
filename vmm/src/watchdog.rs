//! `--timeout`: a thread that, once the deadline passes, interrupts the
//! vCPU thread's KVM_RUN with a signal (KVM_RUN returns EINTR). It repeats
//! the signal every 10 ms until the run loop notices, so a signal that lands
//! just before KVM_RUN is entered cannot be lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Watchdog {
    fired: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

extern "C" fn on_signal(_: libc::c_int) {}

fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

impl Watchdog {
    /// Arm a watchdog for the calling thread.
    pub fn start(timeout: Duration) -> std::io::Result<Watchdog> {
        // SAFETY: installs a handler that does nothing, without SA_RESTART,
        // so a blocking KVM_RUN returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(kick_signal(), &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let fired = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (f, d) = (fired.clone(), done.clone());
        let deadline = Instant::now() + timeout;
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                // SIGINT/SIGTERM must interrupt the vCPU thread's KVM_RUN.
                crate::interrupt::block_on_this_thread();
                while !d.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if now < deadline {
                        std::thread::park_timeout(deadline - now);
                        continue;
                    }
                    f.store(true, Ordering::Release);
                    // SAFETY: `target` is the run loop's thread, alive until it
                    // sets `done` and joins us.
                    unsafe { libc::pthread_kill(target, kick_signal()) };
                    std::thread::sleep(Duration::from_millis(10));
                }
            })?;
        Ok(Watchdog {
            fired,
            done,
            thread: Some(thread),
        })
    }

    /// The deadline has passed.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
