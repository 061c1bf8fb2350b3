/* abort(3) raises SIGABRT at itself (tgkill): the guest must end the
 * process there, with a verdict, and not let it run on. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	printf("about to abort\n");
	fflush(stdout);
	abort();
	printf("still running after abort\n");
	return 0;
}
