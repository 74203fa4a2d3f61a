/* Last-resort reporting: plain write(2) so it works in any state, even after
 * fork or inside a signal handler. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "die.h"

void f2_warn(const char *msg)
{
	static const char pfx[] = "f2sync: ";
	ssize_t r = write(2, pfx, sizeof pfx - 1);
	r = write(2, msg, strlen(msg));
	r = write(2, "\n", 1);
	(void)r;
}

void f2_die(const char *what)
{
	f2_warn(what);
	abort();
}
