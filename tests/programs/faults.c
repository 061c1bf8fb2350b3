// Faults a program catches: SIGSEGV (nothing mapped, and a read-only
// page written), SIGFPE (integer divide by zero) and SIGILL (ud2), each
// handled with SA_SIGINFO by a handler that steps the interrupted rip
// past the 2- or 3-byte faulting instruction and returns, as Go's
// nil-dereference panic edits the context it returns to. Prints si_code
// and whether si_addr is right; the same on Linux. "blocked" blocks
// SIGSEGV first: Linux then ends the process (status 139) all the same.
// Last, handlers left by siglongjmp rather than returning, three times
// and then from a fault: each later signal runs its handler again.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;
static volatile long skip;

static void on_fault(int sig, siginfo_t *si, void *p) {
    ucontext_t *uc = p;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    uc->uc_mcontext.gregs[REG_RIP] += skip;
}

static void show(const char *what, const char *code_name, int code, int addr_right) {
    printf("%s: sig %d code %d (%s %d) si_addr right: %s\n", what, got_sig, got_code, code_name,
           code, addr_right ? "yes" : "no");
    got_sig = 0;
}

static sigjmp_buf env;
static volatile int jumps;

static void jump_out(int sig) {
    (void)sig;
    jumps++;
    siglongjmp(env, 1);
}

/* A handler left by siglongjmp is over: the next signal runs it again. */
static void longjumps(void) {
    signal(SIGUSR1, jump_out);
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(env, 1) == 0) {
            raise(SIGUSR1);
        }
    }
    signal(SIGSEGV, jump_out);
    if (sigsetjmp(env, 1) == 0) {
        *(volatile int *)24 = 1;
    }
    printf("siglongjmp: the handlers ran %d times (want 4)\n", jumps);
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSEGV, &sa, 0) | sigaction(SIGFPE, &sa, 0) | sigaction(SIGILL, &sa, 0)) {
        perror("sigaction");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "blocked") == 0) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, 0);
        printf("blocked: reading address 16\n");
        fflush(stdout);
        return *(volatile int *)16;
    }
    // mov (%rax), %eax: 2 bytes.
    skip = 2;
    uintptr_t a = 16;
    __asm__ volatile("mov (%0), %%eax" : : "r"(a) : "rax", "memory");
    show("null", "SEGV_MAPERR", SEGV_MAPERR, got_addr == 16);
    char *ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // movb $1, (%rax): 3 bytes.
    skip = 3;
    __asm__ volatile("movb $1, (%0)" : : "a"(ro + 100) : "memory");
    show("readonly", "SEGV_ACCERR", SEGV_ACCERR, got_addr == (uintptr_t)ro + 100);
    // div %ecx: 2 bytes; si_addr is the instruction.
    skip = 2;
    uintptr_t at;
    __asm__ volatile("lea 0f(%%rip), %0\n\txor %%edx, %%edx\n\tmov $7, %%eax\n\txor %%ecx, %%ecx\n"
                     "0:\tdiv %%ecx"
                     : "=&r"(at)
                     :
                     : "rax", "rcx", "rdx");
    show("div", "FPE_INTDIV", FPE_INTDIV, got_addr == at);
    __asm__ volatile("lea 0f(%%rip), %0\n0:\tud2" : "=r"(at));
    show("ud2", "ILL_ILLOPN", ILL_ILLOPN, got_addr == at);
    // The handler returned through rt_sigreturn: a second fault is caught too.
    skip = 2;
    a = 8;
    __asm__ volatile("mov (%0), %%eax" : : "r"(a) : "rax", "memory");
    show("again", "SEGV_MAPERR", SEGV_MAPERR, got_addr == 8);
    longjumps();
    return 0;
}
