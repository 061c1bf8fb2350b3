/* A process that waits for ever: it reads a pipe whose only writer is
 * itself. Linux would hang; the guest kernel sees that no process can
 * ever run again and ends it (SIGKILL), saying why. */
#include <unistd.h>

int main(void)
{
	int p[2];
	char c;
	if (pipe(p) != 0)
		return 1;
	return (int)read(p[0], &c, 1);
}
