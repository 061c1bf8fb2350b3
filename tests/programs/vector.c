/* Vector registers belong to their process. Run two or more copies at once
 * (each with its own seed as argv[1]): each fills xmm0-15 -- and the upper
 * halves of ymm0-15 when the CPU and the kernel enable AVX -- with its own
 * pattern, makes a system call and spins long enough to be preempted, then
 * reads them back. A kernel that does not save and restore each process's
 * vector state lets one copy see another's values. */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 1000
#define SPIN 200000

static int have_avx(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6; /* the kernel saves SSE and AVX state */
}

/* Load 16 registers from `in`, syscall getpid, spin, store them to `out`. */
#define ROUND(WIDTH, MOV, R)                                                      \
	__asm__ volatile(MOV " 0*" WIDTH "(%0), %%" R "0\n" MOV " 1*" WIDTH "(%0), %%" R "1\n" \
			 MOV " 2*" WIDTH "(%0), %%" R "2\n" MOV " 3*" WIDTH "(%0), %%" R "3\n"   \
			 MOV " 4*" WIDTH "(%0), %%" R "4\n" MOV " 5*" WIDTH "(%0), %%" R "5\n"   \
			 MOV " 6*" WIDTH "(%0), %%" R "6\n" MOV " 7*" WIDTH "(%0), %%" R "7\n"   \
			 MOV " 8*" WIDTH "(%0), %%" R "8\n" MOV " 9*" WIDTH "(%0), %%" R "9\n"   \
			 MOV " 10*" WIDTH "(%0), %%" R "10\n" MOV " 11*" WIDTH "(%0), %%" R "11\n" \
			 MOV " 12*" WIDTH "(%0), %%" R "12\n" MOV " 13*" WIDTH "(%0), %%" R "13\n" \
			 MOV " 14*" WIDTH "(%0), %%" R "14\n" MOV " 15*" WIDTH "(%0), %%" R "15\n" \
			 "mov $39, %%eax\n syscall\n"                                    \
			 "mov %2, %%rcx\n 1: dec %%rcx\n jnz 1b\n"                        \
			 MOV " %%" R "0, 0*" WIDTH "(%1)\n" MOV " %%" R "1, 1*" WIDTH "(%1)\n"   \
			 MOV " %%" R "2, 2*" WIDTH "(%1)\n" MOV " %%" R "3, 3*" WIDTH "(%1)\n"   \
			 MOV " %%" R "4, 4*" WIDTH "(%1)\n" MOV " %%" R "5, 5*" WIDTH "(%1)\n"   \
			 MOV " %%" R "6, 6*" WIDTH "(%1)\n" MOV " %%" R "7, 7*" WIDTH "(%1)\n"   \
			 MOV " %%" R "8, 8*" WIDTH "(%1)\n" MOV " %%" R "9, 9*" WIDTH "(%1)\n"   \
			 MOV " %%" R "10, 10*" WIDTH "(%1)\n" MOV " %%" R "11, 11*" WIDTH "(%1)\n" \
			 MOV " %%" R "12, 12*" WIDTH "(%1)\n" MOV " %%" R "13, 13*" WIDTH "(%1)\n" \
			 MOV " %%" R "14, 14*" WIDTH "(%1)\n" MOV " %%" R "15, 15*" WIDTH "(%1)\n" \
			 :                                                               \
			 : "r"(in), "r"(out), "i"(SPIN)                                  \
			 : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", \
			   "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",  \
			   "xmm13", "xmm14", "xmm15")

__attribute__((target("avx"))) static void round_ymm(const unsigned char *in, unsigned char *out)
{
	ROUND("32", "vmovdqu", "ymm");
	__asm__ volatile("vzeroupper");
}

static void round_xmm(const unsigned char *in, unsigned char *out)
{
	ROUND("16", "movdqu", "xmm");
}

int main(int argc, char **argv)
{
	unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1;
	int avx = have_avx();
	size_t len = 16 * (avx ? 32 : 16);
	static unsigned char in[16 * 32], out[16 * 32];
	int bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(seed * 131 + r * 7 + i);
		memset(out, 0, sizeof out);
		if (avx)
			round_ymm(in, out);
		else
			round_xmm(in, out);
		bad += memcmp(in, out, len) != 0;
	}
	printf("vector %u: %s, %d rounds, %d with foreign register contents\n", seed,
	       avx ? "ymm0-15" : "xmm0-15", ROUNDS, bad);
	return bad != 0;
}
