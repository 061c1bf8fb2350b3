/* Writes to both of its streams and exits 3: stdout, then stderr, then
 * stdout again (flushed in between, so the order is the program's). */
#include <stdio.h>

int main(void)
{
	printf("to stdout\n");
	fflush(stdout);
	fprintf(stderr, "to stderr\n");
	printf("again\n");
	return 3;
}
