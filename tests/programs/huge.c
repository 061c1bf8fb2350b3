/* 2 MiB guest pages. Asks for them with madvise(MADV_HUGEPAGE) unless
 * argv[1] is "plain" (then run microvmm with --guest-pages 2m).
 * First a 4 MiB area: touched, one page cut out of its second 2 MiB page
 * (the kernel splits it), part of the first made read-only (split again),
 * bytes checked, then all unmapped (the kernel must get every frame back).
 * Then an 8 MiB area, every 4 KiB touched and checked, left mapped for the
 * report: 4 faults, 4 pages of 2 MiB. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1024UL * 1024)

static int advise;

/* `len` bytes of anonymous memory, 2 MiB aligned (2 MiB over-allocated;
 * the slack is never touched). *raw gets what mmap returned. */
static char *area(size_t len, char **raw)
{
	*raw = mmap(NULL, len + 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED) {
		perror("mmap");
		return NULL;
	}
	char *p = (char *)(((uintptr_t)*raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	if (advise && madvise(p, len, MADV_HUGEPAGE) != 0) {
		perror("madvise");
		return NULL;
	}
	return p;
}

static int touch_and_check(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += 4096)
		p[off] = (char)(off >> 12);
	for (size_t off = 0; off < len; off += 4096)
		if (p[off] != (char)(off >> 12)) {
			printf("bad byte at +%zu\n", off);
			return 1;
		}
	return 0;
}

int main(int argc, char *argv[])
{
	advise = !(argc > 1 && strcmp(argv[1], "plain") == 0);
	char *raw;
	char *b = area(4 * MIB, &raw);
	if (!b || touch_and_check(b, 4 * MIB))
		return 1;
	if (munmap(b + 2 * MIB + 4096, 4096) != 0 || mprotect(b + 64 * 1024, 64 * 1024, PROT_READ) != 0) {
		perror("munmap/mprotect");
		return 1;
	}
	if (b[2 * MIB] != (char)512 || b[2 * MIB + 8192] != (char)514 || b[64 * 1024] != 16 ||
	    b[2 * MIB - 4096] != (char)511) {
		printf("a split lost bytes\n");
		return 1;
	}
	if (munmap(raw, 6 * MIB) != 0) {
		perror("munmap");
		return 1;
	}
	char *p = area(8 * MIB, &raw);
	if (!p || touch_and_check(p, 8 * MIB))
		return 1;
	printf("area %p bytes %lu pages_2m %lu\n", (void *)p, 8 * MIB, 4UL);
	return 0;
}
