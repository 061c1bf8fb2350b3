/* Threads on the guest kernel: pthread_create/join with arguments and
 * return values summing into a mutex-protected counter, a condition
 * variable ping-pong, a semaphore used as a lock, a producer and several
 * consumers, __thread variables per thread, a thread that ends while
 * others run, gettid/getpid, a compare-and-swap counter, and a new
 * thread's signal mask (its creator's), a tgkill whose handler runs on
 * the thread it names. Prints what it prints on the host.
 * "sem10m": the semaphore lock over 10^7 increments (4 threads).
 * "tgkillfatal": a SIGTERM the caller blocks, by tgkill to a thread that
 * does not: the process ends (143).
 * Other modes: "group" (a thread calls exit(3): the process ends 3),
 * "mainexit" (main calls pthread_exit, a worker finishes the process),
 * "bomb" (threads until pthread_create fails, then exit(0) ends them),
 * "deadlock" (main joins a thread that waits for a mutex main holds),
 * "forked" (a forked child's thread calls exit(3): the parent's waitpid
 * sees the process end once), "execthread" (a thread runs execve of
 * /threads: the other threads end, the new image has the pid as its tid;
 * in the guest only), "badstack" (a raw clone of a thread onto an unmapped stack: its fault
 * ends the process with SIGSEGV). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* <linux/futex.h>'s values (musl's headers lack the file). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)

#define NT 8
#define PER 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread long mine = 7;

static void *adder(void *arg) {
    long id = (long)arg;
    mine = id * 100;
    for (int i = 0; i < PER; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        if (i % 5000 == 0)
            sched_yield();
    }
    if (mine != id * 100)
        return (void *)-1;
    return (void *)(id * id);
}

static void sum(void) {
    pthread_t t[NT];
    for (long i = 0; i < NT; i++)
        if (pthread_create(&t[i], NULL, adder, (void *)i) != 0) {
            printf("sum: pthread_create failed\n");
            exit(1);
        }
    long ret = 0;
    for (int i = 0; i < NT; i++) {
        void *r;
        pthread_join(t[i], &r);
        ret += (long)r;
    }
    printf("sum: counter %ld (want %d), joined values %ld, main tls %ld\n", counter,
           NT * PER, ret, mine);
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds;

static void *pong(void *arg) {
    int me = (int)(long)arg;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&lock);
        while (turn != me)
            pthread_cond_wait(&cv, &lock);
        rounds++;
        turn = 1 - me;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void pingpong(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, pong, (void *)0L);
    pthread_create(&b, NULL, pong, (void *)1L);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("condvar: %d rounds\n", rounds);
}

static sem_t sem;
static long semcount;

static void *semadd(void *arg) {
    (void)arg;
    for (int i = 0; i < PER; i++) {
        sem_wait(&sem);
        semcount++;
        sem_post(&sem);
    }
    return NULL;
}

static void semaphore(void) {
    pthread_t t[4];
    sem_init(&sem, 0, 1);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, semadd, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("semaphore: %ld (want %d)\n", semcount, 4 * PER);
}

/* 10^7 increments under the semaphore (mode "sem10m"). */
static void *semadd10m(void *arg) {
    (void)arg;
    for (int i = 0; i < 2500000; i++) {
        sem_wait(&sem);
        semcount++;
        sem_post(&sem);
    }
    return NULL;
}

static void semaphore10m(void) {
    pthread_t t[4];
    sem_init(&sem, 0, 1);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, semadd10m, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("sem10m: %ld (want 10000000)\n", semcount);
}

/* A lock-free counter: compare-and-swap retried until it takes. */
static long cascount;

static void *casadd(void *arg) {
    long retries = 0;
    (void)arg;
    for (int i = 0; i < 250000; i++) {
        long old = __atomic_load_n(&cascount, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cascount, &old, old + 1, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED))
            retries++;
    }
    return (void *)retries;
}

static void cas(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, casadd, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("cas: %ld (want 1000000)\n", cascount);
}

/* A new thread starts with its creator's signal mask. */
static void *maskreader(void *arg) {
    sigset_t now;
    (void)arg;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return (void *)(long)(sigismember(&now, SIGUSR1) * 2 + sigismember(&now, SIGUSR2));
}

static void inherit_mask(void) {
    sigset_t block, old;
    pthread_t t;
    void *got;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_create(&t, NULL, maskreader, NULL);
    pthread_join(t, &got);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    printf("sigmask: new thread blocks SIGUSR1 %s, SIGUSR2 %s\n", (long)got & 2 ? "yes" : "no",
           (long)got & 1 ? "yes" : "no");
}

/* tgkill to one thread: its handler runs on that thread, which spins
 * until it has. */
static volatile long handled_on, target_tid;

static void on_usr1(int sig) {
    (void)sig;
    handled_on = syscall(SYS_gettid);
}

static void *target(void *arg) {
    (void)arg;
    target_tid = syscall(SYS_gettid);
    while (!handled_on)
        ;
    return NULL;
}

static void tgkill_one(void) {
    pthread_t t;
    signal(SIGUSR1, on_usr1);
    pthread_create(&t, NULL, target, NULL);
    while (!target_tid)
        sched_yield();
    syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1);
    pthread_join(t, NULL);
    printf("tgkill: the handler ran on the target thread: %s\n",
           handled_on == target_tid ? "yes" : "no");
}

#define QN 16
static int q[QN], qh, qt, done;
static long consumed[3];
static pthread_cond_t notempty = PTHREAD_COND_INITIALIZER, notfull = PTHREAD_COND_INITIALIZER;

static void *consumer(void *arg) {
    long id = (long)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (qh == qt && !done)
            pthread_cond_wait(&notempty, &lock);
        if (qh == qt && done) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        consumed[id] += q[qh++ % QN];
        pthread_cond_signal(&notfull);
        pthread_mutex_unlock(&lock);
    }
}

static void prodcons(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, consumer, (void *)i);
    for (int i = 1; i <= 3000; i++) {
        pthread_mutex_lock(&lock);
        while (qt - qh == QN)
            pthread_cond_wait(&notfull, &lock);
        q[qt++ % QN] = i;
        pthread_cond_signal(&notempty);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&notempty);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("producer/consumers: %ld (want %d)\n", consumed[0] + consumed[1] + consumed[2],
           3000 * 3001 / 2);
}

static volatile int spin_go;

static void *early(void *arg) {
    (void)arg;
    pthread_exit((void *)42L);
}

static void *spinner(void *arg) {
    (void)arg;
    while (!spin_go)
        sched_yield();
    return (void *)(long)(syscall(SYS_gettid) != getpid());
}

static void ending(void) {
    pthread_t a, b;
    void *ra, *rb;
    pthread_create(&b, NULL, spinner, NULL);
    pthread_create(&a, NULL, early, NULL);
    pthread_join(a, &ra);
    spin_go = 1;
    pthread_join(b, &rb);
    printf("early exit: %ld while another ran; its tid differs from the pid: %ld\n",
           (long)ra, (long)rb);
}

static void *exiter(void *arg) {
    (void)arg;
    usleep(1000);
    exit(3);
}

static void *finisher(void *arg) {
    (void)arg;
    usleep(2000);
    printf("mainexit: the last thread finishes the process\n");
    fflush(stdout);
    return NULL;
}

static long fx(int *uaddr, int op, int val, void *ts, int *uaddr2, int val3) {
    long r = syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
    return r < 0 ? -errno : r;
}

static int word, word2;
static volatile int parked;

static void *waiter(void *arg) {
    int *w = arg;
    parked++;
    long r = fx(w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return (void *)r;
}

/* The futex calls directly: errors, timeouts, wake and requeue. */
static void futexes(void) {
    struct timespec ts = {0, 2000000};
    printf("futex: bad address %s, kernel address %s, unaligned %s\n",
           strerror(-fx((int *)8, FUTEX_WAIT, 0, NULL, NULL, 0)),
           strerror(-fx((int *)0xffffffff80000000UL, FUTEX_WAIT, 0, NULL, NULL, 0)),
           strerror(-fx((int *)((char *)&word + 1), FUTEX_WAIT, 0, NULL, NULL, 0)));
    printf("futex: value differs %s; timeout %s\n",
           strerror(-fx(&word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0)),
           strerror(-fx(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0)));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 2000000;
    if (now.tv_nsec >= 1000000000) {
        now.tv_sec++;
        now.tv_nsec -= 1000000000;
    }
    printf("futex: absolute timeout %s; wake with no waiter %ld\n",
           strerror(-fx(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &now, NULL, -1)),
           fx(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, waiter, &word);
    while (parked < 3)
        sched_yield();
    for (int i = 0; i < 20; i++)
        sched_yield();
    long moved = fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 0);
    long stale = fx(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 5);
    long woke2 = fx(&word2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0);
    long sum = 0;
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    sem_t zero;
    sem_init(&zero, 0, 0);
    struct timespec wall, m0, m1;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &wall);
    wall.tv_nsec += 3000000;
    if (wall.tv_nsec >= 1000000000) {
        wall.tv_sec++;
        wall.tv_nsec -= 1000000000;
    }
    int sr = sem_timedwait(&zero, &wall);
    int se = errno;
    clock_gettime(CLOCK_MONOTONIC, &m1);
    long waited = (m1.tv_sec - m0.tv_sec) * 1000000000L + (m1.tv_nsec - m0.tv_nsec);
    pthread_mutex_lock(&lock);
    int cr = pthread_cond_timedwait(&cv, &lock, &wall);
    pthread_mutex_unlock(&lock);
    printf("futex: sem_timedwait on the wall clock %s after 2 ms or more: %s, "
           "pthread_cond_timedwait %s\n",
           sr < 0 ? strerror(se) : "returned", waited >= 2000000 ? "yes" : "no", strerror(cr));
    printf("futex: cmp_requeue woke or moved %ld, stale compare %s, woken on the second word %ld, "
           "waits returned %ld\n",
           moved, strerror(-stale), woke2, sum);
}

static void *execer(void *arg) {
    (void)arg;
    char *args[] = {"threads", "execd", NULL};
    execv("/threads", args);
    printf("execthread: execv failed: %s\n", strerror(errno));
    exit(1);
}

static pthread_mutex_t forever = PTHREAD_MUTEX_INITIALIZER;
static void *sleeper(void *arg) {
    (void)arg;
    pthread_mutex_lock(&forever);
    pthread_mutex_unlock(&forever);
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "all";
    if (!strcmp(mode, "group")) {
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        pthread_join(t, NULL);
        printf("group: not reached\n");
        return 0;
    }
    if (!strcmp(mode, "mainexit")) {
        pthread_t t;
        pthread_create(&t, NULL, finisher, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "bomb")) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 65536);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&forever);
        int n = 0, e;
        pthread_t t;
        while ((e = pthread_create(&t, &at, sleeper, NULL)) == 0 && n < 100000)
            n++;
        printf("bomb: pthread_create failed with %s after %s threads\n", strerror(e),
               n > 10 ? "more than 10" : "too few");
        fflush(stdout);
        exit(0);
    }
    if (!strcmp(mode, "deadlock")) {
        pthread_t t;
        pthread_mutex_lock(&forever);
        pthread_create(&t, NULL, sleeper, NULL);
        printf("deadlock: joining\n");
        fflush(stdout);
        pthread_join(t, NULL);
        return 0;
    }
    if (!strcmp(mode, "forked")) {
        pid_t c = fork();
        if (c == 0) {
            pthread_t t;
            pthread_create(&t, NULL, exiter, NULL);
            pthread_join(t, NULL);
            return 0;
        }
        int st;
        pid_t w = waitpid(c, &st, 0);
        pid_t again = waitpid(-1, &st, WNOHANG);
        printf("forked: waitpid got the child %s, exit %d; then %s\n", w == c ? "yes" : "no",
               WIFEXITED(st) ? WEXITSTATUS(st) : -1, again < 0 && errno == ECHILD ? "ECHILD" : "more");
        return 0;
    }
    if (!strcmp(mode, "execthread")) {
        pthread_t t, u;
        pthread_create(&u, NULL, spinner, NULL);
        pthread_create(&t, NULL, execer, NULL);
        pthread_join(t, NULL);
        printf("execthread: not reached\n");
        return 1;
    }
    if (!strcmp(mode, "execd")) {
        printf("execd: pid %ld, tid %ld\n", (long)getpid(), (long)syscall(SYS_gettid));
        return 0;
    }
    if (!strcmp(mode, "tgkillfatal")) {
        /* The caller blocks SIGTERM, the thread it names does not: the
         * default action ends the process (143), as on Linux. */
        sigset_t term;
        pthread_t t;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pthread_create(&t, NULL, target, NULL);
        while (!target_tid)
            sched_yield();
        pthread_sigmask(SIG_BLOCK, &term, NULL);
        syscall(SYS_tgkill, getpid(), target_tid, SIGTERM);
        for (int i = 0; i < 100; i++)
            sched_yield();
        printf("tgkillfatal: still alive\n");
        return 0;
    }
    if (!strcmp(mode, "sem10m")) {
        semaphore10m();
        return 0;
    }
    if (!strcmp(mode, "badstack")) {
        printf("badstack: cloning\n");
        fflush(stdout);
        /* CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD */
        syscall(SYS_clone, 0x10f00UL, (void *)0x1000, NULL, NULL, 0UL);
        for (;;)
            sched_yield();
    }
    sum();
    pingpong();
    semaphore();
    prodcons();
    cas();
    inherit_mask();
    tgkill_one();
    ending();
    futexes();
    return 0;
}
