#ifndef F2_INTERNAL_DIE_H
#define F2_INTERNAL_DIE_H

#include "compiler.h"

/* Reports an internal invariant violation (memory corruption, a misused
 * object) on stderr and aborts. Never used for bad input from the caller:
 * that gets an error code. */
f2_hidden _Noreturn void f2_die(const char *what);

/* Writes a one-line message "f2sync: <msg>" on stderr (async-signal-safe). */
f2_hidden void f2_warn(const char *msg);

#endif
