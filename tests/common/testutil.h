/* Shared helpers for the unit suites. */
#ifndef F2_TESTUTIL_H
#define F2_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* 1 if this kernel (or the kprofile filter around this test) offers
 * futex_waitv (449, Linux 5.16+), probed here with a raw syscall rather than
 * asked of the library. Without it, f2_futex_waitv queues private kernel
 * words in the emulation (src/futex2/guest.c). */
static inline int tu_kernel_has_waitv(void)
{
	return syscall(449, NULL, 0u, 0u, NULL, 0) == 0 || errno != ENOSYS;
}

/* The backend this process was forced to (F2SYNC_BACKEND), "auto" if unset. */
static inline const char *tu_backend(void)
{
	const char *b = getenv("F2SYNC_BACKEND");
	return b && *b ? b : "auto";
}

static inline pid_t tu_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Absolute deadline delta_ns from now on clk (delta may be negative). */
static inline struct timespec tu_deadline(clockid_t clk, int64_t delta_ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	int64_t ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + delta_ns;
	if (ns < 0)
		ns = 0;
	t.tv_sec = ns / 1000000000;
	t.tv_nsec = ns % 1000000000;
	return t;
}

static inline int tu_reached(clockid_t clk, const struct timespec *abs)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > abs->tv_sec || (now.tv_sec == abs->tv_sec && now.tv_nsec >= abs->tv_nsec);
}

static inline void tu_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/* Waits until thread tid sleeps in a futex-family syscall (futex, futex_waitv,
 * futex_wait), as /proc reports it, then a little longer so the sleep is a
 * park and not a passing lock. Gives up after ~10 s (returns 0). */
static inline int tu_wait_parked(pid_t tid)
{
	char path[64], buf[128];
	for (int i = 0; i < 10000; i++) {
		snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
		FILE *f = fopen(path, "r");
		if (f) {
			long nr = -1;
			int ok = fgets(buf, sizeof buf, f) && sscanf(buf, "%ld", &nr) == 1;
			fclose(f);
			if (ok && (nr == SYS_futex || nr == 449 || nr == 455)) {
				tu_sleep_ms(2);
				return 1;
			}
		}
		tu_sleep_ms(1);
	}
	return 0;
}

static inline void tu_store(void *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 0: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST); break;
	case 1: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST); break;
	case 2: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); break;
	}
}

static inline uint64_t tu_load(const void *p, unsigned size)
{
	switch (size) {
	case 0: return __atomic_load_n((const uint8_t *)p, __ATOMIC_SEQ_CST);
	case 1: return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
	case 2: return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
	default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
	}
}

/* Runs a suite built by make() with Check and returns the process status. */
static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
