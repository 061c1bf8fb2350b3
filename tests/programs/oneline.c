/* Prints one line while another program is in the middle of one (that
 * one writes half a line, then sleeps 300 ms). */
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct timespec t = { 0, 100 * 1000 * 1000 };
    nanosleep(&t, 0);
    write(1, "oneline: here\n", 14);
    return 0;
}
