/* A hostile family: processes that fork (three generations at most),
 * make non-blocking pipes, shuffle and close descriptors at random, read
 * and write them with random lengths and pointers (some into the
 * kernel), exec what does not exist or is not a program, signal their
 * children, and exit at random points. The kernel must survive, return
 * every frame, and the first process must get to its last line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

/* ptr() points at most 4096 bytes in and lengths stay below 100000: a
 * read into buf never runs past it into libc's own data (which would be
 * the fuzzer harming itself, seen as a crash inside libc). */
static char buf[4096 + 100000];

static void *ptr(void)
{
	switch (rnd() % 4) {
	case 0:
		return (void *)0xffffffff80100000ull; /* the kernel */
	case 1:
		/* Unmapped user memory (below where mmap places areas): never
		 * the fuzzer's own, whose corruption would be its own doing. */
		return (void *)(uintptr_t)(0x100000000000ull + (rnd() & 0xfffffffffffull));
	default:
		return buf + rnd() % 4096;
	}
}

static void family(int depth)
{
	for (int i = 0; i < 300; i++) {
		int fd = 3 + (int)(rnd() % 20);
		switch (rnd() % 12) {
		case 0:
			if (depth < 3) {
				pid_t p = fork();
				if (p == 0) {
					seed += (uint64_t)getpid() * 7919;
					family(depth + 1);
					_exit((int)(rnd() % 3));
				}
			}
			break;
		case 1: {
			int p[2];
			syscall(SYS_pipe2, rnd() % 3 ? (void *)p : ptr(), O_NONBLOCK | O_CLOEXEC);
			break;
		}
		case 2:
			syscall(SYS_dup2, fd, 3 + rnd() % 20);
			break;
		case 3:
			syscall(SYS_close, fd);
			break;
		case 4:
			syscall(SYS_write, fd, ptr(), rnd() % 100000);
			break;
		case 5:
			syscall(SYS_read, fd, ptr(), rnd() % 100000);
			break;
		case 6:
			syscall(SYS_wait4, -1, rnd() % 2 ? NULL : ptr(), WNOHANG, NULL);
			break;
		case 7:
			if (depth > 0)
				syscall(SYS_kill, getppid(), 0);
			break;
		case 8: {
			char *argv[] = {"x", NULL};
			syscall(SYS_execve, rnd() % 2 ? "/nonexistent" : (char *)ptr(), argv, NULL);
			break;
		}
		case 9:
			syscall(SYS_fcntl, fd, rnd() % 4, rnd() % 64); /* not F_SETFL: a blocking pipe read by its own writer would wait for ever */
			break;
		case 10:
			if (depth > 0 && rnd() % 8 == 0)
				_exit(1);
			break;
		default: {
			struct timespec t = {0, 0};
			syscall(SYS_ppoll, ptr(), rnd() % 8, &t, NULL, 8);
		}
		}
	}
}

int main(void)
{
	/* Writes to pipes whose readers are gone fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	family(0);
	int n = 0;
	while (wait(NULL) > 0)
		n++;
	printf("forkfuzz: done, reaped %d\n", n);
	return 0;
}
