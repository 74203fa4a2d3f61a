/* Deadlines: absolute timespecs on CLOCK_MONOTONIC or CLOCK_REALTIME. */
#ifndef F2_INTERNAL_TIME_H
#define F2_INTERNAL_TIME_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

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

/* Nonzero once clock clk has reached abs. */
static inline int f2_deadline_passed(const struct timespec *abs, clockid_t clk)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return f2_timespec_cmp(&now, abs) >= 0;
}

static inline uint64_t f2_now_ns(clockid_t clk)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return (uint64_t)now.tv_sec * F2_NSEC_PER_SEC + (uint64_t)now.tv_nsec;
}

#endif
