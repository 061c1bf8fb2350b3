/* Vector registers belong to their process.
 *
 *   vector SEED [MODE]      MODE = auto (default) | sse | avx | avx512
 *
 * Run two or more copies at once, each with its own SEED. Every round loads
 * a pattern of its own (per seed, round, register and lane) into every
 * register of the mode -- sse: xmm0-15; avx: ymm0-15; avx512: zmm0-31 and
 * the opmasks k0-7 (64 bits, kmovq: AVX512BW) -- calls sched_yield and
 * getpid, spins until the timer preempts it (or about 20M TSC cycles), then
 * stores every register and compares every 64-bit lane. Load, system calls,
 * spin and store are one asm block, so the compiler cannot touch the
 * registers in between. A kernel that does not save and restore a
 * process's whole vector state lets one copy see another's values.
 *
 * auto takes the widest mode CPUID and XGETBV allow. A forced mode does not
 * ask CPUID: under PVM user code runs with the host's XCR0 whatever CPUID
 * the guest shows, so that is how to check what the hardware really lets a
 * process use. A forced mode the CPU lacks dies of #UD.
 *
 * Only the function of the chosen mode has AVX/AVX-512 enabled
 * (__attribute__((target))), so main() and the rest stay baseline x86-64
 * and one binary runs sse and avx on a CPU without AVX-512.
 *
 * Output: one verdict line per copy, one line naming what was skipped and
 * why. Exit 1 if any round saw a foreign value. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 100
#define GAP 1000000	/* TSC cycles between two reads: we were away */
#define MAXSPIN 20000000 /* TSC cycles a round spins at most */

enum mode { SSE, AVX, AVX512 };
static const char *const NAME[] = {"sse", "avx", "avx512"};
static const char *const REGS[] = {"xmm0-15", "ymm0-15", "zmm0-31, k0-7"};
static const int NREG[] = {16, 16, 32};
static const int LANES[] = {2, 4, 8}; /* 64-bit lanes per register */

/* One register file image: zmm0-31 (64 bytes each), then k0-7. */
struct regs {
	uint64_t v[32][8];
	uint64_t k[8];
};

/* Load 16/32 registers and k0-7 from `in`, sched_yield, getpid, spin
 * until preempted, store them to `out`; 1 if the spin saw a gap
 * (preempted, or the vCPU itself was paused: the count says "interrupted"). */
#define SYSCALLS_AND_SPIN                                                        \
	"mov $24, %%eax\n syscall\n" /* sched_yield */                           \
	"mov $39, %%eax\n syscall\n" /* getpid */                                \
	"rdtsc\n shl $32, %%rdx\n or %%rdx, %%rax\n mov %%rax, %%r8\n mov %%rax, %%r9\n" \
	"2: rdtsc\n shl $32, %%rdx\n or %%rdx, %%rax\n"                          \
	"mov %%rax, %%r10\n sub %%r9, %%r10\n cmp %3, %%r10\n ja 3f\n"           \
	"mov %%rax, %%r9\n sub %%r8, %%rax\n cmp %4, %%rax\n jb 2b\n"            \
	"xor %k2, %k2\n jmp 4f\n"                                                \
	"3: mov $1, %k2\n"                                                       \
	"4:\n"
#define GPR_CLOBBERS "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory"
#define XMM_CLOBBERS                                                             \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",   \
	    "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

#define R16 "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"
#define R32 R16 ",16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31"

static int round_sse(const struct regs *in, struct regs *out)
{
	int gap;
	__asm__ volatile(".irp i," R16 "\n movdqu \\i*64(%1), %%xmm\\i\n .endr\n" SYSCALLS_AND_SPIN
			 ".irp i," R16 "\n movdqu %%xmm\\i, \\i*64(%5)\n .endr\n"
			 : "=m"(*out), "+r"(in), "=&r"(gap)
			 : "i"(GAP), "i"(MAXSPIN), "r"(out)
			 : GPR_CLOBBERS, XMM_CLOBBERS);
	return gap;
}

__attribute__((target("avx"))) static int round_avx(const struct regs *in, struct regs *out)
{
	int gap;
	__asm__ volatile(".irp i," R16 "\n vmovdqu \\i*64(%1), %%ymm\\i\n .endr\n" SYSCALLS_AND_SPIN
			 ".irp i," R16 "\n vmovdqu %%ymm\\i, \\i*64(%5)\n .endr\n"
			 "vzeroupper\n"
			 : "=m"(*out), "+r"(in), "=&r"(gap)
			 : "i"(GAP), "i"(MAXSPIN), "r"(out)
			 : GPR_CLOBBERS, XMM_CLOBBERS);
	return gap;
}

__attribute__((target("avx512f,avx512bw"))) static int round_avx512(const struct regs *in,
								   struct regs *out)
{
	int gap;
	__asm__ volatile(".irp i," R32 "\n vmovdqu64 \\i*64(%1), %%zmm\\i\n .endr\n"
			 ".irp i,0,1,2,3,4,5,6,7\n kmovq 2048+\\i*8(%1), %%k\\i\n .endr\n"
			 SYSCALLS_AND_SPIN
			 ".irp i," R32 "\n vmovdqu64 %%zmm\\i, \\i*64(%5)\n .endr\n"
			 ".irp i,0,1,2,3,4,5,6,7\n kmovq %%k\\i, 2048+\\i*8(%5)\n .endr\n"
			 "vzeroupper\n"
			 : "=m"(*out), "+r"(in), "=&r"(gap)
			 : "i"(GAP), "i"(MAXSPIN), "r"(out)
			 : GPR_CLOBBERS, XMM_CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
			   "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",
			   "xmm29", "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	return gap;
}

/* splitmix64: distinct, unpredictable values for every seed, round,
 * register and lane. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The pattern of lane `slot` (register << 8 | lane; 0x8000 | i for k<i>)
 * in round `r` of copy `seed`. */
static uint64_t pattern(uint64_t seed, uint64_t r, unsigned slot)
{
	return mix(seed << 40 ^ r << 16 ^ slot);
}

/* Whose value `v` in `slot` is: "copy 2's from round 0" (seeds 0-99). */
static const char *whose(uint64_t v, unsigned slot, char *buf, size_t len)
{
	for (uint64_t s = 0; s < 100; s++)
		for (uint64_t r = 0; r < ROUNDS; r++)
			if (v == pattern(s, r, slot)) {
				snprintf(buf, len, "copy %llu's from round %llu", (unsigned long long)s,
					 (unsigned long long)r);
				return buf;
			}
	return v ? "no copy's" : "zero";
}

/* The widest mode CPUID and XGETBV allow, and in *why what was skipped. */
static enum mode auto_mode(const char **why)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX)) {
		*why = "skipped avx, avx512: CPU lacks AVX (CPUID)";
		return SSE;
	}
	if (!(c & bit_OSXSAVE)) {
		*why = "skipped avx, avx512: CPUID shows OSXSAVE=0 (the kernel did not enable XSAVE)";
		return SSE;
	}
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6) {
		*why = "skipped avx, avx512: XCR0 lacks SSE or AVX state (the kernel did not enable it)";
		return SSE;
	}
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F) || !(b & bit_AVX512BW)) {
		*why = "skipped avx512: CPU lacks it (CPUID: no AVX512F and AVX512BW)";
		return AVX;
	}
	if ((lo & 0xe0) != 0xe0) {
		*why = "skipped avx512: XCR0 lacks opmask/zmm state (the kernel did not enable it)";
		return AVX;
	}
	*why = "skipped nothing (avx512 covers avx and sse)";
	return AVX512;
}

int main(int argc, char **argv)
{
	unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1;
	const char *arg = argc > 2 ? argv[2] : "auto";
	const char *why = NULL;
	enum mode m;
	if (!strcmp(arg, "auto")) {
		m = auto_mode(&why);
	} else if (!strcmp(arg, "sse")) {
		m = SSE;
		why = "skipped avx, avx512: not asked for (mode sse)";
	} else if (!strcmp(arg, "avx")) {
		m = AVX;
		why = "skipped avx512: not asked for (mode avx)";
	} else if (!strcmp(arg, "avx512")) {
		m = AVX512;
		why = "skipped nothing (avx512 covers avx and sse)";
	} else {
		fprintf(stderr, "usage: vector SEED [auto|sse|avx|avx512]\n");
		return 2;
	}
	printf("vector %u: %s\n", seed, why);
	fflush(stdout);

	static struct regs in, out;
	int bad = 0, preempted = 0;
	char first[300] = "", who[64];
	for (int r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < 32; i++)
			for (unsigned l = 0; l < 8; l++)
				in.v[i][l] = pattern(seed, r, i << 8 | l);
		for (unsigned i = 0; i < 8; i++)
			in.k[i] = pattern(seed, r, 0x8000 | i);
		memset(&out, 0, sizeof out);
		int gap = m == AVX512 ? round_avx512(&in, &out)
			  : m == AVX  ? round_avx(&in, &out)
				      : round_sse(&in, &out);
		preempted += gap;
		int wrong = 0;
		for (int i = 0; i < NREG[m]; i++)
			for (int l = 0; l < LANES[m]; l++)
				if (out.v[i][l] != in.v[i][l] && !wrong++ && !bad)
					snprintf(first, sizeof first,
						 "; first in round %d: %cmm%d lane %d (bits %d-%d) holds "
						 "%#llx (%s), expected %#llx",
						 r, "xyz"[m], i, l, 64 * l, 64 * l + 63,
						 (unsigned long long)out.v[i][l],
						 whose(out.v[i][l], i << 8 | l, who, sizeof who),
						 (unsigned long long)in.v[i][l]);
		for (int i = 0; m == AVX512 && i < 8; i++)
			if (out.k[i] != in.k[i] && !wrong++ && !bad)
				snprintf(first, sizeof first,
					 "; first in round %d: k%d holds %#llx (%s), expected %#llx", r, i,
					 (unsigned long long)out.k[i],
					 whose(out.k[i], 0x8000 | i, who, sizeof who),
					 (unsigned long long)in.k[i]);
		bad += wrong != 0;
	}
	printf("vector %u: mode %s (%s), %d rounds (%d interrupted mid-spin), %d with foreign register "
	       "contents%s\n",
	       seed, NAME[m], REGS[m], ROUNDS, preempted, bad, bad ? first : "");
	return bad != 0;
}
