/* A hostile user program: system calls with random numbers and arguments,
 * pointers into the kernel, unmapped, wrapping and huge ranges, and
 * brk/mmap/mprotect/munmap games. The kernel must survive it, other
 * processes must finish, and every frame must come back. It checks, too,
 * that syscalls handed a kernel address answer -EFAULT instead of reading
 * or writing the kernel. Deterministic: a fixed seed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* Arguments worth trying: small numbers, kernel and unmapped addresses,
 * addresses that wrap, huge lengths, and real memory of our own. */
static long arg(void *own)
{
	static const uint64_t special[] = {
		0, 1, 4096, 0xffffffff80000000ull, 0xffffffff80100000ull,
		0xfffffffffffff000ull, 0xffffffffffffffffull, 0x00007fffffffffffull,
		0x0000800000000000ull, 0x7fffffff, 0x80000000ull, 1ull << 40,
	};
	switch (rnd() % 4) {
	case 0: return (long)special[rnd() % (sizeof special / sizeof *special)];
	case 1: return (long)(rnd() % 64);
	case 2: return (long)own + (long)(rnd() % 8192) - 4096;
	default: return (long)rnd();
	}
}

static int failures;

static void expect_efault(const char *what, long r)
{
	if (r != -EFAULT && r != -1) {
		printf("sysfuzz: %s with a kernel pointer returned %ld, not -EFAULT\n", what, r);
		failures++;
	}
	if (r == -1 && errno != EFAULT) {
		printf("sysfuzz: %s with a kernel pointer: errno %d, not EFAULT\n", what, errno);
		failures++;
	}
}

int main(void)
{
	/* A sandbox of our own for the random pointers: the games may unmap
	 * or protect it, but not our code, data or stack. */
	char *own = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (own == MAP_FAILED)
		return 2;
	own += 1 << 19;
	void *kernel = (void *)0xffffffff80100000ull;
	/* Reading the kernel through a syscall: never. */
	expect_efault("write", syscall(SYS_write, 1, kernel, 16));
	expect_efault("writev", syscall(SYS_writev, 1, kernel, 1));
	expect_efault("uname", syscall(SYS_uname, kernel));
	expect_efault("clock_gettime", syscall(SYS_clock_gettime, 0, kernel));
	expect_efault("getrandom", syscall(SYS_getrandom, kernel, 16, 0));
	expect_efault("arch_prctl GET_FS", syscall(SYS_arch_prctl, 0x1003, kernel));

	/* Memory games. */
	for (int i = 0; i < 200; i++) {
		long len = (long)(rnd() % (1 << 22));
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			if (len > 0)
				((volatile char *)p)[rnd() % len] = 1;
			mprotect(p, len / 2, PROT_READ);
			munmap((char *)p + 4096, len / 3);
			if (rnd() % 2)
				munmap(p, len);
		}
		syscall(SYS_mprotect, (long)own + (long)(rnd() % (1 << 19)), arg(own), rnd() % 8);
		syscall(SYS_munmap, 0xffffffff80000000ull + (rnd() % (1 << 20)) * 4096, arg(own));
		syscall(SYS_mmap, 0xffffffff80000000ull, arg(own), rnd() % 8, 0x32, -1, 0);
		syscall(SYS_mmap, 0xfffffffffffff000ull, 8192, 3, 0x32, -1, 0);
	}

	/* Random calls. Skipped: exit (it would end the fuzzing), the
	 * sleeps and waits (a random timespec can ask for years; poll and
	 * select with nothing ready wait out their timeout, -1 for ever;
	 * pause and sigsuspend wait for a signal nobody sends),
	 * the calls that would close or replace its own stdout (close, dup2,
	 * dup3: the final line must get out), and those that make processes
	 * or pipes, which a blocking read or write could wait on for ever. */
	for (int i = 0; i < 20000; i++) {
		long nr = (long)(rnd() % 340);
		if (nr == SYS_exit || nr == SYS_exit_group || nr == SYS_nanosleep ||
		    nr == SYS_clock_nanosleep || nr == SYS_poll || nr == SYS_pause || nr == SYS_kill ||
		    nr == SYS_tkill || nr == SYS_tgkill || nr == SYS_rt_sigreturn || nr == SYS_rt_sigsuspend ||
		    nr == SYS_select || nr == SYS_pselect6 || nr == SYS_ppoll || nr == SYS_close ||
		    nr == SYS_dup2 || nr == SYS_dup3 || nr == SYS_close_range || nr == SYS_pipe ||
		    nr == SYS_pipe2 || nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone ||
		    nr == SYS_clone3 || nr == SYS_execve || nr == SYS_execveat || nr == SYS_wait4 ||
		    nr == SYS_waitid)
			continue;
		if (rnd() % 8 == 0)
			nr = 1000 + (long)(rnd() % 4); /* microvmm's extensions */
		/* Memory calls keep to the sandbox and the hostile addresses. */
		if (nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_mmap || nr == SYS_brk ||
		    nr == SYS_mremap || nr == SYS_madvise) {
			long a = rnd() % 2 ? (long)own + (long)(rnd() % (1 << 19)) - (1 << 18)
					   : (long)0xffffffff80000000ull;
			syscall(nr, a & ~4095l, (long)(rnd() % (1 << 18)), rnd() % 8, 0x22, -1, 0);
			continue;
		}
		syscall(nr, arg(own), arg(own), arg(own), arg(own), arg(own), arg(own));
	}
	/* The VMM reads the last pattern back at exit. A random one may lie
	 * in memory a later random call rewrote (sigaltstack, clock_gettime
	 * and others write through their pointers, as on Linux), which would
	 * be the fuzzer harming itself, not a translation error: end with one
	 * nothing else touches. */
	static volatile uint64_t mark;
	syscall(1002, &mark, 0x5eedull);
	printf("sysfuzz: done, %d failures\n", failures);
	return failures != 0;
}
