/* Unknown system calls must return -ENOSYS (38) and nothing worse. 999 is
 * below microvmm's extensions (1000 and up), 5000 is above them; neither
 * is a Linux system call. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	long numbers[] = { 999, 5000 };
	for (int i = 0; i < 2; i++) {
		errno = 0;
		long r = syscall(numbers[i], 1, 2, 3);
		printf("syscall %ld returns %ld\n", numbers[i], r < 0 ? (long)-errno : r);
	}
	return 0;
}
