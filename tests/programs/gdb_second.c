/* tests/gdb.rs: waits (yielding) until gdb_first has gone past main. */
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    while (access("/gdb-first-went-on", F_OK) != 0)
        sched_yield();
    printf("gdb_second saw gdb_first go on\n");
    return 0;
}
