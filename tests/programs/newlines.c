/* A newline flood: 4 MiB of empty lines, in 64 KiB writes. */
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

int main(void)
{
    memset(buf, '\n', sizeof buf);
    for (int i = 0; i < 64; i++)
        write(1, buf, sizeof buf);
    write(1, "newlines: done\n", 15);
    return 0;
}
