/* hexflood.c's output with "1x" for "0x": no printed addresses, the
 * same console traffic (the baseline of its test). */
#include <stdio.h>
#include <unistd.h>

static char buf[64 << 10];

int main(void)
{
    size_t n = 0;
    for (unsigned i = 0; n + 16 < sizeof buf; i++)
        n += snprintf(buf + n, sizeof buf - n, "1x%x\n", 0x10000000u + i * 0x1000u);
    write(1, buf, n);
    return 0;
}
