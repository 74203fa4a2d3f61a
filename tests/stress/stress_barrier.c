/* f2_barrier_t under 2, 8 and 64 threads (more than the cores) for a second
 * each: rounds back to back; in every round all threads arrive before any
 * leaves and exactly one gets the serial return; no deadlock (ctest timeout). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "f2sync/barrier.h"
#include "stress_common.h"
#include "common/testutil.h"

struct shared {
	f2_barrier_t b;
	unsigned n;
	long long end;
	long arrivals;       /* relaxed; the barrier orders it */
	long serials;
	long rounds;         /* counted by the serial thread */
	int stop;            /* written by the serial thread between two waits */
	int bad;
};

static void *worker(void *p)
{
	struct shared *s = *(struct shared **)p;

	for (long round = 0;; round++) {
		__atomic_add_fetch(&s->arrivals, 1, __ATOMIC_RELAXED);
		int r = f2_barrier_wait(&s->b);
		if (r != 0 && r != F2_BARRIER_SERIAL_THREAD)
			__atomic_store_n(&s->bad, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s->arrivals, __ATOMIC_RELAXED) < (long)s->n * (round + 1))
			__atomic_store_n(&s->bad, 2, __ATOMIC_RELAXED); /* left early */
		if (r == F2_BARRIER_SERIAL_THREAD) {
			__atomic_add_fetch(&s->serials, 1, __ATOMIC_RELAXED);
			s->rounds++;
			if (stress_now() >= s->end)
				__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
		}
		r = f2_barrier_wait(&s->b); /* everyone sees the same stop */
		if (r == F2_BARRIER_SERIAL_THREAD)
			__atomic_add_fetch(&s->serials, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
			break;
	}
	return NULL;
}

START_TEST(stress_barrier_rounds)
{
	static struct shared s;
	struct shared *ptr[64];
	unsigned n = stress_threads[_i];

	memset(&s, 0, sizeof s);
	s.n = n;
	s.end = stress_now() + STRESS_NS;
	ck_assert_int_eq(f2_barrier_init(&s.b, n), 0);
	for (unsigned i = 0; i < n; i++)
		ptr[i] = &s;
	stress_run(n, worker, ptr, sizeof ptr[0]);
	ck_assert_int_eq(s.bad, 0);
	ck_assert_int_gt(s.rounds, 0);
	ck_assert_int_eq(s.serials, 2 * s.rounds);
	ck_assert_int_eq(s.arrivals, (long)n * s.rounds);
	ck_assert_int_eq(f2_barrier_destroy(&s.b), 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stress_barrier");
	TCase *tc = tcase_create("rounds");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, stress_barrier_rounds, 0, 3);
	suite_add_tcase(su, tc);
	return tu_run(su);
}
