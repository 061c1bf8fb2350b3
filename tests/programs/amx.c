/* AMX tile state belongs to its process, or AMX is refused.
 *
 *   amx SEED
 *
 * Says what CPUID and XCR0 claim about AMX, asks Linux for the tile-data
 * permission (arch_prctl ARCH_REQ_XCOMP_PERM; a kernel without it answers
 * an error, which is fine), then configures tmm0 (16 rows of 64 bytes) with
 * ldtilecfg, checks tilezero/tilestored give zeros, and for ROUNDS rounds
 * loads a pattern of its own into tmm0 (tileloadd), calls sched_yield and
 * getpid, spins, stores tmm0 (tilestored) and compares all 1024 bytes, in
 * one asm block. Run two copies at once with different seeds. A round
 * whose tile holds anything but its own bytes counts as foreign; a round
 * whose tile came back all zero counts as lost (reset, nobody's data). If
 * the kernel refuses AMX the process dies at ldtilecfg or tilezero (#UD or
 * #NM) before its verdict line. Exit 1 on any foreign or lost round.
 *
 * Seen on the Intel PVM host (2026-12): the guest runs AMX whatever its
 * CPUID says; with a kernel saving only FXSAVE state one copy read the
 * other's tiles and died of #UD after the other's tilerelease; with XSAVE
 * over the host's XCR0 no foreign round, but some rounds come back all
 * zero even with one process: the host loses tile data (fewer with the
 * VMM's arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, XTILEDATA)). */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROUNDS 50
#define SPIN 20000000 /* TSC cycles per round */

static struct {
	uint8_t palette, start_row, pad[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((aligned(64))) cfg;

static uint8_t in[1024], out[1024];

static void claims(unsigned seed)
{
	unsigned a = 0, b = 0, c = 0, d = 0, lo = 0, hi = 0;
	__get_cpuid(1, &a, &b, &c, &d);
	int osxsave = !!(c & bit_OSXSAVE);
	if (osxsave)
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	__get_cpuid_count(7, 0, &a, &b, &c, &d);
	printf("amx %u: CPUID AMX-TILE %d, OSXSAVE %d, XCR0 %s%#x (tile bits 17-18: %s)\n", seed,
	       !!(d & (1u << 24)), osxsave, osxsave ? "" : "unreadable ", lo,
	       !osxsave ? "unknown" : (lo & 0x60000) == 0x60000 ? "on" : "off");
	long r = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */);
	printf("amx %u: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) = %ld\n", seed, r);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1;
	claims(seed);
	cfg.palette = 1;
	cfg.colsb[0] = 64;
	cfg.rows[0] = 16;
	memset(out, 0xff, sizeof out);
	printf("amx %u: ldtilecfg, tilezero tmm0, tilestored\n", seed);
	fflush(stdout);
	__asm__ volatile("ldtilecfg %0\n tilezero %%tmm0\n tilestored %%tmm0, (%1,%2,1)\n"
			 :
			 : "m"(cfg), "r"(out), "r"((uint64_t)64)
			 : "memory");
	for (size_t i = 0; i < sizeof out; i++)
		if (out[i]) {
			printf("amx %u: tilezero left byte %zu = %#x\n", seed, i, out[i]);
			return 1;
		}
	int foreign = 0, lost = 0, first_round = -1, first_byte = -1, got = 0, want = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < sizeof in; i++)
			in[i] = (uint8_t)(seed * 97 + r * 13 + i * 7 + 1);
		memset(out, 0, sizeof out);
		__asm__ volatile("tileloadd (%0,%2,1), %%tmm0\n"
				 "mov $24, %%eax\n syscall\n" /* sched_yield */
				 "mov $39, %%eax\n syscall\n" /* getpid */
				 "rdtsc\n shl $32, %%rdx\n or %%rdx, %%rax\n mov %%rax, %%r8\n"
				 "2: rdtsc\n shl $32, %%rdx\n or %%rdx, %%rax\n sub %%r8, %%rax\n"
				 "cmp %3, %%rax\n jb 2b\n"
				 "tilestored %%tmm0, (%1,%2,1)\n"
				 :
				 : "r"(in), "r"(out), "r"((uint64_t)64), "i"(SPIN)
				 : "rax", "rcx", "rdx", "r8", "r11", "memory");
		int diff = -1, zero = 1;
		for (size_t i = 0; i < sizeof in; i++) {
			zero &= !out[i];
			if (diff < 0 && in[i] != out[i])
				diff = (int)i;
		}
		if (diff < 0)
			continue;
		/* All zero: our tiles were reset (lost), not someone else's. */
		zero ? lost++ : foreign++;
		if (first_round < 0)
			first_round = r, first_byte = diff, got = out[diff], want = in[diff];
	}
	__asm__ volatile("tilerelease");
	printf("amx %u: tmm0, %d rounds, %d with foreign tile contents, %d lost (all zero)", seed,
	       ROUNDS, foreign, lost);
	if (first_round >= 0)
		printf("; first in round %d: byte %d holds %#x, expected %#x", first_round, first_byte,
		       got, want);
	printf("\n");
	return foreign || lost;
}
