/* A deterministic workload: the same output on every run, natively or in
 * the guest, so the two can be compared byte for byte.
 *  - qsort of a fixed pseudo-random array (an LCG, no rand());
 *  - malloc/free churn over sizes served from brk (small) and from mmap
 *    (256 KiB and more, above both glibc's and musl's mmap threshold);
 *  - printf of doubles;
 *  - a digest (FNV-1a) over everything it computed. No addresses printed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 20000
#define SLOTS 64
#define ROUNDS 2000

static uint64_t state = 0x2545f4914f6cdd1dULL;
static uint64_t digest = 0xcbf29ce484222325ULL;

static uint32_t next(void)
{
	state = state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(state >> 33);
}

static void mix(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		digest ^= (v >> (8 * i)) & 0xff;
		digest *= 0x100000001b3ULL;
	}
}

static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	static uint32_t v[N];
	for (int i = 0; i < N; i++)
		v[i] = next();
	qsort(v, N, sizeof v[0], cmp);
	int sorted = 1;
	for (int i = 1; i < N; i++)
		sorted &= v[i - 1] <= v[i];
	for (int i = 0; i < N; i += 97)
		mix(v[i]);
	printf("qsort: %d values, sorted %s, min %u, median %u, max %u\n", N,
	       sorted ? "yes" : "no", v[0], v[N / 2], v[N - 1]);

	char *slot[SLOTS] = { 0 };
	size_t size[SLOTS] = { 0 };
	uint64_t bytes = 0, big = 0;
	for (int r = 0; r < ROUNDS; r++) {
		int i = next() % SLOTS;
		if (slot[i]) {
			/* Check what we wrote is still there, then free it. */
			for (size_t k = 0; k < size[i]; k += 4093)
				mix((unsigned char)slot[i][k]);
			free(slot[i]);
			slot[i] = NULL;
			continue;
		}
		uint32_t pick = next();
		size[i] = pick % 8 == 0 ? 256 * 1024 + pick % (1 << 20) : 16 + pick % 4000;
		big += size[i] > 256 * 1024 - 1;
		slot[i] = malloc(size[i]);
		if (!slot[i]) {
			printf("malloc(%zu) failed\n", size[i]);
			return 1;
		}
		memset(slot[i], (int)(pick & 0xff), size[i]);
		bytes += size[i];
	}
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
	printf("malloc: %d rounds, %llu bytes, %llu blocks of 256 KiB or more\n", ROUNDS,
	       (unsigned long long)bytes, (unsigned long long)big);

	double sum = 0, x = 1.0;
	for (int i = 1; i <= 1000; i++) {
		x = x * 1.0009765625 + 1.0 / i;
		sum += x / (i + 0.5);
	}
	mix((uint64_t)(sum * 1e6));
	printf("doubles: sum %.6f, x %.10g, third %f, tiny %e\n", sum, x, 1.0 / 3, 1e-300 * 3);
	printf("digest %016llx\n", (unsigned long long)digest);
	return 0;
}
