/* FS and GS bases belong to their process. Run two or more copies at once,
 * each with its own seed (argv[1]) and a mode (argv[2]):
 *   prctl  set GS with arch_prctl(ARCH_SET_GS) and read it back through a
 *          %gs-relative load: works on every x86-64 kernel;
 *   wr     set FS and GS with wrfsbase/wrgsbase and read them back with
 *          rdfsbase/rdgsbase: needs CR4.FSGSBASE, which PVM hosts give user
 *          code whatever CPUID says.
 * Each round sets the bases, yields and spins long enough to be preempted,
 * then checks them, with no libc call in between (glibc's TLS lives at FS).
 * A kernel that does not keep the bases per process lets one copy see
 * another's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROUNDS 300
#define SPIN 200000
#define ARCH_SET_GS 0x1001

/* slot[i] == i: a GS base of &slot[seed] reads back seed at %gs:0. */
static unsigned long slot[64];

static unsigned long round_prctl(unsigned long seed)
{
	unsigned long got;
	syscall(SYS_arch_prctl, ARCH_SET_GS, &slot[seed]);
	__asm__ volatile("mov $24, %%eax\n syscall\n"
			 "mov %1, %%ecx\n 1: dec %%ecx\n jnz 1b\n"
			 "mov %%gs:0, %0"
			 : "=r"(got)
			 : "i"(SPIN)
			 : "rax", "rcx", "r11", "memory");
	return got;
}

/* Both bases set to `v` (FS restored to glibc's before returning). */
__attribute__((target("fsgsbase"))) static int round_wr(unsigned long v, unsigned long *fs,
							 unsigned long *gs)
{
	unsigned long tls;
	__asm__ volatile("rdfsbase %0" : "=r"(tls));
	__asm__ volatile("wrfsbase %2\n wrgsbase %2\n"
			 "mov $24, %%eax\n syscall\n"
			 "mov %3, %%ecx\n 1: dec %%ecx\n jnz 1b\n"
			 "rdfsbase %0\n rdgsbase %1\n"
			 "wrfsbase %4"
			 : "=&r"(*fs), "=&r"(*gs)
			 : "r"(v), "i"(SPIN), "r"(tls)
			 : "rax", "rcx", "r11", "memory");
	return *fs == v && *gs == v;
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	const char *mode = argc > 2 ? argv[2] : "prctl";
	if (seed == 0 || seed >= 64) {
		fprintf(stderr, "seed must be 1..63\n");
		return 2;
	}
	for (unsigned long i = 0; i < 64; i++)
		slot[i] = i;
	int bad = 0;
	unsigned long first = 0;
	for (int r = 0; r < ROUNDS; r++) {
		if (strcmp(mode, "wr") == 0) {
			unsigned long v = seed * 0x1111111100ul + (unsigned long)r, fs, gs;
			if (!round_wr(v, &fs, &gs)) {
				if (!bad++)
					first = fs != v ? fs : gs;
			}
		} else {
			unsigned long got = round_prctl(seed);
			if (got != seed && !bad++)
				first = got;
		}
	}
	printf("segbase %lu (%s): %d rounds, %d with a foreign base", seed, mode, ROUNDS, bad);
	if (bad)
		printf(" (first saw %#lx)", first);
	printf("\n");
	return bad != 0;
}
