/* The RAM file system through the C library: create, write, read back,
 * lseek, rename, list, unlink, mkdir/rmdir, symlink/readlink,
 * chdir/getcwd, and the errors Linux gives. One line per check ("ok
 * NAME" or "FAIL NAME: why"); exits 1 if any check failed. Expects to be
 * run as /ramfs-like /NAME in a root that has /tmp (tests/ramfs.rs). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Whether directory `dir` lists `name`. */
static int lists(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, name) == 0)
			found = 1;
	closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	char buf[256];
	struct stat st;
	int fd;
	ssize_t n;
	(void)argc;

	/* The program itself is a file of the root. */
	snprintf(buf, sizeof buf, "/%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
	check("self_in_root", stat(buf, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000,
	      "stat of the program's own file");
	check("tmp_is_dir", stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode), "stat /tmp");

	fd = open("/tmp/a.txt", O_CREAT | O_EXCL | O_RDWR, 0644);
	check("create", fd >= 0, "open O_CREAT|O_EXCL");
	check("write", write(fd, "hello, world\n", 13) == 13, "write 13 bytes");
	check("lseek_set", lseek(fd, 0, SEEK_SET) == 0, "lseek to 0");
	memset(buf, 0, sizeof buf);
	n = read(fd, buf, sizeof buf);
	check("read_back", n == 13 && memcmp(buf, "hello, world\n", 13) == 0, "read what was written");
	check("read_eof", read(fd, buf, sizeof buf) == 0, "read at the end is 0");
	check("lseek_end", lseek(fd, 0, SEEK_END) == 13, "lseek SEEK_END");
	check("lseek_cur", lseek(fd, -6, SEEK_CUR) == 7, "lseek SEEK_CUR back");
	n = read(fd, buf, 5);
	check("read_mid", n == 5 && memcmp(buf, "world", 5) == 0, "read after lseek");
	check("pread", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0, "pread at 0");
	check("fstat_size", fstat(fd, &st) == 0 && st.st_size == 13 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 0777) == 0644, "fstat size and mode");
	check("excl_exists", open("/tmp/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST,
	      "O_EXCL on an existing file");

	/* A hole: write past the end, the gap reads as zeros. */
	check("pwrite_far", pwrite(fd, "Z", 1, 10000) == 1, "pwrite at 10000");
	check("hole_zero", pread(fd, buf, 4, 5000) == 4 && buf[0] == 0 && buf[3] == 0, "a hole reads zeros");
	check("ftruncate", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate to 5");
	check("grow_zero", ftruncate(fd, 100) == 0 && pread(fd, buf, 10, 3) == 10 && buf[0] == 'l' &&
	      buf[1] == 'o' && buf[2] == 0, "grown bytes read zeros");
	close(fd);

	fd = open("/tmp/a.txt", O_WRONLY | O_APPEND);
	check("append", fd >= 0 && write(fd, "!", 1) == 1 && lseek(fd, 0, SEEK_CUR) == 101, "O_APPEND writes at the end");
	close(fd);
	fd = open("/tmp/a.txt", O_WRONLY | O_TRUNC);
	check("o_trunc", fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties");
	close(fd);

	/* A big file: 3 MiB, two index levels. */
	{
		static char big[1 << 16];
		int i, ok = 1;
		fd = open("/tmp/big", O_CREAT | O_RDWR | O_TRUNC, 0600);
		for (i = 0; i < 48; i++) {
			memset(big, 'a' + i % 26, sizeof big);
			if (write(fd, big, sizeof big) != sizeof big)
				ok = 0;
		}
		check("big_write", ok && fstat(fd, &st) == 0 && st.st_size == 48 << 16, "write 3 MiB");
		check("big_read", pread(fd, big, 16, (47 << 16) + 5) == 16 && big[0] == 'a' + 47 % 26,
		      "read near the end of 3 MiB");
		close(fd);
		check("big_unlink", unlink("/tmp/big") == 0, "unlink the big file");
	}

	/* Names. */
	check("rename", rename("/tmp/a.txt", "/tmp/b.txt") == 0, "rename a.txt -> b.txt");
	check("renamed_gone", access("/tmp/a.txt", F_OK) < 0 && errno == ENOENT, "old name gone");
	check("renamed_there", access("/tmp/b.txt", R_OK | W_OK) == 0, "new name there");
	check("mkdir", mkdir("/tmp/d", 0755) == 0, "mkdir /tmp/d");
	check("mkdir_exists", mkdir("/tmp/d", 0755) < 0 && errno == EEXIST, "mkdir twice");
	check("rename_into_dir", rename("/tmp/b.txt", "/tmp/d/c.txt") == 0, "rename into a directory");
	check("listed", lists("/tmp/d", "c.txt") == 1 && lists("/tmp", "b.txt") == 0 && lists("/tmp", "d") == 1,
	      "readdir sees the moves");
	check("rmdir_notempty", rmdir("/tmp/d") < 0 && errno == ENOTEMPTY, "rmdir of a full directory");
	check("notdir", open("/tmp/d/c.txt/x", O_RDONLY) < 0 && errno == ENOTDIR, "a file as a directory");
	check("enoent", open("/tmp/nope", O_RDONLY) < 0 && errno == ENOENT, "a missing file");
	check("eisdir", open("/tmp/d", O_WRONLY) < 0 && errno == EISDIR, "writing a directory");
	check("o_directory", open("/tmp/d/c.txt", O_RDONLY | O_DIRECTORY) < 0 && errno == ENOTDIR,
	      "O_DIRECTORY on a file");

	/* Symlinks. */
	check("symlink", symlink("d/c.txt", "/tmp/link") == 0, "symlink");
	n = readlink("/tmp/link", buf, sizeof buf);
	check("readlink", n == 7 && memcmp(buf, "d/c.txt", 7) == 0, "readlink gives the target");
	check("lstat_link", lstat("/tmp/link", &st) == 0 && S_ISLNK(st.st_mode), "lstat sees the link");
	check("stat_follows", stat("/tmp/link", &st) == 0 && S_ISREG(st.st_mode), "stat follows it");
	check("nofollow", open("/tmp/link", O_RDONLY | O_NOFOLLOW) < 0 && errno == ELOOP, "O_NOFOLLOW");
	check("loop", symlink("loop", "/tmp/loop") == 0 && open("/tmp/loop", O_RDONLY) < 0 && errno == ELOOP,
	      "a symlink loop is ELOOP");
	check("creat_through_link", symlink("new.txt", "/tmp/dangling") == 0 &&
	      (fd = open("/tmp/dangling", O_CREAT | O_WRONLY, 0600)) >= 0 && write(fd, "n", 1) == 1 &&
	      close(fd) == 0 && stat("/tmp/new.txt", &st) == 0 && st.st_size == 1 &&
	      unlink("/tmp/new.txt") == 0 && unlink("/tmp/dangling") == 0,
	      "O_CREAT through a dangling symlink makes its target");
	check("readlink_file", readlink("/tmp/d/c.txt", buf, sizeof buf) < 0 && errno == EINVAL,
	      "readlink of a file");

	/* The working directory. */
	check("chdir", chdir("/tmp/d") == 0, "chdir /tmp/d");
	check("getcwd", getcwd(buf, sizeof buf) && strcmp(buf, "/tmp/d") == 0, "getcwd is /tmp/d");
	check("relative", access("c.txt", F_OK) == 0 && access("../link", F_OK) == 0, "relative paths");
	check("getcwd_erange", getcwd(buf, 3) == NULL && errno == ERANGE, "getcwd into 3 bytes");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	check("open_dot", fd >= 0, "open . as a directory");
	check("chdir_root", chdir("/") == 0 && getcwd(buf, sizeof buf) && strcmp(buf, "/") == 0, "back to /");
	check("fchdir", fchdir(fd) == 0 && getcwd(buf, sizeof buf) && strcmp(buf, "/tmp/d") == 0, "fchdir");
	close(fd);
	{
		int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
		check("openat", dfd >= 0 && (fd = openat(dfd, "d/c.txt", O_RDONLY)) >= 0, "openat from a dirfd");
		close(fd);
		check("fstatat", fstatat(dfd, "link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
		      "fstatat AT_SYMLINK_NOFOLLOW");
		close(dfd);
	}
	chdir("/");

	/* An unlinked file keeps its bytes while it is open. */
	fd = open("/tmp/d/c.txt", O_RDWR);
	check("write_again", fd >= 0 && write(fd, "kept", 4) == 4, "write to c.txt");
	check("unlink_open", unlink("/tmp/d/c.txt") == 0, "unlink an open file");
	check("gone_by_name", access("/tmp/d/c.txt", F_OK) < 0 && errno == ENOENT, "gone by name");
	check("still_readable", pread(fd, buf, 4, 0) == 4 && memcmp(buf, "kept", 4) == 0, "still readable");
	close(fd);
	check("unlink_link", unlink("/tmp/link") == 0 && unlink("/tmp/loop") == 0, "unlink the symlinks");
	check("rmdir", rmdir("/tmp/d") == 0 && access("/tmp/d", F_OK) < 0, "rmdir the empty directory");
	check("unlink_dir", unlink("/tmp") < 0 && errno == EISDIR, "unlink of a directory");
	check("chmod", chmod("/tmp", 01777) == 0 && stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777,
	      "chmod keeps the mode");
	check("umask", umask(077) == 022 && umask(022) == 077, "umask");
	check("fsync", fsync(1) == 0 && fdatasync(1) == 0, "fsync is a no-op");

	/* Many files in one directory. */
	{
		int i, ok = 1;
		mkdir("/tmp/many", 0755);
		for (i = 0; i < 200 && ok; i++) {
			snprintf(buf, sizeof buf, "/tmp/many/file-with-a-longish-name-%03d", i);
			fd = open(buf, O_CREAT | O_WRONLY, 0644);
			ok = fd >= 0 && write(fd, buf, 10) == 10 && close(fd) == 0;
		}
		check("many_create", ok, "200 files");
		for (i = 0; i < 200 && ok; i++) {
			snprintf(buf, sizeof buf, "/tmp/many/file-with-a-longish-name-%03d", i);
			ok = unlink(buf) == 0;
		}
		check("many_unlink", ok && rmdir("/tmp/many") == 0, "unlink 200 files and rmdir");
	}

	printf("%s\n", failed ? "ramfs: FAILED" : "ramfs: all ok");
	return failed;
}
