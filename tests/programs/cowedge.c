/* Copy-on-write at its edges (guest/kernel/src/mm/cow.rs). Modes:
 *   share     heap, bss, data and mmap pages shared by fork: each side sees
 *             only its own writes; the kernel's writes into a shared page
 *             (uname into a buffer) land in the writer's copy and are seen
 *             through the process's next read (under PVM a missing TLB
 *             flush left them invisible); mprotect of a shared page, a
 *             read-only shared page made writable, and munmap in the child
 *             leave the parent's bytes alone.
 *   eat MIB   the child writes all of a MIB heap the parent still maps,
 *             with too little RAM for the copies: the child dies cleanly
 *             (out of memory), the parent's bytes are intact.
 *   sparse N  one page in each of N 2 MiB blocks: the child would need N
 *             page tables, more than RAM has left, so fork fails with
 *             ENOMEM and the parent's pages (made copy-on-write on the
 *             way) still work.
 * Prints one "cowedge: ..." line; exit 0 when every check held. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
static char bss[64 * PG];
static char data[8 * PG] = {1};

/* Is every 1 KiB step of [p, p+n) the byte v? */
static int all(const char *p, size_t n, char v)
{
	for (size_t i = 0; i < n; i += PG / 4)
		if (p[i] != v)
			return 0;
	return 1;
}

static int share(void)
{
	size_t heapn = 4 << 20;
	int pages = 64;
	char *heap = malloc(heapn);
	char *map = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap || map == MAP_FAILED || ro == MAP_FAILED)
		return printf("cowedge: no memory to start with\n"), 1;
	memset(heap, 'a', heapn);
	memset(bss, 'b', sizeof bss);
	memset(data, 'd', sizeof data);
	memset(map, 'm', pages * PG);
	memset(ro, 'r', 4 * PG);
	mprotect(ro, 4 * PG, PROT_READ);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		int ok = all(heap, heapn, 'a') && all(bss, sizeof bss, 'b');
		memset(heap, 'c', heapn / 2);
		memset(bss, 'C', sizeof bss);
		memset(data, 'D', sizeof data);
		/* The kernel writes into shared pages, each read first so a
		 * translation of the shared frame is cached. */
		int stale = 0;
		for (int i = 0; i < pages; i++) {
			volatile char seen = map[i * PG];
			(void)seen;
			struct utsname *u = (struct utsname *)(map + i * PG + 64);
			if (uname(u) != 0 || strcmp(u->sysname, "Linux") != 0)
				stale++;
		}
		/* A shared page made read-only, then writable again, then written. */
		char *h = heap + heapn - 2 * PG;
		mprotect(h, 2 * PG, PROT_READ);
		mprotect(h, 2 * PG, PROT_READ | PROT_WRITE);
		h[0] = 'Z';
		/* A read-only shared page made writable and written. */
		mprotect(ro, 4 * PG, PROT_READ | PROT_WRITE);
		ro[0] = 'W';
		munmap(heap + heapn / 2, 16 * PG);
		ok &= all(heap, heapn / 2, 'c') && all(bss, sizeof bss, 'C') &&
		      all(data, sizeof data, 'D') && h[0] == 'Z' && ro[0] == 'W' &&
		      all(ro + PG, 3 * PG, 'r') && stale == 0;
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	/* The parent writes too, while the child still shares. */
	memset(heap + heapn / 4 * 3, 'P', heapn / 8);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return perror("waitpid"), 1;
	int child = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	int parent = all(heap, heapn / 4 * 3, 'a') && all(heap + heapn / 4 * 3, heapn / 8, 'P') &&
		     all(heap + heapn / 8 * 7, heapn / 8, 'a') && all(bss, sizeof bss, 'b') &&
		     all(data, sizeof data, 'd') && all(map, pages * PG, 'm') && all(ro, 4 * PG, 'r');
	printf("cowedge: share: child %s, parent %s\n", child ? "ok" : "BAD", parent ? "ok" : "BAD");
	return !(child && parent);
}

static int eat(size_t mib)
{
	size_t n = mib << 20;
	char *heap = malloc(n);
	if (!heap)
		return printf("cowedge: no memory to start with\n"), 1;
	memset(heap, 'a', n);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		/* volatile: a memset just before _exit may be optimised away. */
		volatile char *v = heap;
		for (size_t i = 0; i < n; i += PG)
			v[i] = 'X';
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return perror("waitpid"), 1;
	int intact = all(heap, n, 'a');
	printf("cowedge: eat: child %s, parent's pages %s\n",
	       WIFSIGNALED(status) ? "killed" : "not killed", intact ? "intact" : "CHANGED");
	return !(WIFSIGNALED(status) && intact);
}

static int sparse(long blocks)
{
	char *m = mmap(0, (blocks + 1) << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return printf("cowedge: no memory to start with\n"), 1;
	for (long i = 0; i < blocks; i++)
		m[i << 21] = (char)i;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	int err = errno;
	if (pid > 0)
		waitpid(pid, 0, 0);
	int ok = 1;
	for (long i = 0; i < blocks; i++)
		ok &= m[i << 21] == (char)i;
	for (long i = 0; i < blocks; i++)
		m[i << 21] = (char)(i + 1);
	for (long i = 0; i < blocks; i++)
		ok &= m[i << 21] == (char)(i + 1);
	printf("cowedge: sparse: fork %s, parent's pages %s\n",
	       pid < 0 && err == ENOMEM ? "ENOMEM" : "did not fail", ok ? "ok" : "BAD");
	return !(pid < 0 && err == ENOMEM && ok);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "share";
	long n = argc > 2 ? atol(argv[2]) : 0;
	if (strcmp(mode, "eat") == 0)
		return eat(n);
	if (strcmp(mode, "sparse") == 0)
		return sparse(n);
	return share();
}
