/* Signals between processes, default actions only: a parent kills a
 * child that waits on a pipe (SIGTERM) and one that spins (SIGKILL), and
 * wait reports each death by its signal; a child that ignores SIGTERM
 * survives it; an orphan is adopted (its parent pid becomes the
 * reaper's, not its dead parent's). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int died_by(pid_t p, int sig)
{
	int st = 0;
	return waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

int main(void)
{
	int fd[2];
	pipe(fd);
	pid_t waiter = fork();
	if (waiter == 0) {
		char c;
		read(fd[0], &c, 1); /* never written: waits until killed */
		_exit(0);
	}
	pid_t spinner = fork();
	if (spinner == 0)
		for (;;)
			;
	pid_t stubborn = fork();
	if (stubborn == 0) {
		signal(SIGTERM, SIG_IGN);
		char c;
		close(fd[1]);
		/* Woken by end of file once the parent closes its write end. */
		_exit(read(fd[0], &c, 1) == 0 ? 7 : 8);
	}
	sched_yield();
	usleep(20000);
	kill(waiter, SIGTERM);
	kill(spinner, SIGKILL);
	kill(stubborn, SIGTERM);
	int a = died_by(waiter, SIGTERM), b = died_by(spinner, SIGKILL);
	close(fd[1]);
	int st = 0;
	waitpid(stubborn, &st, 0);
	int c = WIFEXITED(st) && WEXITSTATUS(st) == 7;
	/* An orphan: the middle process exits before its child asks. */
	int o[2];
	pipe(o);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t grand = fork();
		if (grand == 0) {
			usleep(20000);
			pid_t pp = getppid();
			write(o[1], &pp, sizeof pp);
			_exit(0);
		}
		_exit(0);
	}
	waitpid(mid, NULL, 0);
	pid_t adopted = -1;
	close(o[1]);
	read(o[0], &adopted, sizeof adopted);
	int d = adopted != mid && adopted != -1;
	printf("signals: SIGTERM %s, SIGKILL %s, ignored SIGTERM %s, orphan adopted %s\n",
	       a ? "ok" : "FAILED", b ? "ok" : "FAILED", c ? "ok" : "FAILED", d ? "ok" : "FAILED");
	return !(a && b && c && d);
}
