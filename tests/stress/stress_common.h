/* Helpers for the time-boxed stress suites. */
#ifndef F2_STRESS_COMMON_H
#define F2_STRESS_COMMON_H

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Each stress run lasts this long per thread count. */
#define STRESS_NS 1000000000LL

static const unsigned stress_threads[] = { 2, 8, 64 };

static inline long long stress_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline struct timespec stress_deadline(clockid_t clk, long long ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	long long v = (long long)t.tv_nsec + ns;
	t.tv_sec += v / 1000000000LL;
	t.tv_nsec = v % 1000000000LL;
	return t;
}

static inline void stress_run(unsigned n, void *(*fn)(void *), void *args, size_t argsize)
{
	pthread_t t[64];
	ck_assert_uint_le(n, 64);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fn, (char *)args + i * argsize), 0);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}

#endif
