/* Accounting by region (issue 17, item 8): what a student's program does to
 * its address space, and what the report must say about it.
 * - malloc(64 MiB): glibc and musl both send it to mmap; every page touched.
 * - three separate mmaps A, B, C of 4 pages (1, 2, 3 pages touched), then
 *   munmap(B), the neighbour of both.
 * - D, 8 pages, pages 0, 1, 2 and 6 touched, then munmap of pages 2..3.
 * - a small .bss variable right after .data (on the page they share) and
 *   a 1 MiB .bss array of its own pages, every page touched.
 * Prints "name 0x..." lines the test reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define BIG (1 << 20)

int initialized = 42;                     /* .data */
int small_bss;                            /* .bss, first: shares .data's page */
static char big_bss[BIG]; /* not page aligned: that would align all .bss */
extern char __bss_start[];

static void touch(char *p, int pages)
{
	for (int i = 0; i < pages; i++)
		p[i * PAGE] = 1;
}

static char *map(int pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(void)
{
	size_t len = 64 << 20;
	char *heap = malloc(len);
	if (!heap)
		return 1;
	for (size_t i = 0; i < len; i += PAGE)
		heap[i] = 1;
	char *a = map(4), *b = map(4), *c = map(4), *d = map(8);
	touch(a, 1);
	touch(b, 2);
	touch(c, 3);
	touch(d, 3);
	d[6 * PAGE] = 1;
	if (munmap(b, 4 * PAGE) || munmap(d + 2 * PAGE, 2 * PAGE)) {
		perror("munmap");
		return 1;
	}
	small_bss = initialized;
	touch(big_bss, BIG / PAGE);
	printf("malloc %p\n", (void *)heap);
	printf("a %p\nb %p\nc %p\nd %p\n", (void *)a, (void *)b, (void *)c, (void *)d);
	printf("small_bss %p\n", (void *)&small_bss);
	printf("bss_start %p\n", (void *)__bss_start);
	printf("big_bss %p\n", (void *)big_bss);
	return 0;
}
