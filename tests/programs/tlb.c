/* TLB reach, measured: pointer chasing over working sets from 16 KiB up to
 * MAX_MIB (doubling), in a random cyclic order (Sattolo's algorithm), one
 * access per 4 KiB page ("page", the default: every access wants another
 * TLB entry) or per 64-byte line ("line"). Time per access from rdtsc,
 * calibrated against clock_gettime(CLOCK_MONOTONIC).
 *
 *   tlb [MAX_MIB [page|line [4k|2m]]]
 *
 * "2m" asks for 2 MiB pages with madvise(MADV_HUGEPAGE) (on the host: THP,
 * if enabled); "4k" asks for nothing. Prints one line per working set:
 *   ws_kib=16 ns_per_access=1.25
 * Runs natively and, unmodified, under microvmm --run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <x86intrin.h>

#define MIB (1024UL * 1024)

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* TSC ticks per nanosecond, over about 50 ms. */
static double tsc_per_ns(void)
{
	uint64_t t0 = now_ns(), c0 = __rdtsc();
	while (now_ns() - t0 < 50000000ULL)
		;
	uint64_t t1 = now_ns(), c1 = __rdtsc();
	return (double)(c1 - c0) / (double)(t1 - t0);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char *argv[])
{
	size_t max_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int line = argc > 2 && strcmp(argv[2], "line") == 0;
	int huge = argc > 3 && strcmp(argv[3], "2m") == 0;
	if (max_mib == 0 || max_mib > 1024) {
		fprintf(stderr, "MAX_MIB must be 1..1024\n");
		return 2;
	}
	size_t stride = line ? 64 : 4096;
	size_t max = max_mib * MIB;
	char *raw = mmap(NULL, max + 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	char *buf = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	if (huge && madvise(buf, max, MADV_HUGEPAGE) != 0)
		perror("madvise(MADV_HUGEPAGE)"); /* measure anyway, say so */
	uint32_t *perm = malloc(max / stride * sizeof *perm);
	if (!perm) {
		perror("malloc");
		return 1;
	}
	double tpn = tsc_per_ns();
	printf("tlb: stride %zu, pages %s, max %zu MiB, tsc %.3f GHz\n", stride, huge ? "2m" : "4k", max_mib,
	       tpn);
	for (size_t ws = 16 * 1024; ws <= max; ws *= 2) {
		size_t n = ws / stride;
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		/* Sattolo: one cycle through all n slots. */
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = next_rand() % i;
			uint32_t t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		/* Slot i lies at i*stride; with page stride, at a different line
		 * of each page, so that cache sets do not alias. */
#define SLOT(i) (buf + (size_t)(i) * stride + (line ? 0 : ((size_t)(i) % 64) * 64))
		for (size_t i = 0; i < n; i++)
			*(void **)SLOT(perm[i]) = SLOT(perm[(i + 1) % n]);
		size_t accesses = n < (1UL << 20) ? (1UL << 20) : n;
		void **p = (void **)SLOT(perm[0]);
		for (size_t i = 0; i < n; i++) /* warm up: TLB and caches */
			p = *p;
		uint64_t c0 = __rdtsc();
		for (size_t i = 0; i < accesses; i++)
			p = *p;
		uint64_t c1 = __rdtsc();
		if (p == NULL)
			return 3; /* keeps the chase alive */
		printf("ws_kib=%zu ns_per_access=%.2f\n", ws / 1024, (double)(c1 - c0) / tpn / (double)accesses);
		fflush(stdout);
	}
	return 0;
}
