/* A pipe between two processes, as a shell builds one: the child writes
 * 200 KiB (more than the pipe holds, so the writer waits for the reader)
 * and exits; the parent reads to end of file, checks every byte, and
 * then writes into a pipe whose reader is gone (EPIPE, with SIGPIPE
 * ignored). Also: dup2 onto stdout, poll on a pipe, and O_CLOEXEC. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (200 * 1024)

int main(void)
{
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) != 0) {
		perror("pipe2");
		return 1;
	}
	int fl = fcntl(fd[0], F_GETFD);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		/* The child's stdout is the pipe. */
		dup2(fd[1], 1);
		close(fd[1]);
		char buf[1000];
		for (int done = 0; done < TOTAL; done += (int)sizeof buf) {
			for (int i = 0; i < (int)sizeof buf; i++)
				buf[i] = (char)('a' + (done + i) % 26);
			int n = TOTAL - done < (int)sizeof buf ? TOTAL - done : (int)sizeof buf;
			if (write(1, buf, n) != n)
				_exit(2);
		}
		_exit(0);
	}
	close(fd[1]);
	struct pollfd p = {.fd = fd[0], .events = POLLIN};
	int ready = poll(&p, 1, 5000);
	long got = 0, bad = 0;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (char)('a' + (got + i) % 26);
		got += n;
	}
	int status;
	waitpid(pid, &status, 0);
	close(fd[0]);
	signal(SIGPIPE, SIG_IGN);
	int again[2];
	pipe(again);
	close(again[0]);
	ssize_t w = write(again[1], "x", 1);
	int epipe = w < 0 && errno == EPIPE;
	printf("pipes: cloexec %s, poll %d, read %ld bytes, %ld wrong, child status %d, EPIPE %s\n",
	       fl & FD_CLOEXEC ? "set" : "clear", ready, got, bad, WEXITSTATUS(status),
	       epipe ? "yes" : "no");
	return !(got == TOTAL && bad == 0 && epipe && ready == 1 && WEXITSTATUS(status) == 0);
}
