/* A fork bomb that stops itself: every process forks until fork fails,
 * then exits; the first one counts the children it made and how fork
 * failed, and waits for them. The kernel must refuse cleanly (EAGAIN)
 * at its process limit, and every frame must come back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int made = 0, err = 0;
	for (int i = 0; i < 100000; i++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			/* Children fork too, once each, then leave. */
			pid_t q = fork();
			if (q > 0)
				waitpid(q, NULL, 0);
			_exit(0);
		}
		made++;
	}
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("forkbomb: made %d, reaped %d, fork failed with %s\n", made, reaped,
	       err ? strerror(err) : "nothing");
	return !(err == EAGAIN && made == reaped && made > 0);
}
