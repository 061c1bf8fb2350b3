/* Fills its output (microvmm keeps the first 64 KiB per process) with
 * distinct "0x..." tokens, none of them mapped, in one write: each is an
 * address the report would try to resolve. */
#include <stdio.h>
#include <unistd.h>

static char buf[64 << 10];

int main(void)
{
    size_t n = 0;
    for (unsigned i = 0; n + 16 < sizeof buf; i++)
        n += snprintf(buf + n, sizeof buf - n, "0x%x\n", 0x10000000u + i * 0x1000u);
    write(1, buf, n);
    return 0;
}
