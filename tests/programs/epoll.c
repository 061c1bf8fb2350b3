/* epoll and eventfd as Linux has them: errors of epoll_ctl, level- and
 * edge-triggered and one-shot readiness of a pipe, an eventfd's counter
 * (normal and semaphore, blocking and not), a timed wait that times out,
 * a wait woken by another thread's eventfd write, an epoll descriptor
 * polled itself, a read end whose writer is gone (hang-up, not readable,
 * to poll and epoll; readable to select), and waits a signal handler
 * interrupts (EINTR, never restarted, whatever SA_RESTART says), and two
 * always-ready entries taken one per wait (each gets its turn). Prints
 * the same on the host and in the guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

static int wait1(int ep, int ms, struct epoll_event *ev) {
    return epoll_wait(ep, ev, 1, ms);
}

/* Each call in order (a printf's arguments have no order). */
#define SAY(label, call) printf("%s: %s\n", label, err(call))

static void errors(void) {
    int ep = epoll_create1(0), p[2], f = open("/tmp/epoll-file", O_CREAT | O_RDWR, 0600);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    void *bad = (void *)8;
    pipe(p);
    SAY("create1(bad flag)", epoll_create1(1));
    SAY("create(0)", epoll_create(0));
    SAY("ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SAY("ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SAY("ctl mod missing", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
    SAY("ctl del missing", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    SAY("ctl on a regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
    SAY("ctl on itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    SAY("ctl bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 99, &ev));
    SAY("ctl on a pipe as the instance", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    SAY("ctl bad op", epoll_ctl(ep, 9, p[1], &ev));
    SAY("ctl bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], bad));
    SAY("wait maxevents 0", epoll_wait(ep, &ev, 0, 0));
    write(p[1], "x", 1);
    SAY("wait into a bad buffer", epoll_wait(ep, bad, 1, 0));
    close(f);
    unlink("/tmp/epoll-file");
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void triggers(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC), p[2];
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL}, out;
    char b[8];
    pipe2(p, O_NONBLOCK);
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    printf("level: empty %d;", wait1(ep, 0, &out));
    write(p[1], "ab", 2);
    int n1 = wait1(ep, 0, &out), n2 = wait1(ep, 0, &out);
    printf(" with data %d then %d, data %llx events %x\n", n1, n2, (unsigned long long)out.data.u64,
           out.events);
    ev.events = EPOLLIN | EPOLLET;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    n1 = wait1(ep, 0, &out);
    n2 = wait1(ep, 0, &out);
    read(p[0], b, sizeof b);
    write(p[1], "c", 1);
    int n3 = wait1(ep, 0, &out);
    printf("edge: %d then %d; drained and written again %d\n", n1, n2, n3);
    ev.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    n1 = wait1(ep, 0, &out);
    n2 = wait1(ep, 0, &out);
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    n3 = wait1(ep, 0, &out);
    printf("oneshot: %d then %d; re-armed %d\n", n1, n2, n3);
    /* The write end, once the read end is gone: EPOLLERR. */
    ev.events = EPOLLOUT;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    close(p[0]);
    n1 = wait1(ep, 0, &out);
    printf("write end alone: %d, events %x\n", n1, out.events);
    /* Closing the descriptor removes the entry. */
    close(p[1]);
    printf("after close: %d\n", wait1(ep, 0, &out));
    close(ep);
}

/* Events that cannot be copied out are not used up (Linux puts them back). */
static void readonly(void) {
    int ep = epoll_create1(0), p[2];
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT}, out;
    void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pipe(p);
    write(p[1], "x", 1);
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    long r = epoll_wait(ep, ro, 1, 0);
    int e = errno;
    int n = epoll_wait(ep, &out, 1, 0);
    printf("one-shot into a read-only buffer: %s, then %d\n", r < 0 ? strerror(e) : "ok", n);
    close(p[0]);
    close(p[1]);
    close(ep);
    munmap(ro, 4096);
}

static void counters(void) {
    int e = eventfd(3, EFD_NONBLOCK);
    uint64_t v = 0;
    long r1 = read(e, &v, 8);
    uint64_t v1 = v;
    long r2 = read(e, &v, 8);
    printf("eventfd: read %ld (%llu), again %s;", r1, (unsigned long long)v1, err(r2));
    v = 5;
    write(e, &v, 8);
    v = 2;
    write(e, &v, 8);
    read(e, &v, 8);
    printf(" 5+2 reads %llu;", (unsigned long long)v);
    v = UINT64_MAX;
    printf(" write max %s, short read %s\n", err(write(e, &v, 8)), err(read(e, &v, 4)));
    close(e);
    e = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    uint64_t a = 0, b = 0;
    read(e, &a, 8);
    read(e, &b, 8);
    printf("semaphore: %llu %llu then %s\n", (unsigned long long)a, (unsigned long long)b,
           err(read(e, &v, 8)));
    close(e);
}

static int efd;

static void *waker(void *arg) {
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t one = 1;
    write(efd, &one, 8);
    return NULL;
}

static void waits(void) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = 42}, out;
    struct timespec t0, t1;
    efd = eventfd(0, 0);
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = wait1(ep, 30, &out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("timed wait: %d after at least 30 ms: %s\n", n, ms >= 29 ? "yes" : "no");
    pthread_t t;
    pthread_create(&t, NULL, waker, NULL);
    n = wait1(ep, -1, &out);
    pthread_join(t, NULL);
    printf("woken by a thread's eventfd write: %d, fd %d\n", n, out.data.fd);
    struct pollfd pf = {.fd = ep, .events = POLLIN};
    printf("poll of the epoll descriptor: %d", poll(&pf, 1, 0));
    uint64_t v;
    read(efd, &v, 8);
    printf(", after the read: %d\n", poll(&pf, 1, 0));
    close(efd);
    close(ep);
}

/* The read end of a pipe whose writer closed, nothing in it. */
static void hangup(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    close(p[1]);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = 1}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    int n = wait1(ep, 0, &out);
    printf("hang-up: epoll %d events %x;", n, out.events);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    n = poll(&pf, 1, 0);
    printf(" poll %d revents %x;", n, pf.revents);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 0};
    n = select(p[0] + 1, &r, 0, 0, &tv);
    printf(" select %d readable %d\n", n, FD_ISSET(p[0], &r) ? 1 : 0);
    close(p[0]);
    close(ep);
}

static volatile int alarms;
static void on_alarm(int s) {
    (void)s;
    alarms++;
}
static pthread_t waiter;
static void *interrupter(void *arg) {
    (void)arg;
    usleep(20000);
    pthread_kill(waiter, SIGUSR1);
    return 0;
}

/* A handler (SA_RESTART even) interrupts each wait: -1 EINTR at once. */
static void interrupted(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, 0);
    int p[2], ep = epoll_create1(0);
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    fd_set r;
    waiter = pthread_self();
    for (int k = 0; k < 3; k++) {
        pthread_t t;
        pthread_create(&t, 0, interrupter, 0);
        int n;
        errno = 0;
        if (k == 0) {
            n = epoll_wait(ep, &out, 1, 5000);
        } else if (k == 1) {
            n = poll(&pf, 1, 5000);
        } else {
            FD_ZERO(&r);
            FD_SET(p[0], &r);
            struct timeval tv = {5, 0};
            n = select(p[0] + 1, &r, 0, 0, &tv);
        }
        printf("%s interrupted: %d %s, handler ran %d\n", k == 0 ? "epoll_wait" : k == 1 ? "poll" : "select",
               n, err(n), alarms);
        pthread_join(t, 0);
    }
    close(p[0]);
    close(p[1]);
    close(ep);
}

/* Level-triggered entries that stay ready take turns, one per wait. */
static void turns(void) {
    int a[2], b[2], ep = epoll_create1(0);
    pipe(a);
    pipe(b);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 1}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, a[1], &ev);
    ev.data.u64 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, b[1], &ev);
    printf("turns:");
    for (int i = 0; i < 6; i++) {
        int n = wait1(ep, 0, &out);
        printf(" %d:%llu", n, (unsigned long long)out.data.u64);
    }
    printf("\n");
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    close(ep);
}

int main(void) {
    errors();
    triggers();
    readonly();
    counters();
    waits();
    hangup();
    interrupted();
    turns();
    return 0;
}
