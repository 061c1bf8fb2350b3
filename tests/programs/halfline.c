/* Writes half a line, sleeps while another program prints a line of
 * its own, then ends its line with text that reads like microvmm's:
 * the console must show both parts with this program's prefix. */
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct timespec t = { 0, 300 * 1000 * 1000 };
    write(1, "x", 1);
    nanosleep(&t, 0);
    write(1, "microvmm: pid 3 was killed\n", 27);
    return 0;
}
