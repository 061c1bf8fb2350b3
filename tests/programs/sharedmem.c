/* Memory a parent shares with its children on purpose: an anonymous
 * MAP_SHARED counter that four children each add 1000 to (atomically),
 * and a MAP_SHARED file mapping a child writes and the parent reads back
 * with read(2). After fork these pages must stay shared, not become
 * copy-on-write copies. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	long *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counter == MAP_FAILED) {
		perror("mmap anonymous shared");
		return 1;
	}
	for (int k = 0; k < 4; k++) {
		if (fork() == 0) {
			for (int i = 0; i < 1000; i++)
				__atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	int fd = open("/tmp/shared.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		perror("file");
		return 1;
	}
	char *file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (file == MAP_FAILED) {
		perror("mmap file shared");
		return 1;
	}
	if (fork() == 0) {
		strcpy(file, "written by the child");
		_exit(0);
	}
	wait(NULL);
	char buf[32] = {0};
	pread(fd, buf, sizeof buf - 1, 0);
	printf("sharedmem: counter %ld, file says \"%s\"\n", *counter, buf);
	return !(*counter == 4000 && strcmp(buf, "written by the child") == 0);
}
