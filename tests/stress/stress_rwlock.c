/* f2_rwlock_t under 2, 8 and 64 threads (more than the cores) for a second
 * each: every call variant mixed; no lost update (the writers' counter equals
 * the sum of their own counts), no torn read, no deadlock (ctest timeout),
 * every thread makes progress. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "f2sync/rwlock.h"
#include "stress_common.h"
#include "common/testutil.h"

struct shared {
	f2_rwlock_t rw;
	long a, b;           /* writers keep a == b */
	long long end;       /* CLOCK_MONOTONIC ns at which to stop */
	int torn;
};

struct worker {
	struct shared *s;
	unsigned id;
	long writes, reads, timeouts, busy;
};

static int take(struct worker *w, int write, int how)
{
	f2_rwlock_t *rw = &w->s->rw;
	struct timespec d;

	switch (how) {
	case 0:
		return write ? f2_rwlock_wrlock(rw) : f2_rwlock_rdlock(rw);
	case 1:
		return write ? f2_rwlock_trywrlock(rw) : f2_rwlock_tryrdlock(rw);
	default:
		d = stress_deadline(how == 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME, 100000);
		return write ? f2_rwlock_timedwrlock(rw, &d, how == 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME)
			     : f2_rwlock_timedrdlock(rw, &d, how == 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME);
	}
}

static void *worker(void *p)
{
	struct worker *w = p;
	struct shared *s = w->s;
	unsigned seed = w->id * 7919u + 1;

	while (stress_now() < s->end) {
		unsigned x = (unsigned)rand_r(&seed);
		int write = x % 4 == 0, how = (int)((x >> 4) % 4);
		int r = take(w, write, how);
		if (r == ETIMEDOUT) {
			w->timeouts++;
			continue;
		}
		if (r == EBUSY) {
			w->busy++;
			continue;
		}
		ck_assert_int_eq(r, 0);
		if (write) {
			s->a++;
			s->b++;
			w->writes++;
		} else {
			if (s->a != s->b)
				__atomic_store_n(&s->torn, 1, __ATOMIC_RELAXED);
			w->reads++;
		}
		ck_assert_int_eq(f2_rwlock_unlock(&s->rw), 0);
	}
	return NULL;
}

START_TEST(stress_rwlock_mixed)
{
	unsigned n = stress_threads[_i];
	static struct shared s;
	static struct worker w[64];
	long writes = 0;

	memset(&s, 0, sizeof s);
	memset(w, 0, sizeof w);
	s.rw = (f2_rwlock_t)F2_RWLOCK_INITIALIZER;
	s.end = stress_now() + STRESS_NS;
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct worker){ &s, i, 0, 0, 0, 0 };
	stress_run(n, worker, w, sizeof w[0]);
	for (unsigned i = 0; i < n; i++) {
		writes += w[i].writes;
		ck_assert_int_gt(w[i].writes + w[i].reads, 0); /* everyone got in */
	}
	ck_assert_int_eq(s.torn, 0);
	ck_assert_int_eq(s.a, writes);
	ck_assert_int_eq(s.b, writes);
	ck_assert_int_eq(f2_rwlock_trywrlock(&s.rw), 0); /* left free */
	ck_assert_int_eq(f2_rwlock_unlock(&s.rw), 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stress_rwlock");
	TCase *tc = tcase_create("mixed");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, stress_rwlock_mixed, 0, 3);
	suite_add_tcase(su, tc);
	return tu_run(su);
}
