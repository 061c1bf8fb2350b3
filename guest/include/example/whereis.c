/*
 * OSTEP's "where is my code, heap and stack", asked of the machine: print
 * the three addresses, then ask microvmm where each really lives.
 *
 *   gcc -static -O2 -I guest/include -o whereis guest/include/example/whereis.c
 *   microvmm --run ./whereis
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microvmm.h"

static int show(const char *what, const void *addr)
{
	struct microvmm_whereis_answer a;
	if (microvmm_whereis(addr, &a) != 0) {
		printf("%-5s: %p: whereis failed: %s\n", what, addr, strerror(errno));
		return 1;
	}
	switch (a.status) {
	case MICROVMM_WHEREIS_OK:
		printf("%-5s: GVA %p -> GPA %#llx", what, addr, (unsigned long long)a.gpa);
		if (a.hpa_status == MICROVMM_HPA_OK)
			printf(" -> HPA %#llx", (unsigned long long)a.hpa);
		else
			printf(" -> HPA unavailable");
		printf(" (%u levels walked)\n", a.levels);
		return 0;
	case MICROVMM_WHEREIS_NO_VMM:
		printf("%-5s: GVA %p -> GPA %#llx (no microvmm VMM to ask)\n", what, addr,
		       (unsigned long long)a.gpa);
		return 0;
	default:
		printf("%-5s: GVA %p: status %u\n", what, addr, a.status);
		return 1;
	}
}

int main(void)
{
	int local = 7;
	char *heap = malloc(64);
	if (!heap)
		return 1;
	heap[0] = 1; /* touch it: a page the walk can find */
	printf("location of code : %p\n", (void *)main);
	printf("location of heap : %p\n", (void *)heap);
	printf("location of stack: %p\n", (void *)&local);
	int bad = show("code", (void *)main) + show("heap", heap) + show("stack", &local);
	return bad ? 1 : 0;
}
