/* Helpers of the pthread conformance programs that need nothing but libc:
 * the Check suite (conf.h) and the standalone programs (conf_nokeys,
 * conf_seccomp, conf_c11), which cannot use Check. */
#ifndef F2_CONF_PLAIN_H
#define F2_CONF_PLAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A standalone program's assertion: names the failed condition and exits 1. */
#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                 \
		}                                                                \
	} while (0)

/* Clock clk's time ms milliseconds from now. */
static inline struct timespec conf_in(clockid_t clk, long ms)
{
	struct timespec t;

	clock_gettime(clk, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* 1 if clock clk has reached t. */
static inline int conf_reached(clockid_t clk, const struct timespec *t)
{
	struct timespec n;

	clock_gettime(clk, &n);
	return n.tv_sec > t->tv_sec || (n.tv_sec == t->tv_sec && n.tv_nsec >= t->tv_nsec);
}

#endif
