/* The clocks and the process's place, as a program sees them: the wall
 * clock three ways (time, gettimeofday, clock_gettime REALTIME), the
 * monotonic clock, the working directory and the parent's pid. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timeval tv;
	struct timespec rt, mono;
	char cwd[64];
	time_t t = time(NULL);
	gettimeofday(&tv, NULL);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	printf("time %lld\n", (long long)t);
	printf("gettimeofday %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
	printf("realtime %lld.%09ld\n", (long long)rt.tv_sec, rt.tv_nsec);
	printf("monotonic %lld.%09ld\n", (long long)mono.tv_sec, mono.tv_nsec);
	printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
	printf("ppid %d\n", (int)getppid());
	return 0;
}
