/* tests/gdb.rs: runs until stopped, so gdb's Ctrl-C finds it running. */
int main(void) {
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
