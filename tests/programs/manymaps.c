/* Many mmaps and an arena grown by mprotect (issue 17, item 8): a region
 * per mmap call must not make mmap fail when the region table fills.
 * - arena: 16 pages PROT_NONE, then pages 0-1 and 2-3 made read-write one
 *   mprotect at a time (as glibc grows a thread arena) and touched;
 * - 200 one-page mmaps, each touched, right below it.
 * Prints "name 0x..." lines the test reads; exit 1 if any call failed. */
#include <stdio.h>
#include <sys/mman.h>

#define PAGE 4096
#define MANY 200

static char *map(int pages, int prot)
{
	char *p = mmap(NULL, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return NULL;
	}
	return p;
}

int main(void)
{
	char *arena = map(16, PROT_NONE);
	if (!arena)
		return 1;
	for (int i = 0; i < 4; i += 2) {
		if (mprotect(arena + i * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE)) {
			perror("mprotect");
			return 1;
		}
		arena[i * PAGE] = 1;
		arena[(i + 1) * PAGE] = 1;
	}
	char *first = NULL;
	for (int i = 0; i < MANY; i++) {
		char *p = map(1, PROT_READ | PROT_WRITE);
		if (!p)
			return 1;
		*p = 1;
		if (!first)
			first = p;
	}
	printf("arena %p\nfirst %p\n", (void *)arena, (void *)first);
	return 0;
}
