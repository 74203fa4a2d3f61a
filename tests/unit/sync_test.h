/* Helpers shared by the sync-layer suites (check_mutex, check_cond,
 * check_placement) and the sync stress tests. */
#ifndef F2_TEST_SYNC_TEST_H
#define F2_TEST_SYNC_TEST_H

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

#include "f2sync/futex2.h"

/* Hidden statistics of the library's test build (f2sync_test, linked
 * statically into the tests; src/internal/test_hooks.h). */
#ifndef F2SYNC_TEST_HOOKS
#error "sync_test.h needs the test build of the library (f2sync_test)"
#endif
extern uint64_t f2_mx_handoffs;
extern uint64_t f2_mx_spins;
extern uint64_t f2_mx_spin_reads;
extern uint64_t f2_mx_spin_yields;
extern uint64_t f2_mx_spin_gap_ns;
extern uint64_t f2_bl_spin_reads;
extern uint64_t f2_rw_spins;
extern uint64_t f2_rw_backoffs;
extern uint64_t f2_cv_requeued;
extern uint64_t f2_cv_spins, f2_cv_spin_seen, f2_cv_spin_ns;
extern uint64_t f2_cd_deferred;
/* Wake and requeue calls that reached a backend while f2_futex_count_wakes
 * is set (futex2_impl.h). */
extern int f2_futex_count_wakes;
extern uint64_t f2_futex_wakes;

/* Wake calls made by fn(arg) (the caller's other threads must be quiet). */
static inline uint64_t wakes_made(void (*fn)(void *), void *arg)
{
	__atomic_store_n(&f2_futex_count_wakes, 1, __ATOMIC_SEQ_CST);
	uint64_t before = __atomic_load_n(&f2_futex_wakes, __ATOMIC_SEQ_CST);
	fn(arg);
	uint64_t n = __atomic_load_n(&f2_futex_wakes, __ATOMIC_SEQ_CST) - before;
	__atomic_store_n(&f2_futex_count_wakes, 0, __ATOMIC_SEQ_CST);
	return n;
}

static inline uint64_t stat_read(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* An absolute deadline ns from now on clk. */
static inline struct timespec deadline_in(clockid_t clk, long long ns)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	long long t = (long long)ts.tv_nsec + ns;
	ts.tv_sec += t / 1000000000LL;
	ts.tv_nsec = t % 1000000000LL;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000LL;
		ts.tv_sec--;
	}
	return ts;
}

static inline int ts_reached(const struct timespec *abs, clockid_t clk)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > abs->tv_sec ||
	       (now.tv_sec == abs->tv_sec && now.tv_nsec >= abs->tv_nsec);
}

static inline pid_t test_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* 1 when thread tid of this process is asleep in the kernel ('S' state).
 * In the sync tests the only place such a thread can sleep is the futex wait
 * being tested. */
static inline int thread_sleeping(pid_t tid)
{
	char path[64], buf[256];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (!(f = fopen(path, "r")))
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* 1 if words of these futex flags can be parked on (some backend serves
 * them): a wait on a mismatching value says -EAGAIN rather than an error. */
static inline int can_park(unsigned flags)
{
	uint64_t pair[2] = { 0, 0 };
	return f2_futex_wait(pair, 1, 1, flags & ~0x04u, NULL, CLOCK_MONOTONIC) == -EAGAIN;
}

/* Waits until tid sleeps (polls; the test's own timeout bounds it). Where no
 * backend can park the word, waiters yield instead of sleeping: then it just
 * gives the thread time to get there. */
static inline void wait_parked(pid_t tid, unsigned flags)
{
	if (!can_park(flags)) {
		usleep(2000);
		return;
	}
	while (!thread_sleeping(tid))
		usleep(200);
}

#endif
