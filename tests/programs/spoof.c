/* A guest program whose output tries to pass for something else: a C1
 * CSI (U+009B, "ESC [" to many terminals), a right-to-left override,
 * Unicode line and paragraph separators, bidi isolates and marks; then
 * it fails (exit 1), so that microvmm prints a line with its name. */
#include <stdio.h>

int main(void)
{
    printf("spoof: \xc2\x9b" "2J cleared?\n");
    printf("spoof: \xe2\x80\xae" "txt.exe" "\xe2\x80\xac" " reversed?\n");
    printf("spoof: one\xe2\x80\xa8" "microvmm: two lines?\xe2\x80\xa9\n");
    printf("spoof: \xe2\x81\xa6" "iso" "\xe2\x81\xa9" " \xe2\x80\x8e" "\xe2\x80\x8f" "\xd8\x9c" "marks\n");
    return 1;
}
