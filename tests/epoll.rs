//! epoll and eventfd (tests/programs/epoll.c): the errors of epoll_ctl,
//! level- and edge-triggered and one-shot readiness, eventfd's counter,
//! timed waits and a wait woken by another thread, a pipe's hang-up,
//! waits a handler interrupts (EINTR), entries that stay ready taking
//! turns, with glibc and musl,
//! in real VMs: the guest prints what the host prints.

mod common;

use common::{Cc, build, same_as_host};

#[test]
fn epoll_and_eventfd_behave_as_on_the_host() {
    for cc in [Cc::Static, Cc::Musl] {
        let Some(p) = build("epoll", cc) else {
            continue;
        };
        let r = same_as_host(&p, 0);
        assert!(
            r.stdout
                .contains("edge: 1 then 0; drained and written again 1"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("turns: 1:1 1:2 1:1 1:2 1:1 1:2"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("epoll_wait interrupted: -1 Interrupted system call, handler ran 1"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("woken by a thread's eventfd write: 1, fd 42"),
            "{}",
            r.stdout
        );
    }
}
