/* Writes through a null pointer: the kernel must kill this process and
 * only this one. */
#include <stdio.h>

int main(void)
{
	printf("nullwrite: writing to address 0\n");
	fflush(stdout);
	*(volatile int *)0 = 42;
	printf("nullwrite: still alive\n");
	return 0;
}
