/* A benign program with more mapped runs than the report lists (4096
 * per process): every other page of a 40 MiB mapping touched, 5120
 * runs of one page each. */
#include <stdio.h>
#include <sys/mman.h>

#define PAGES 10240

int main(void)
{
    char *p = mmap(0, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 2;
    for (int i = 0; i < PAGES; i += 2)
        p[(size_t)i * 4096] = 1;
    printf("scatter: %d pages touched\n", PAGES / 2);
    return 0;
}
