/* Locks without a clock (src/internal/clock.c). Where the vDSO cannot serve
 * a clock, clock_gettime is a system call that a seccomp filter may forbid at
 * any moment; the lock paths read the clock to bound their spins and to time
 * the hand-off, and must neither hang nor time out early without it. This
 * suite replaces clock_gettime (the library is linked in statically, so its
 * calls reach the definition below) and makes the fine clocks fail (mode 1:
 * the coarse ones still work), or every clock (mode 2). Without clock.c's
 * fallbacks a spinning locker reads the same uninitialised time over and over
 * and never parks, so these tests hang until Check's timeout. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "f2sync/barrier.h"
#include "f2sync/mutex.h"
#include "f2sync/rwlock.h"
#include "common/testutil.h"

static int broken; /* 0 clocks work, 1 fine clocks fail, 2 all fail */

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	/* relaxed: set_broken's store; a mode, no data hangs on it */
	int mode = __atomic_load_n(&broken, __ATOMIC_RELAXED);
	int coarse = clk == CLOCK_MONOTONIC_COARSE || clk == CLOCK_REALTIME_COARSE;

	if (mode == 2 || (mode == 1 && !coarse)) {
		errno = EPERM; /* as a seccomp filter returning SECCOMP_RET_ERRNO */
		return -1;
	}
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

static void set_broken(int mode)
{
	/* relaxed: read by clock_gettime above; pthread_create and join order
	 * it with the threads that must see it */
	__atomic_store_n(&broken, mode, __ATOMIC_RELAXED);
}

static uint32_t word_of(f2_mutex_t *m)
{
	return __atomic_load_n((uint32_t *)m, __ATOMIC_SEQ_CST);
}

static void *lock_unlock(void *arg)
{
	f2_mutex_t *m = arg;

	ck_assert_int_eq(f2_mutex_lock(m), 0);
	ck_assert_int_eq(f2_mutex_unlock(m), 0);
	return NULL;
}

/* An arrival against a mutex held throughout spins, then marks PARKED (bit
 * 2, docs/design/mutex.md) and sleeps: its spin ends. */
START_TEST(spin_ends)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	pthread_t t;

	set_broken(_i);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, lock_unlock, &m), 0);
	while (!(word_of(&m) & 2u))
		sched_yield();
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	pthread_join(t, NULL);
	set_broken(0);
}
END_TEST

/* A deadline is never guessed without a clock: the kernel's timer ends the
 * wait, not before the deadline and not never. */
START_TEST(timedlock_times_out)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	struct timespec abs = tu_deadline(CLOCK_MONOTONIC, 20 * 1000000LL), after;

	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	set_broken(_i);
	ck_assert_int_eq(f2_mutex_timedlock(&m, &abs, CLOCK_MONOTONIC), ETIMEDOUT);
	set_broken(0);
	clock_gettime(CLOCK_MONOTONIC, &after);
	ck_assert(after.tv_sec > abs.tv_sec ||
	          (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec));
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
}
END_TEST

#define THREADS 6
#define ROUNDS 10000

struct shared {
	f2_mutex_t m;
	f2_barrier_t b;
	f2_rwlock_t rw;
	long count;
	long writes;
};

static void *contend(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(f2_mutex_lock(&s->m), 0);
		s->count++;
		ck_assert_int_eq(f2_mutex_unlock(&s->m), 0);
		if (i % 8 == 0) {
			ck_assert_int_eq(f2_rwlock_wrlock(&s->rw), 0);
			s->writes++;
			ck_assert_int_eq(f2_rwlock_unlock(&s->rw), 0);
		} else {
			ck_assert_int_eq(f2_rwlock_rdlock(&s->rw), 0);
			ck_assert_int_eq(f2_rwlock_unlock(&s->rw), 0);
		}
		if (i % 1000 == 0) {
			int r = f2_barrier_wait(&s->b);
			ck_assert(r == 0 || r == F2_BARRIER_SERIAL_THREAD);
		}
	}
	return NULL;
}

/* More threads than CPUs on one mutex, one rwlock and one barrier: every
 * acquisition counted, every barrier round completed. */
START_TEST(contended_without_clock)
{
	struct shared s = { F2_MUTEX_INITIALIZER, { 0 }, F2_RWLOCK_INITIALIZER, 0, 0 };
	pthread_t t[THREADS];

	ck_assert_int_eq(f2_barrier_init(&s.b, THREADS), 0);
	set_broken(_i);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, contend, &s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	set_broken(0);
	ck_assert_int_eq(s.count, (long)THREADS * ROUNDS);
	ck_assert_int_eq(s.writes, (long)THREADS * (ROUNDS / 8));
	ck_assert_int_eq(f2_barrier_destroy(&s.b), 0);
}
END_TEST

static Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("no clock");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, spin_ends, 1, 3);
	tcase_add_loop_test(tc, timedlock_times_out, 1, 3);
	tcase_add_loop_test(tc, contended_without_clock, 1, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(clock_suite());
}
