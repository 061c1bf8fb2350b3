/* samefault.c: two threads write the same fresh page at the same moment,
 * one page per round. Under --cpus 2 both threads spin on their own vCPU,
 * so both take a not-present fault on the page at once; the kernel serves
 * one, and the other, which waited for the kernel lock meanwhile, must
 * find the page there and run its write again, not kill the program (the
 * Go runtime did this on its bss: issue 19, tests/smp.rs). Prints one
 * deterministic line. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>

#define ROUNDS 256

static char *area;
static atomic_int go, done, stop;

static void *other(void *arg)
{
	(void)arg;
	for (int r = 1; r <= ROUNDS; r++) {
		while (atomic_load(&go) != r)
			;
		area[(r - 1) * 4096 + 1] = (char)r;
		atomic_store(&done, r);
	}
	while (!atomic_load(&stop))
		;
	return 0;
}

int main(void)
{
	/* Under 2 MiB, so every page is a 4 KiB one paged in on demand. */
	area = mmap(0, ROUNDS * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		puts("samefault: mmap failed");
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, 0, other, 0) != 0) {
		puts("samefault: pthread_create failed");
		return 1;
	}
	int wrong = 0;
	for (int r = 1; r <= ROUNDS; r++) {
		atomic_store(&go, r);
		area[(r - 1) * 4096] = (char)r;
		while (atomic_load(&done) != r)
			;
		wrong += area[(r - 1) * 4096] != (char)r;
		wrong += area[(r - 1) * 4096 + 1] != (char)r;
	}
	atomic_store(&stop, 1);
	pthread_join(t, 0);
	printf("samefault: %d rounds, %d wrong\n", ROUNDS, wrong);
	return wrong != 0;
}
