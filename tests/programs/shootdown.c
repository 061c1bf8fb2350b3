/* shootdown.c: one thread unmaps memory that another thread, spinning on
 * the other vCPU, had just touched: with two vCPUs each munmap must make
 * the other vCPU forget the pages (a TLB shootdown), and the report counts
 * them (tests/smp.rs). Both threads spin, never sleep, so with two vCPUs
 * they run at once. Round by round: the main thread maps fresh pages and
 * publishes them, the spinner writes every page and says so, the main
 * thread checks what it wrote and unmaps them. Also "mprotect": the pages
 * are made read-only instead (a downgrade), then unmapped.
 * Prints one deterministic line. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define ROUNDS 64
#define PAGES 4

static _Atomic(char *) region;
static atomic_int round_ready, round_done, stop;

static void *spinner(void *arg)
{
	(void)arg;
	for (int r = 1; r <= ROUNDS; r++) {
		while (atomic_load(&round_ready) != r)
			;
		char *p = atomic_load(&region);
		for (int i = 0; i < PAGES; i++)
			p[i * 4096] = (char)(r + i);
		atomic_store(&round_done, r);
	}
	while (!atomic_load(&stop))
		;
	return 0;
}

int main(int argc, char **argv)
{
	int protect = argc > 1 && !strcmp(argv[1], "mprotect");
	pthread_t t;
	if (pthread_create(&t, 0, spinner, 0) != 0) {
		puts("shootdown: pthread_create failed");
		return 1;
	}
	int wrong = 0;
	for (int r = 1; r <= ROUNDS; r++) {
		char *p = mmap(0, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			puts("shootdown: mmap failed");
			return 1;
		}
		atomic_store(&region, p);
		atomic_store(&round_ready, r);
		while (atomic_load(&round_done) != r)
			;
		for (int i = 0; i < PAGES; i++)
			wrong += p[i * 4096] != (char)(r + i);
		if (protect && mprotect(p, PAGES * 4096, PROT_READ) != 0)
			wrong++;
		if (munmap(p, PAGES * 4096) != 0)
			wrong++;
	}
	atomic_store(&stop, 1);
	pthread_join(t, 0);
	printf("shootdown: %d rounds of %d pages %s, %d wrong\n", ROUNDS, PAGES,
	       protect ? "made read-only then unmapped" : "unmapped", wrong);
	return wrong != 0;
}
