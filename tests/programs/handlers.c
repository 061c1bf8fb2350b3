/* Signal handlers, delivered: a child woken from pause() by its parent's
 * SIGUSR1 runs its handler and exits 3; SIGCHLD handlers count children;
 * a blocked signal sent to oneself waits for sigprocmask to unblock it;
 * raise() runs a handler; sigsuspend returns EINTR after the handler;
 * SA_RESETHAND runs the handler once; a handler leaves the interrupted
 * code's registers, stack and floating point intact; abort() still ends
 * with SIGABRT (134); a hostile handler address or sigreturn frame ends
 * the process with SIGSEGV. One line per check. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_usr2, children, last_sig;
static volatile int si_ok;

static void on_usr1(int sig) { got_usr1++; last_sig = sig; }
static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_usr2++;
	if (si->si_signo == sig && (si->si_code == SI_USER || si->si_code == SI_TKILL) && si->si_pid == getpid())
		si_ok = 1;
}
static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == CLD_EXITED && si->si_status == 5)
		children++;
}

static char alt[65536];
static volatile int on_alt;
static void on_alt_stack(int sig)
{
	char here;
	(void)sig;
	on_alt = &here >= alt && &here < alt + sizeof alt;
}

static void check(const char *what, int ok)
{
	printf("%s %s\n", what, ok ? "ok" : "FAILED");
	fflush(stdout);
}

int main(void)
{
	/* 1: pause in a child, woken by the parent's SIGUSR1. */
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR1, on_usr1);
		while (!got_usr1)
			pause();
		_exit(got_usr1 == 1 ? 3 : 4);
	}
	int st = 0;
	for (int i = 0; i < 20; i++)
		usleep(10000); /* let the child reach pause */
	kill(c, SIGUSR1);
	check("pause-wakeup", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);

	/* 2: SIGCHLD handler counts three children. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGCHLD, &sa, 0);
	for (int i = 0; i < 3; i++) {
		pid_t k = fork();
		if (k == 0)
			_exit(5);
		while (waitpid(k, &st, 0) < 0 && errno == EINTR)
			;
	}
	check("sigchld-count", children == 3);
	signal(SIGCHLD, SIG_DFL);

	/* 3: blocked, sent to self, nothing; unblocked, the handler runs. */
	signal(SIGUSR1, on_usr1);
	got_usr1 = 0;
	sigset_t m, old;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, &old);
	kill(getpid(), SIGUSR1);
	int before = got_usr1;
	sigset_t pend;
	sigpending(&pend);
	sigprocmask(SIG_SETMASK, &old, 0);
	check("mask-then-unblock", before == 0 && got_usr1 == 1);

	/* 4: raise with an SA_SIGINFO handler, siginfo filled. */
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, 0);
	raise(SIGUSR2);
	check("raise-handler", got_usr2 == 1 && si_ok);

	/* 5: sigsuspend with SIGUSR1 blocked, the child's kill wakes it. */
	sigprocmask(SIG_BLOCK, &m, &old);
	got_usr1 = 0;
	pid_t parent = getpid();
	c = fork();
	if (c == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	sigset_t wait_mask = old;
	sigdelset(&wait_mask, SIGUSR1);
	int r = sigsuspend(&wait_mask);
	int e = errno;
	sigset_t now;
	sigprocmask(SIG_SETMASK, 0, &now);
	check("sigsuspend-eintr", r == -1 && e == EINTR && got_usr1 == 1 && sigismember(&now, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, 0);
	waitpid(c, &st, 0);

	/* 6: SA_RESETHAND: the handler once, then the default (ignored here
	 * for SIGCHLD-like? no: SIGURG's default is ignore). */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGURG, &sa, 0);
	got_usr1 = 0;
	raise(SIGURG);
	raise(SIGURG);
	struct sigaction now_sa;
	sigaction(SIGURG, 0, &now_sa);
	check("resethand", got_usr1 == 1 && now_sa.sa_handler == SIG_DFL && last_sig == SIGURG);

	/* 7: locals, callee-saved registers and floating point survive. */
	volatile double d = 1.5;
	volatile long a = 0x1234567890L, b = -77;
	double x = d * 3.0;
	got_usr1 = 0;
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < 100; i++) {
		raise(SIGUSR1);
		x = x * 1.0 + 0.0;
	}
	check("context-restored", got_usr1 == 100 && a == 0x1234567890L && b == -77 && x == 4.5 && d == 1.5);

	/* 8: abort still ends with SIGABRT, even with a handler that returns. */
	c = fork();
	if (c == 0) {
		signal(SIGABRT, on_usr1);
		abort();
	}
	waitpid(c, &st, 0);
	check("abort-sigabrt", WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	/* 9: SA_ONSTACK runs the handler on the sigaltstack. */
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
	sigaltstack(&ss, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alt_stack;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, 0);
	raise(SIGUSR2);
	check("altstack", on_alt);

	/* 10: hostile: a handler outside the user half, and rt_sigreturn
	 * of a frame whose rip is not canonical: SIGSEGV, the kernel goes on. */
	c = fork();
	if (c == 0) {
		unsigned long act[4] = {0x800000000000UL, 0x04000000UL, (unsigned long)on_usr1, 0};
		syscall(SYS_rt_sigaction, SIGUSR1, act, 0, 8);
		raise(SIGUSR1);
		_exit(0);
	}
	waitpid(c, &st, 0);
	int bad_handler = WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
	c = fork();
	if (c == 0) {
		static unsigned long frame[64];
		frame[22] = 0x800000000000UL; /* sigcontext rip */
		frame[21] = (unsigned long)&frame[60];
		__asm__ volatile("mov %0, %%rsp; mov $15, %%eax; syscall"
				 :
				 : "r"(&frame[1])
				 : "memory");
		_exit(0);
	}
	waitpid(c, &st, 0);
	check("hostile-segv", bad_handler && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	(void)pend;
	return 0;
}
