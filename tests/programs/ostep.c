/* OSTEP, "The Abstraction: Address Spaces" (va.c): where do code, heap and
 * stack live? Every process sees the same layout: code low, the heap above
 * it, the stack at the top of the user half. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char *argv[])
{
	printf("location of code  : %p\n", main);
	printf("location of heap  : %p\n", malloc(100e6));
	int x = 3;
	printf("location of stack : %p\n", &x);
	return 0;
}
