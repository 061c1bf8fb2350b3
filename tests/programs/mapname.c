/* Leaves files mapped at exit, for the report to name them: the kernel
 * names the first 4 files mapped among those still mapped (by the mmap
 * call that made each region, so the pieces mprotect leaves keep it).
 *
 *   /tmp/gone.txt     mapped, then unmapped: its name goes, its slot frees
 *   /tmp/mapped.txt   3 pages MAP_PRIVATE rw, the first written (copied),
 *                     the middle made read-only: 3 regions, one name
 *   /tmp/shared.txt   1 page MAP_SHARED rw, written
 *   /tmp/deep/xx..x-end.txt  MAP_SHARED r: a path of 134 bytes, cut to its
 *                     last 117 after "..."
 *   /tmp/fourth.txt   named in the slot gone.txt left
 *   /tmp/fifth.txt    mapped while four are named: unnamed
 *
 * A forked child checks the mappings and exits with them (its report
 * names them too); the parent waits, prints one line and exits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

/* Create `path` with `pages` pages of `c` and map it: the address, or
 * NULL (and a line saying why). */
static char *map(const char *path, int pages, char c, int prot, int flags)
{
	char pg[PG];
	char *p;
	int fd, i;

	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0) {
		printf("mapname: cannot create %s\n", path);
		return NULL;
	}
	memset(pg, c, sizeof pg);
	for (i = 0; i < pages; i++)
		if (write(fd, pg, sizeof pg) != sizeof pg) {
			printf("mapname: cannot write %s\n", path);
			return NULL;
		}
	p = mmap(NULL, (size_t)pages * PG, prot, flags, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		printf("mapname: cannot map %s\n", path);
		return NULL;
	}
	return p;
}

int main(void)
{
	char deep[200];
	char *gone, *priv, *shared, *lng, *fourth, *fifth;
	int status;
	pid_t pid;

	mkdir("/tmp/deep", 0755);
	strcpy(deep, "/tmp/deep/");
	memset(deep + 10, 'x', 116);
	strcpy(deep + 126, "-end.txt");

	gone = map("/tmp/gone.txt", 1, 'g', PROT_READ, MAP_SHARED);
	priv = map("/tmp/mapped.txt", 3, 'm', PROT_READ | PROT_WRITE, MAP_PRIVATE);
	shared = map("/tmp/shared.txt", 1, 's', PROT_READ | PROT_WRITE, MAP_SHARED);
	lng = map(deep, 1, 'l', PROT_READ, MAP_SHARED);
	if (!gone || !priv || !shared || !lng || munmap(gone, PG) != 0)
		return 1;
	fourth = map("/tmp/fourth.txt", 2, '4', PROT_READ, MAP_PRIVATE);
	fifth = map("/tmp/fifth.txt", 1, '5', PROT_READ, MAP_SHARED);
	if (!fourth || !fifth)
		return 1;

	priv[0] = 'P';
	shared[0] = 'S';
	if (mprotect(priv + PG, PG, PROT_READ) != 0) {
		printf("mapname: mprotect failed\n");
		return 1;
	}
	if (priv[PG] != 'm' || priv[2 * PG] != 'm' || lng[0] != 'l' || fourth[PG] != '4' || fifth[0] != '5') {
		printf("mapname: the mappings do not show the files\n");
		return 1;
	}

	pid = fork();
	if (pid == 0)
		_exit(priv[0] == 'P' && shared[0] == 'S' ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) {
		printf("mapname: the child failed\n");
		return 1;
	}
	printf("mapname: 6 files mapped, 5 left mapped\n");
	return 0;
}
