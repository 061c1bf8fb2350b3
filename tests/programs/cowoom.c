/* Copy-on-write past the end of memory: the parent touches MIB MiB,
 * then forks KIDS children that each write every page. There is not
 * enough RAM for every copy (run with a small --mem): some children must
 * be killed cleanly ("out of memory", reported as SIGSEGV by wait) or
 * have fork fail with ENOMEM, and the kernel must not panic. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB 12
#define KIDS 4

int main(void)
{
	char *mem = malloc(MIB << 20);
	if (!mem)
		return 1;
	memset(mem, 1, MIB << 20);
	int forked = 0, nomem = 0, finished = 0, killed = 0;
	for (int i = 0; i < KIDS; i++) {
		pid_t p = fork();
		if (p < 0) {
			nomem += errno == ENOMEM;
			continue;
		}
		if (p == 0) {
			for (long off = 0; off < (MIB << 20); off += 4096)
				mem[off] = 2;
			/* Hold the copies until the parent has forked them all. */
			usleep(200000);
			_exit(0);
		}
		forked++;
	}
	int st;
	while (wait(&st) > 0) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			finished++;
		else if (WIFSIGNALED(st))
			killed++;
	}
	printf("cowoom: %d forked, %d refused ENOMEM, %d finished, %d killed\n", forked, nomem,
	       finished, killed);
	return !(forked + nomem == KIDS && finished + killed == forked && killed + nomem > 0);
}
