/* Deadlines: absolute timespecs on CLOCK_MONOTONIC or CLOCK_REALTIME. */
#ifndef F2_INTERNAL_TIME_H
#define F2_INTERNAL_TIME_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "compiler.h"

#define F2_NSEC_PER_SEC 1000000000L

/* 0 if ts is a valid timespec, else -EINVAL (as the kernel's timespec64_valid). */
static inline int f2_timespec_check(const struct timespec *ts)
{
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= F2_NSEC_PER_SEC)
		return -EINVAL;
	return 0;
}

static inline int f2_clock_check(clockid_t clk)
{
	return (clk == CLOCK_MONOTONIC || clk == CLOCK_REALTIME) ? 0 : -EINVAL;
}

/* 0 or -EINVAL for a deadline argument pair; a NULL deadline needs no clock. */
static inline int f2_deadline_check(const struct timespec *abs, clockid_t clk)
{
	if (!abs)
		return 0;
	if (f2_clock_check(clk))
		return -EINVAL;
	return f2_timespec_check(abs);
}

static inline int f2_timespec_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* clock.c: clock_gettime failed (where the vDSO cannot serve the clock it
 * makes a system call, which a seccomp filter may forbid). Reads the coarse
 * clock of the same base instead, which the vDSO serves from memory; 0, or -1
 * if that fails too. */
f2_hidden int f2_clock_read_slow(clockid_t clk, struct timespec *ts);
/* clock.c: the last time f2_now_ns returned in this thread; without a
 * clock, f2_now_ns counts on from it, 1 us per call (see there). */
extern f2_hidden __thread __attribute__((tls_model("initial-exec"))) uint64_t f2_clock_last;

/* 0, or -1 if no clock of clk's base can be read. */
static inline int f2_clock_read(clockid_t clk, struct timespec *ts)
{
	if (f2_likely(clock_gettime(clk, ts) == 0))
		return 0;
	return f2_clock_read_slow(clk, ts);
}

/* Nonzero once clock clk has reached abs. Without a clock, never: a timed
 * wait then ends when the kernel's timer does, or when its condition holds,
 * never early. */
static inline int f2_deadline_passed(const struct timespec *abs, clockid_t clk)
{
	struct timespec now;

	if (f2_clock_read(clk, &now))
		return 0;
	return f2_timespec_cmp(&now, abs) >= 0;
}

/* clk in ns, for spins, hand-off delays and bounded sleeps. Every loop that
 * waits for this to pass a value it read before ends, with or without a
 * clock, and a deadline built on it comes no later than meant (clock.c). */
static inline uint64_t f2_now_ns(clockid_t clk)
{
	struct timespec now;

	if (f2_unlikely(f2_clock_read(clk, &now)))
		return f2_clock_last += 1000;
	return f2_clock_last = (uint64_t)now.tv_sec * F2_NSEC_PER_SEC + (uint64_t)now.tv_nsec;
}

#endif
