/* Compiled once per public header (F2SYNC_TEST_HEADER names it) with
 * -std=c11 -pedantic -Wall -Wextra -Werror: each header must stand alone and
 * survive a second inclusion. */
#include F2SYNC_TEST_HEADER
#include F2SYNC_TEST_HEADER

int f2_header_test_anchor(void);
int f2_header_test_anchor(void)
{
	return 0;
}
