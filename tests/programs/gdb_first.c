/* tests/gdb.rs: the program gdb stops in (break main). It lets
 * gdb_second end only after it went past main, so both are alive at the
 * breakpoint, whatever the scheduler does. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int counter;

int main(void) {
    counter = 41;
    counter++;
    printf("gdb_first counter %d\n", counter);
    close(open("/gdb-first-went-on", O_CREAT | O_WRONLY, 0644));
    return 0;
}
