/* Executes ud2 (__builtin_trap): killed by #UD, which a shell reports as
 * SIGILL (status 132). */
int main(void)
{
	__builtin_trap();
}
