/* Addresses a program prints that are not mapped when it exits: a page it
 * touched, printed and unmapped; a page of a mapping it never touched; an
 * address outside every region. The report must answer each. */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
	/* Each printf is one write(2), so the VMM sees each address while
	 * its page is still mapped (stdio would hold them until exit). */
	setvbuf(stdout, NULL, _IONBF, 0);
	char *untouched = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (untouched == MAP_FAILED || gone == MAP_FAILED)
		return 1;
	gone[0] = 1;
	printf("freed before exit: %p\n", (void *)gone);
	if (munmap(gone, 4096))
		return 2;
	printf("never touched    : %p\n", (void *)(untouched + 8192));
	printf("nowhere          : %p\n", (void *)0x1000);
	return 0;
}
