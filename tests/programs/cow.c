/* Copy-on-write, seen from both sides. The parent touches HEAP_PAGES
 * pages of a malloc'd block, then forks; the child asks where its first
 * page lives (the same guest frame as the parent's), writes the first
 * WRITTEN pages (each write copies one frame), asks again (another frame
 * now), and checks that the parent's bytes never changed under it. The
 * JSON report then shows the child's untouched heap pages as shared and
 * its written ones as copy-on-write faults. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAP_PAGES 64
#define WRITTEN 16

struct answer {
	uint32_t status, hpa_status;
	uint64_t gva, gpa, hva, hpa, guest_page_size, host_page_size, kvm_gpa;
	uint32_t levels, pad;
	uint8_t walk[5 * 24];
};

static uint64_t gpa_of(void *p)
{
	struct answer a;
	memset(&a, 0, sizeof a);
	if (syscall(1000, p, &a) != 0 || a.status != 0)
		return 0;
	return a.gpa;
}

int main(void)
{
	/* Page aligned, in the brk heap (malloc would put a block this big
	 * in an mmap area). */
	char *heap = sbrk(HEAP_PAGES * 4096 + 4096);
	if (heap == (void *)-1) {
		perror("sbrk");
		return 1;
	}
	char *block = (char *)(((uintptr_t)heap + 4095) & ~(uintptr_t)4095);
	memset(block, 'p', HEAP_PAGES * 4096);
	uint64_t before = gpa_of(block);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		uint64_t shared = gpa_of(block);
		for (int i = 0; i < WRITTEN; i++)
			block[i * 4096] = 'c';
		uint64_t copied = gpa_of(block);
		printf("cow: parent frame %#llx, child before write %#llx, after %#llx\n",
		       (unsigned long long)before, (unsigned long long)shared,
		       (unsigned long long)copied);
		printf("cow: same frame before the write: %s; another after: %s\n",
		       shared == before && before != 0 ? "yes" : "no",
		       copied != before && copied != 0 ? "yes" : "no");
		return 0;
	}
	int status;
	waitpid(pid, &status, 0);
	int intact = 1;
	for (int i = 0; i < HEAP_PAGES * 4096; i++)
		intact &= block[i] == 'p';
	printf("cow: parent's pages intact after the child wrote: %s\n", intact ? "yes" : "no");
	return !(intact && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
