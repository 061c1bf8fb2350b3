/* The RAM file system's bounds, as a hostile program meets them: a file
 * that fills it (ENOSPC, while memory for processes is left), more files
 * than the node table holds, bad pointers (EFAULT), a path with no NUL in
 * PATH_MAX bytes and a name over NAME_MAX (ENAMETOOLONG), a chain of 41
 * symlinks (ELOOP), a deep directory tree for getcwd, renaming a
 * directory into itself (EINVAL). One line per check; exits 1 on any
 * failure. Everything it makes is left behind: the kernel gives the
 * frames back at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
	static char chunk[1 << 20];
	static char path[8192];
	char buf[256];
	long total = 0, n;
	int fd, i, ok;

	/* Fill the file system. */
	memset(chunk, 'x', sizeof chunk);
	fd = open("/tmp/fill", O_CREAT | O_WRONLY, 0600);
	for (;;) {
		n = write(fd, chunk, sizeof chunk);
		if (n <= 0)
			break;
		total += n;
	}
	check("fill_enospc", n < 0 && errno == ENOSPC && total > (8 << 20), "writing until ENOSPC");
	printf("filled %ld MiB\n", total >> 20);
	{
		/* Processes still get memory. */
		char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ok = p != MAP_FAILED;
		for (i = 0; ok && i < 16 << 20; i += 4096)
			p[i] = 1;
		check("memory_left", ok, "16 MiB of anonymous memory after the fill");
	}
	check("enospc_mkdir_or_ok", mkdir("/tmp/afterfill", 0755) == 0 || errno == ENOSPC, "mkdir when full");
	check("truncate_frees", ftruncate(fd, 0) == 0 && write(fd, chunk, sizeof chunk) == sizeof chunk,
	      "space comes back after ftruncate");
	close(fd);
	check("unlink_fill", unlink("/tmp/fill") == 0, "unlink the fill");

	/* The node table. */
	mkdir("/tmp/n", 0755);
	for (i = 0; i < 10000; i++) {
		snprintf(buf, sizeof buf, "/tmp/n/%d", i);
		fd = open(buf, O_CREAT | O_WRONLY, 0600);
		if (fd < 0)
			break;
		close(fd);
	}
	check("nodes_enospc", i < 10000 && i > 1000 && errno == ENOSPC, "more files than nodes");
	printf("made %d files\n", i);
	snprintf(buf, sizeof buf, "/tmp/n/%d", i - 1);
	check("node_back", unlink(buf) == 0 && (fd = open(buf, O_CREAT | O_WRONLY, 0600)) >= 0, "a node comes back");
	close(fd);
	{
		int made = i, j;
		for (j = 1, ok = 1; j < made; j++) {
			snprintf(buf, sizeof buf, "/tmp/n/%d", j);
			ok &= unlink(buf) == 0;
		}
		check("nodes_unlink", ok, "unlink them all");
	}

	/* Bad pointers and lengths. */
	check("efault_open", syscall(SYS_open, (char *)8, O_RDONLY) < 0 && errno == EFAULT, "open of a bad pointer");
	check("efault_kernel", syscall(SYS_open, (char *)0xffffffff80100000ul, O_RDONLY) < 0 && errno == EFAULT,
	      "open of a kernel pointer");
	fd = open("/tmp/n/0", O_RDWR);
	check("efault_write", write(fd, (char *)8, 10) < 0 && errno == EFAULT, "write from a bad pointer");
	check("efault_read", write(fd, "abc", 3) == 3 && pread(fd, (char *)8, 3, 0) < 0 && errno == EFAULT,
	      "read into a bad pointer");
	check("efault_getdents", syscall(SYS_getdents64, open("/tmp", O_RDONLY), (char *)8, 4096) < 0 &&
	      errno == EFAULT, "getdents64 into a bad pointer");
	check("einval_getdents", syscall(SYS_getdents64, open("/tmp", O_RDONLY), buf, 8) < 0 && errno == EINVAL,
	      "getdents64 into 8 bytes");
	check("enotdir_getdents", syscall(SYS_getdents64, fd, buf, sizeof buf) < 0 && errno == ENOTDIR,
	      "getdents64 of a file");
	close(fd);
	memset(path, 'a', sizeof path);
	check("long_path", open(path, O_RDONLY) < 0 && errno == ENAMETOOLONG, "no NUL in 8 KiB");
	path[300] = 0;
	check("long_name", open(path, O_RDONLY) < 0 && errno == ENAMETOOLONG, "a 300-byte name");
	check("getcwd_bad", syscall(SYS_getcwd, (char *)8, 100) < 0 && errno == EFAULT, "getcwd into a bad pointer");
	check("readlink_bad", syscall(SYS_readlink, "/tmp", buf, -1) < 0 && errno == EINVAL, "readlink size -1");
	check("bad_dirfd", openat(1000, "x", O_RDONLY) < 0 && errno == EBADF, "openat of a bad dirfd");
	check("file_dirfd", openat(1, "x", O_RDONLY) < 0 && errno == ENOTDIR, "openat from a stream");
	check("empty_path", open("", O_RDONLY) < 0 && errno == ENOENT, "an empty path");

	/* Symlinks: a chain of 40 is followed, 41 is ELOOP. */
	mkdir("/tmp/s", 0755);
	symlink("/tmp/n/0", "/tmp/s/l0");
	for (i = 1; i <= 41; i++) {
		char from[64], to[64];
		snprintf(from, sizeof from, "l%d", i - 1);
		snprintf(to, sizeof to, "/tmp/s/l%d", i);
		symlink(from, to);
	}
	check("chain_40", open("/tmp/s/l39", O_RDONLY) >= 0, "39 links then the file (40 follows)");
	check("chain_41", open("/tmp/s/l41", O_RDONLY) < 0 && errno == ELOOP, "42 follows");

	/* A deep tree: getcwd walks it back up. */
	ok = chdir("/tmp") == 0;
	for (i = 0; ok && i < 100; i++)
		ok = mkdir("dd", 0755) == 0 && chdir("dd") == 0;
	check("deep_mkdir", ok, "100 nested directories");
	check("deep_getcwd", getcwd(path, sizeof path) && strlen(path) == 4 + 100 * 3 &&
	      strncmp(path, "/tmp/dd/dd", 10) == 0, "getcwd 100 deep");
	check("rename_into_self", rename("/tmp/dd", "/tmp/dd/dd/x") < 0 && errno == EINVAL,
	      "a directory into itself");
	check("rmdir_cwd_parent", rmdir("/tmp/dd") < 0 && errno == ENOTEMPTY, "rmdir of a full directory");
	/* Remove the directory we are in: getcwd says ENOENT, creating in it too. */
	check("rmdir_cwd", rmdir(path) == 0, "rmdir the working directory");
	check("cwd_gone", getcwd(buf, sizeof buf) == NULL && errno == ENOENT, "getcwd of a removed directory");
	check("create_in_gone", open("f", O_CREAT | O_WRONLY, 0600) < 0 && errno == ENOENT,
	      "create in a removed directory");
	check("dotdot_from_gone", chdir("..") == 0 && getcwd(path, sizeof path) != NULL &&
	      strlen(path) == 4 + 99 * 3, "chdir .. from it");

	printf("%s\n", failed ? "ramfs_limits: FAILED" : "ramfs_limits: all ok");
	return failed;
}
