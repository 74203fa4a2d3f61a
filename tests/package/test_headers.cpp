// Compiled once per public header (F2SYNC_TEST_HEADER names it) as C++17 with
// -pedantic -Wall -Wextra -Werror: each header must stand alone in C++ too.
#include F2SYNC_TEST_HEADER
#include F2SYNC_TEST_HEADER

int f2_header_test_anchor();
int f2_header_test_anchor()
{
	return 0;
}
