/* Last-resort reporting: the write system call itself, so it works in any
 * state, even after fork or inside a signal handler, and (unlike glibc's
 * write, a cancellation point) never unwinds a thread with a cancel pending
 * out of the lock path whose first use warns. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"

void f2_warn(const char *msg)
{
	static const char pfx[] = "f2sync: ";
	(void)syscall(SYS_write, 2, pfx, sizeof pfx - 1);
	(void)syscall(SYS_write, 2, msg, strlen(msg));
	(void)syscall(SYS_write, 2, "\n", 1);
}

void f2_die(const char *what)
{
	f2_warn(what);
	abort();
}
