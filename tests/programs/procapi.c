/* The process-API examples an OS course runs first (after OSTEP's
 * chapter 5, written anew): `procapi 1` forks; `procapi 2` forks and
 * waits; `procapi 3` forks and the child execs `wc procapi.txt`;
 * `procapi 4` forks, the child sends its stdout to ./procapi.output and
 * execs `wc procapi.txt`, and the parent prints the file back. pids are
 * printed as `pid:N` so a test can set them aside. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	int mode = argc > 1 ? atoi(argv[1]) : 1;
	printf("hello (pid:%d)\n", (int)getpid());
	fflush(stdout);
	int rc = fork();
	if (rc < 0) {
		perror("fork failed");
		return 1;
	}
	if (rc == 0) {
		printf("child (pid:%d) of parent pid:%d\n", (int)getpid(), (int)getppid());
		fflush(stdout);
		if (mode == 4) {
			close(STDOUT_FILENO);
			if (open("./procapi.output", O_CREAT | O_WRONLY | O_TRUNC, 0644) < 0) {
				perror("open");
				_exit(3);
			}
		}
		if (mode >= 3) {
			char *args[] = {"wc", "procapi.txt", NULL};
			execvp(args[0], args);
			perror("execvp");
			_exit(127);
		}
		return 0;
	}
	if (mode == 1) {
		printf("parent of pid:%d (pid:%d)\n", rc, (int)getpid());
		/* Let the child finish first, as the output is compared. */
		wait(NULL);
		return 0;
	}
	int status = 0;
	int w = waitpid(rc, &status, 0);
	printf("parent of pid:%d (rc_wait pid:%d, exited %d, status %d) (pid:%d)\n", rc, w,
	       WIFEXITED(status), WEXITSTATUS(status), (int)getpid());
	if (mode == 4) {
		char buf[256];
		int fd = open("./procapi.output", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (n < 0) {
			perror("read back");
			return 1;
		}
		buf[n] = 0;
		printf("procapi.output: %s", buf);
	}
	return WEXITSTATUS(status);
}
