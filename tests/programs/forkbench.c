/* What fork costs: touch 16 MiB (malloc + memset: every page mapped and
 * private), then ROUNDS times fork, have the child write one byte and
 * _exit, and wait for it. Prints the median and fastest round in
 * microseconds (CLOCK_MONOTONIC), natively or in the guest alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB 16
#define ROUNDS 21

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	char *mem = malloc(MIB << 20);
	if (!mem)
		return 1;
	memset(mem, 1, MIB << 20);
	double us[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now_us();
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0) {
			mem[0] = 2;
			_exit(0);
		}
		waitpid(p, NULL, 0);
		us[i] = now_us() - t0;
	}
	qsort(us, ROUNDS, sizeof us[0], cmp);
	printf("forkbench: fork + exit + wait with %d MiB touched: median %.1f us, min %.1f us\n", MIB,
	       us[ROUNDS / 2], us[0]);
	return 0;
}
