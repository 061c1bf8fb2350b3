/* tests/gdb.rs: forks, then stops itself with int3 while parent and
 * child share their code frames: a breakpoint there must be refused. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int shared_work(int x) { return x * 2 + 1; }

int main(void) {
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        char c;
        read(fds[0], &c, 1); /* waits until the parent has been stopped */
        printf("child %d\n", shared_work(20));
        return 0;
    }
    __asm__ volatile("int3");
    write(fds[1], "x", 1);
    waitpid(child, 0, 0);
    printf("parent %d\n", shared_work(1));
    return 0;
}
