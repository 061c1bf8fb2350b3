/* mmap of files of the RAM file system: MAP_SHARED stores reach read()
 * and other mappers, write() reaches the mappings, MAP_PRIVATE stores
 * stay private, offsets, msync, munmap, a mapping outliving the file's
 * name and descriptor, and the errors (EACCES, ENODEV, EINVAL, EBADF).
 * One line per check; exits 1 if any failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failed;

static void check(const char *name, int ok, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s (errno %d %s)\n", name, why, errno, strerror(errno));
		failed = 1;
	}
}

int main(void)
{
	char buf[64];
	char *s, *s2, *p, *o;
	int fd, ro, wo, pfd[2], i, ok;

	fd = open("/tmp/m", O_CREAT | O_RDWR | O_TRUNC, 0644);
	/* Three pages: "page0...", "page1...", "page2..." */
	for (i = 0; i < 3; i++) {
		char pg[4096];
		memset(pg, '0' + i, sizeof pg);
		memcpy(pg, "page", 4);
		write(fd, pg, sizeof pg);
	}
	s = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check("map_shared", s != MAP_FAILED, "mmap MAP_SHARED");
	check("sees_file", memcmp(s, "page0000", 8) == 0 && s[2 * 4096 + 5] == '2', "the mapping shows the file");
	memcpy(s + 4096, "STORED", 6);
	check("store_to_read", pread(fd, buf, 6, 4096) == 6 && memcmp(buf, "STORED", 6) == 0,
	      "a store is seen by read()");
	check("write_to_map", pwrite(fd, "WRITTEN", 7, 100) == 7 && memcmp(s + 100, "WRITTEN", 7) == 0,
	      "write() is seen by the mapping");
	s2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
	check("offset_map", s2 != MAP_FAILED && memcmp(s2, "STORED", 6) == 0, "a second mapping at an offset");
	s[4096] = 's';
	check("two_mappers", s2[0] == 's', "one mapper's store is the other's");
	check("msync", msync(s, 3 * 4096, MS_SYNC) == 0, "msync");
	check("msync_einval", msync(s + 1, 4096, MS_SYNC) < 0 && errno == EINVAL, "msync unaligned");

	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	check("map_private", p != MAP_FAILED && p[4096] == 's', "mmap MAP_PRIVATE");
	p[4096] = 'P';
	check("private_store", p[4096] == 'P' && s[4096] == 's' && pread(fd, buf, 1, 4096) == 1 && buf[0] == 's',
	      "a private store stays private");
	check("private_rest_shared", pwrite(fd, "Q", 1, 2 * 4096) == 1 && p[2 * 4096] == 'Q',
	      "untouched private pages still show the file");

	ro = open("/tmp/m", O_RDONLY);
	wo = open("/tmp/m", O_WRONLY);
	check("eacces_shared_ro", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED &&
	      errno == EACCES, "shared writable map of a read-only fd");
	o = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	check("private_ro_ok", o != MAP_FAILED && (o[0] = 'x', o[0] == 'x') && s[0] == 'p',
	      "private writable map of a read-only fd");
	check("eacces_wronly", mmap(NULL, 4096, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED && errno == EACCES,
	      "map of a write-only fd");
	pipe(pfd);
	check("enodev_pipe", mmap(NULL, 4096, PROT_READ, MAP_SHARED, pfd[0], 0) == MAP_FAILED && errno == ENODEV,
	      "map of a pipe");
	check("einval_offset", mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 100) == MAP_FAILED && errno == EINVAL,
	      "unaligned offset");
	check("ebadf", mmap(NULL, 4096, PROT_READ, MAP_SHARED, 99, 0) == MAP_FAILED && errno == EBADF, "bad fd");
	check("enodev_dir", mmap(NULL, 4096, PROT_READ, MAP_SHARED, open("/tmp", O_RDONLY), 0) == MAP_FAILED &&
	      errno == ENODEV, "map of a directory");

	/* The mapping outlives the name and the descriptor. */
	close(fd);
	close(ro);
	close(wo);
	check("unlink", unlink("/tmp/m") == 0, "unlink the mapped file");
	s[0] = 'L';
	check("after_unlink", s[0] == 'L' && s2[0] == 's' && p[0] == 'L', "still mapped after unlink and close");
	check("munmap", munmap(s, 3 * 4096) == 0 && munmap(s2, 4096) == 0 && munmap(p, 3 * 4096) == 0 &&
	      munmap(o, 4096) == 0, "munmap");

	/* A hole gets a frame when mapped; a big mapping of a sparse file. */
	fd = open("/tmp/sparse", O_CREAT | O_RDWR | O_TRUNC, 0644);
	ok = ftruncate(fd, 1 << 20) == 0;
	s = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok = ok && s != MAP_FAILED && s[12345] == 0;
	if (ok)
		s[(1 << 20) - 1] = 'E';
	check("sparse", ok && pread(fd, buf, 1, (1 << 20) - 1) == 1 && buf[0] == 'E', "a sparse file mapped");
	check("truncate_mapped", ftruncate(fd, 0) == 0 && munmap(s, 1 << 20) == 0, "truncate while mapped");
	close(fd);

	printf("%s\n", failed ? "filemap: FAILED" : "filemap: all ok");
	return failed;
}
