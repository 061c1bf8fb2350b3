// sched_setaffinity and sched_getaffinity as Linux keeps them: an empty
// mask or one of no CPU that exists is EINVAL, no such thread is ESRCH,
// CPUs beyond those that exist are ignored; a thread pinned to CPU 1
// stays there, and a thread it makes and a child it forks inherit its
// mask. The same output natively on a 2-CPU host and under --cpus 2.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *who) {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(0, sizeof s, &s) != 0) {
        printf("%s: sched_getaffinity: %s\n", who, strerror(errno));
        return;
    }
    printf("%s: %d CPUs:", who, CPU_COUNT(&s));
    for (int c = 0; c < 8; c++)
        if (CPU_ISSET(c, &s))
            printf(" %d", c);
    printf("\n");
}

static long set_raw(pid_t pid, size_t len, const unsigned long *mask) {
    long r = syscall(SYS_sched_setaffinity, pid, len, mask);
    return r < 0 ? -errno : r;
}

static void *worker(void *arg) {
    (void)arg;
    show("thread");
    // Work across many timer ticks, giving the CPU up now and then: each
    // time it is picked again it must be on CPU 1.
    volatile unsigned long x = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 200000; i++)
            x += i;
        sched_yield();
    }
    return NULL;
}

int main(void) {
    show("start");
    unsigned long none[2] = {0, 0}, high[1] = {1ul << 63}, wide[2] = {1 | (1ul << 40), ~0ul};
    unsigned long one[1] = {2}, both[1] = {3};
    printf("empty mask: %ld\n", set_raw(0, sizeof none, none));
    printf("only CPU 63: %ld\n", set_raw(0, sizeof high, high));
    printf("no such thread: %ld\n", set_raw(999999, sizeof both, both));
    printf("CPU 0 and CPUs that do not exist: %ld\n", set_raw(0, sizeof wide, wide));
    show("after");
    printf("CPU 1: %ld\n", set_raw(0, sizeof one, one));
    show("pinned");
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0) {
        printf("pthread failed\n");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        show("child");
        return 0;
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
    printf("CPUs 0 and 1: %ld\n", set_raw(0, sizeof both, both));
    show("end");
    return 0;
}
