/* Two Linux rules a review found missing: a parent that ignores SIGCHLD
 * leaves no zombies (100 children, more than the process table holds,
 * never waited for: every fork works, and wait then says ECHILD); and
 * select that times out hands back empty fd sets. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	signal(SIGCHLD, SIG_IGN);
	int made = 0;
	for (int i = 0; i < 100; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p > 0)
			made++;
		/* Let the child run and end before the next fork. */
		usleep(1000);
	}
	int w = wait(NULL);
	int echild = w < 0 && errno == ECHILD;
	int fd[2];
	pipe(fd);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(fd[0], &r);
	struct timeval tv = {0, 10000};
	int n = select(fd[0] + 1, &r, NULL, NULL, &tv);
	int cleared = n == 0 && !FD_ISSET(fd[0], &r);
	printf("reaping: %d of 100 forks, wait %s; select timed out with %s sets\n", made,
	       echild ? "ECHILD" : "found a zombie", cleared ? "empty" : "STALE");
	return !(made == 100 && echild && cleared);
}
